#include "bench/load/jetstream.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/load/report.h"

namespace shortbus::load {
namespace {

constexpr long kExpiresNs = 5'000'000'000;

// The number after `"key"` and a colon in a JSON text (spaces allowed); the
// first occurrence only. False when absent or not a non-negative integer.
bool JsonInt(std::string_view json, std::string_view key, long* out) {
  const std::string quoted = "\"" + std::string(key) + "\"";
  size_t p = json.find(quoted);
  if (p == std::string_view::npos) return false;
  p += quoted.size();
  while (p < json.size() && (json[p] == ' ' || json[p] == ':')) p++;
  auto [end, ec] = std::from_chars(json.data() + p, json.data() + json.size(), *out);
  return ec == std::errc() && end != json.data() + p;
}

// The string after `"key"` and a colon, without escapes; "" when absent.
std::string_view JsonStr(std::string_view json, std::string_view key) {
  const std::string quoted = "\"" + std::string(key) + "\"";
  size_t p = json.find(quoted);
  if (p == std::string_view::npos) return {};
  p += quoted.size();
  while (p < json.size() && (json[p] == ' ' || json[p] == ':')) p++;
  if (p >= json.size() || json[p] != '"') return {};
  size_t e = json.find('"', p + 1);
  return e == std::string_view::npos ? std::string_view() : json.substr(p + 1, e - p - 1);
}

// Whether some `"key":"value"` (spaces allowed around the colon) occurs.
bool JsonHas(std::string_view json, std::string_view key, std::string_view value) {
  const std::string quoted = "\"" + std::string(key) + "\"";
  for (size_t p = json.find(quoted); p != std::string_view::npos; p = json.find(quoted, p + 1)) {
    if (JsonStr(json.substr(p), key) == value) return true;
  }
  return false;
}

// The number after the last '.' of a subject, or -1.
long LastToken(std::string_view subject) {
  size_t dot = subject.rfind('.');
  long id = -1;
  if (dot == std::string_view::npos) return -1;
  auto [end, ec] = std::from_chars(subject.data() + dot + 1, subject.data() + subject.size(), id);
  return ec == std::errc() && end == subject.data() + subject.size() ? id : -1;
}

// The status line of an HMSG header block ("NATS/1.0 408 Request Timeout"),
// or "" for a message without a status.
std::string_view StatusLine(const Frame& f) {
  std::string_view h = f.headers;
  size_t eol = h.find("\r\n");
  std::string_view first = h.substr(0, eol);
  return first.size() > 9 ? first : std::string_view();
}

double Micros(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// One connection with its three inboxes, and the stream it publishes into.
// Inboxes: _INBOX.<pid>_<client>.{api,ack,pull}.<n> (sids 1, 2, 3), unique
// to the client, so that two clients may share a server.
class JsClient {
 public:
  JsClient(const Address& a, const JsOptions& o)
      : o_(o), address_(a), payload_(std::string(static_cast<size_t>(o.size), 'x') + "\r\n") {
    static int clients = 0;
    const std::string inbox =
        "_INBOX." + std::to_string(getpid()) + "_" + std::to_string(clients++) + ".";
    api_inbox_ = inbox + "api.";
    ack_inbox_ = inbox + "ack.";
    pull_inbox_ = inbox + "pull.";
    stream_ = o.stream;
    subject_ = "bench.";
    for (char c : stream_) subject_ += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    conn_ = Conn::Dial(a);
    conn_.Handshake("shortbus-load jetstream", /*headers=*/true);
    conn_.Write("SUB " + api_inbox_ + "* 1\r\nSUB " + ack_inbox_ + "* 2\r\nSUB " + pull_inbox_ +
                "* 3\r\n");
    if (!conn_.PingPong()) Die(a.text + ": closed after SUB");
    conn_.SetReadTimeout(o.timeout);
    pub_head_ = "PUB " + subject_ + " " + ack_inbox_;
    size_crlf_ = " " + std::to_string(o.size) + "\r\n";
  }

  const std::string& stream() const { return stream_; }
  const std::string& subject() const { return subject_; }
  Conn& conn() { return conn_; }
  const std::string& pull_inbox() const { return pull_inbox_; }

  // A request on the JetStream API; returns the response payload. Dies on
  // a status (no responders: no JetStream), a timeout, or, unless
  // `allow_error`, a response with an "error" member.
  std::string Api(const std::string& subject, const std::string& body, bool allow_error = false) {
    const long id = api_id_++;
    conn_.Write("PUB " + subject + " " + api_inbox_ + std::to_string(id) + " " +
                std::to_string(body.size()) + "\r\n" + body + "\r\n");
    Frame f;
    for (;;) {
      if (!conn_.Next(&f)) {
        Die(address_.text + ": no response to " + subject + " " + body + " within " +
            Fmt("%.0f s", o_.timeout));
      }
      if (f.kind == Frame::kPing) conn_.Write("PONG\r\n");
      if (f.kind != Frame::kMsg) continue;
      if (f.subject.substr(0, api_inbox_.size()) != api_inbox_ || LastToken(f.subject) != id) {
        Die(address_.text + ": unexpected message on " + std::string(f.subject) +
            " while waiting for the response to " + subject);
      }
      break;
    }
    if (!StatusLine(f).empty()) {
      Die(address_.text + ": " + subject + " " + body + " answered by status \"" +
          std::string(StatusLine(f)) + "\" (no JetStream?)");
    }
    std::string response(f.payload);
    if (!allow_error && response.find("\"error\"") != std::string::npos) {
      Die(address_.text + ": " + subject + " " + body + " -> " + response);
    }
    return response;
  }

  void CreateStream() {
    const std::string body = "{\"name\":\"" + stream_ + "\",\"subjects\":[\"" + subject_ +
                             "\"],\"storage\":\"file\"}";
    std::string r = Api("$JS.API.STREAM.CREATE." + stream_, body);
    if (!JsonHas(r, "name", stream_)) {
      Die(address_.text + ": $JS.API.STREAM.CREATE." + stream_ + " " + body +
          " -> no config with the stream's name: " + r);
    }
  }
  void DeleteStream() {
    std::string r = Api("$JS.API.STREAM.DELETE." + stream_, "");
    if (r.find("\"success\":true") == std::string::npos &&
        r.find("\"success\": true") == std::string::npos) {
      Die(address_.text + ": $JS.API.STREAM.DELETE." + stream_ + " -> " + r);
    }
  }

  // Queues publish `id` (written at the next flush: before the next read).
  void Publish(long id) {
    conn_.Write(pub_head_);
    conn_.Write(std::to_string(id));
    conn_.Write(size_crlf_);
    conn_.Write(payload_);
  }
  // Reads the next publish acknowledgement; returns its request id after
  // checking that it names the stream and sequence `first_seq + id`.
  long ReadAck(long first_seq, long waiting) {
    Frame f;
    for (;;) {
      if (!conn_.Next(&f)) {
        Die(address_.text + ": " + (conn_.timed_out() ? "no publish ack within " +
                                                            Fmt("%.0f s", o_.timeout)
                                                      : std::string("closed")) +
            " (" + std::to_string(waiting) + " publishes on " + subject_ + " awaiting acks)");
      }
      if (f.kind == Frame::kPing) conn_.Write("PONG\r\n");
      if (f.kind == Frame::kMsg) break;
    }
    const long id = LastToken(f.subject);
    auto req = [&] {  // the publish this frame answers, for error messages
      return "PUB " + subject_ + " " + std::string(f.subject) + " " + std::to_string(o_.size);
    };
    if (!StatusLine(f).empty()) {
      Die(address_.text + ": " + req() + " answered by status \"" + std::string(StatusLine(f)) + "\"");
    }
    if (f.subject.substr(0, ack_inbox_.size()) != ack_inbox_ || id < 0) {
      Die(address_.text + ": message on " + std::string(f.subject) + " while waiting for acks: " +
          std::string(f.payload));
    }
    long seq = -1;
    if (f.payload.find("\"error\"") != std::string_view::npos || !JsonInt(f.payload, "seq", &seq) ||
        JsonStr(f.payload, "stream") != stream_ || seq != first_seq + id ||
        f.payload.find("\"duplicate\"") != std::string_view::npos) {
      Die(address_.text + ": " + req() + " -> " + std::string(f.payload) + " (expected stream " +
          stream_ + ", seq " + std::to_string(first_seq + id) + ")");
    }
    return id;
  }

 private:
  const JsOptions& o_;
  Address address_;
  Conn conn_;
  std::string stream_, subject_, pub_head_, size_crlf_;
  std::string api_inbox_, ack_inbox_, pull_inbox_;
  const std::string payload_;
  long api_id_ = 0;
};

// The instant after which runs publish nothing new (--max-seconds from
// `start`; never when 0).
Clock::time_point Deadline(const JsOptions& o, Clock::time_point start) {
  if (o.max_seconds <= 0) return Clock::time_point::max();
  return start + std::chrono::duration_cast<Clock::duration>(
                     std::chrono::duration<double>(o.max_seconds));
}

// Publishes ids [0, total) with `window` unacknowledged at most, sending no
// id >= `min` after `deadline`; returns how many were published (all of
// them acknowledged). sent[id] and acked[id] are stamped (either may be null).
long PublishWindow(JsClient& c, long total, long window, long min, Clock::time_point deadline,
                   std::vector<Clock::time_point>* sent, std::vector<Clock::time_point>* acked) {
  long next = 0;
  auto send = [&] {
    if (sent) (*sent)[static_cast<size_t>(next)] = Clock::now();
    c.Publish(next++);
  };
  while (next < std::min(total, std::max(1L, window))) send();
  for (long received = 0; received < next; received++) {
    long id = c.ReadAck(1, next - received);
    if (acked) (*acked)[static_cast<size_t>(id)] = Clock::now();
    if (next < total && (next < min || Clock::now() < deadline)) send();
  }
  return next;
}

}  // namespace

void RunJsPub(const JsOptions& o, const Address& a, const std::string& name) {
  JsClient c(a, o);
  c.CreateStream();
  const long total = o.warmup + o.msgs;
  std::vector<Clock::time_point> sent(static_cast<size_t>(total)), acked(static_cast<size_t>(total));
  // The deadline counts from the start, warm-up included.
  const long published = PublishWindow(c, total, o.inflight, o.warmup + 1,
                                       Deadline(o, Clock::now()), &sent, &acked);
  const long measured = published - o.warmup;
  Latencies lat;
  lat.Reserve(static_cast<size_t>(measured));
  for (long id = o.warmup; id < published; id++) {
    lat.Add(Micros(sent[static_cast<size_t>(id)], acked[static_cast<size_t>(id)]));
  }
  const Clock::time_point last =
      *std::max_element(acked.begin() + o.warmup, acked.begin() + published);
  const double s = Seconds(sent[static_cast<size_t>(o.warmup)], last);
  c.DeleteStream();
  Report r(o.json, o.scenario, name, o.label, a);
  r.Int("size", o.size);
  r.Int("inflight", o.inflight);
  r.Int("msgs", measured);
  r.Num("seconds", s);
  r.Num("msgs_per_s", static_cast<double>(measured) / s);
  std::string human = lat.AddTo(&r);
  r.Print(name + " " + a.text +
          Fmt(": %.0f acknowledged publishes, %.0f in flight, %.0f acks/s; ",
              static_cast<double>(measured), static_cast<double>(o.inflight),
              static_cast<double>(measured) / s) +
          human);
}

void RunJsPubPaired(const JsOptions& o, const Address& a, const Address& b,
                    const std::string& name) {
  JsOptions ob = o;  // a stream of its own, should both be one server (A/A)
  ob.stream += "_B";
  JsClient ca(a, o), cb(b, ob);
  ca.CreateStream();
  cb.CreateStream();
  Latencies la, lb;
  la.Reserve(static_cast<size_t>(o.msgs));
  lb.Reserve(static_cast<size_t>(o.msgs));
  const Clock::time_point deadline = Deadline(o, Clock::now());
  for (long id = 0; id < o.warmup + o.msgs; id++) {
    if (id > o.warmup && Clock::now() >= deadline) break;
    // Which server goes first alternates, so neither always follows the other.
    for (int k = 0; k < 2; k++) {
      const bool on_a = (id % 2 == 0) == (k == 0);
      JsClient& c = on_a ? ca : cb;
      const Clock::time_point t = Clock::now();
      c.Publish(id);
      c.ReadAck(1, 1);
      if (id >= o.warmup) (on_a ? la : lb).Add(Micros(t, Clock::now()));
    }
  }
  ca.DeleteStream();
  cb.DeleteStream();
  for (int k = 0; k < 2; k++) {
    Latencies& l = k == 0 ? la : lb;
    const Address& addr = k == 0 ? a : b;
    Report r(o.json, o.scenario, name, k == 0 ? o.label : o.label2, addr);
    r.Int("size", o.size);
    r.Int("inflight", 1);
    r.Int("msgs", static_cast<long>(l.size()));
    // Paired: the rate is 1 / mean round trip, the other server's time excluded.
    const double rate = static_cast<double>(l.size()) / (l.Sum() / 1e6);
    r.Num("msgs_per_s", rate);
    std::string human = l.AddTo(&r);
    r.Print(name + " " + addr.text +
            Fmt(": %.0f synchronous acknowledged publishes (paired), %.0f acks/s of its own time; ",
                static_cast<double>(l.size()), rate) +
            human);
  }
}

void RunJsFetch(const JsOptions& o, const Address& a, const std::string& name) {
  JsClient c(a, o);
  c.CreateStream();
  const Clock::time_point f0 = Clock::now();
  const Clock::time_point f0_deadline = Deadline(o, f0);
  const long stored =
      PublishWindow(c, o.msgs, std::max(1L, o.inflight), 1, f0_deadline, nullptr, nullptr);
  const double fill_s = Seconds(f0, Clock::now());

  const std::string consumer = "PULL";
  const std::string create = "{\"stream_name\":\"" + c.stream() +
                             "\",\"config\":{\"durable_name\":\"" + consumer +
                             "\",\"deliver_policy\":\"all\",\"ack_policy\":\"" +
                             (o.ack_explicit ? "explicit" : "none") +
                             "\",\"max_ack_pending\":65536}}";
  const std::string api = "." + c.stream() + "." + consumer;
  std::string r0 = c.Api("$JS.API.CONSUMER.DURABLE.CREATE" + api, create);
  if (!JsonHas(r0, "name", consumer)) {
    Die(a.text + ": $JS.API.CONSUMER.DURABLE.CREATE" + api + " " + create +
        " -> no consumer named " + consumer + ": " + r0);
  }
  const std::string next_subject = "$JS.API.CONSUMER.MSG.NEXT" + api;
  Conn& conn = c.conn();
  long received = 0, pulls = 0;
  const Clock::time_point t0 = Clock::now();
  while (received < stored) {
    const long want = std::min(o.batch, stored - received);
    const std::string body = "{\"batch\":" + std::to_string(want) +
                             ",\"expires\":" + std::to_string(kExpiresNs) + "}";
    conn.Write("PUB " + next_subject + " " + c.pull_inbox() + std::to_string(pulls++) +
               " " + std::to_string(body.size()) + "\r\n" + body + "\r\n");
    for (long got = 0; got < want;) {
      Frame f;
      if (!conn.Next(&f)) {
        Die(a.text + ": " + (conn.timed_out() ? "timed out" : "closed") + " after " +
            std::to_string(got) + " of the " + std::to_string(want) + " messages of " +
            next_subject + " " + body + " (" + std::to_string(received) + " before it)");
      }
      if (f.kind == Frame::kPing) conn.Write("PONG\r\n");
      if (f.kind != Frame::kMsg) continue;
      std::string_view status = StatusLine(f);
      if (!status.empty()) {
        if (status.substr(9, 3) == "100") continue;  // idle heartbeat
        Die(a.text + ": " + next_subject + " " + body + " answered by status \"" +
            std::string(status) + "\" after " + std::to_string(got) + " of its messages (" +
            std::to_string(received) + " before it, " + std::to_string(stored) + " stored)");
      }
      // $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>,
      // or the 12-token form with domain and account hash after $JS.ACK.
      std::string_view rep = f.reply;
      std::string_view tok[13];
      size_t ntok = 0;
      for (size_t p = 0; ntok < 13;) {
        size_t d = rep.find('.', p);
        tok[ntok++] = rep.substr(p, d == std::string_view::npos ? d : d - p);
        if (d == std::string_view::npos) break;
        p = d + 1;
      }
      long sseq = -1;
      const size_t at = ntok == 9 ? 5 : (ntok == 11 || ntok == 12) ? 7 : 0;
      if (at) std::from_chars(tok[at].data(), tok[at].data() + tok[at].size(), sseq);
      if (at == 0 || tok[0] != "$JS" || tok[1] != "ACK" || sseq != received + got + 1 ||
          f.subject != c.subject() ||
          f.payload.size() != static_cast<size_t>(o.size)) {
        Die(a.text + ": message " + std::to_string(received + got + 1) + " of the stream, for " +
            next_subject + " " + body + ", came as \"" + std::string(f.line) +
            "\" (expected subject " + c.subject() + ", reply $JS.ACK... with stream sequence " +
            std::to_string(received + got + 1) + " and " + std::to_string(o.size) +
            " payload bytes)");
      }
      if (o.ack_explicit) {
        conn.Write("PUB ");
        conn.Write(rep);
        conn.Write(" 4\r\n+ACK\r\n");
      }
      got++;
    }
    received += want;
  }
  const double s = Seconds(t0, Clock::now());
  if (!conn.PingPong()) Die(a.text + ": closed after the last ack");

  // Everything delivered, and under explicit acks everything acknowledged:
  // the server may apply acks after the PONG, so poll (bounded).
  std::string info, check = "ok";
  long ack_pending = -1, pending = -1;
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(5);
  for (;;) {
    info = c.Api("$JS.API.CONSUMER.INFO" + api, "");
    if (!JsonInt(info, "num_ack_pending", &ack_pending)) ack_pending = 0;  // omitted when 0
    if (!JsonInt(info, "num_pending", &pending)) pending = 0;
    if ((ack_pending == 0 && pending == 0) || Clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (ack_pending != 0 || pending != 0) {
    check = "after " + std::to_string(stored) + (o.ack_explicit ? " +ACKs" : " deliveries") +
            ", $JS.API.CONSUMER.INFO" + api + " still said num_ack_pending " +
            std::to_string(ack_pending) + ", num_pending " + std::to_string(pending) +
            " 5 s later: " + info;
    std::fprintf(stderr, "shortbus-load: %s: %s\n", a.text.c_str(), check.c_str());
  }
  c.DeleteStream();

  Report r(o.json, o.scenario, name, o.label, a);
  r.Int("size", o.size);
  r.Int("msgs", stored);
  r.Int("batch", o.batch);
  r.Str("ack", o.ack_explicit ? "explicit" : "none");
  r.Int("pulls", pulls);
  r.Num("seconds", s);
  r.Num("msgs_per_s", static_cast<double>(stored) / s);
  r.Num("fill_msgs_per_s", static_cast<double>(stored) / fill_s);
  r.Str("check", check);
  r.Print(name + " " + a.text +
          Fmt(": fetched %.0f messages in batches of %.0f at %.0f msgs/s", static_cast<double>(stored),
              static_cast<double>(o.batch), static_cast<double>(stored) / s) +
          (o.ack_explicit ? " (each +ACKed)" : " (ack none)") +
          Fmt("; filled at %.0f acks/s", static_cast<double>(stored) / fill_s) +
          (check == "ok" ? "" : "; CHECK FAILED: " + check));
}

}  // namespace shortbus::load
