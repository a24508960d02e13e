// shortbus-load: a load generator that speaks the NATS client protocol to
// any server over TCP or a Unix socket (docs/benchmarks.md, "Server:
// shortbusd vs nats-server"). No client library: raw sockets, large batched
// writes, frames parsed in place, one thread per connection role.
//
// usage: shortbus-load SCENARIO --server URL [options]
//   pub      one publisher sends --msgs messages of --size bytes, then PING;
//            the rate is up to the PONG (the server has read everything)
//   pubsub   one publisher, one subscriber; rate = messages received over
//            the time from the first publish to the last message received
//   fanout   one publisher, --subs subscribers (each gets every message)
//   queue    --pubs publishers share --msgs; --members subscribers in one
//            queue group receive them (each message to one member)
//   reqrep   requests to a responder connection, --inflight at a time;
//            latency percentiles of --msgs round trips (after --warmup);
//            with --server2 URL [--label2 NAME]: sequential round trips
//            alternating between the two servers, one result per server
//   idle     opens --conns connections that finish CONNECT/PING/PONG and
//            holds them; with --server-pid reports the server's VmRSS
//            before and after
//   sink     a trivial server for calibration: --listen URL [--port-file F];
//            answers PING, discards everything, and floods --msgs MSG frames
//            of --size bytes to each connection that subscribes
//   jspub    acknowledged publish into a fresh stream (--stream NAME),
//            --inflight unacknowledged (1 = synchronous; --server2 pairs
//            two servers); see bench/load/jetstream.h
//   jsfetch  a stream filled with --msgs, drained by a durable pull
//            consumer in --batch sized pulls, --ack explicit|none
//            (both: --max-seconds S publishes for S seconds at most)
//   pingpong no server: an echo peer in a child process listens on --server
//            (tcp://127.0.0.1:0, unix:PATH); --msgs round trips of --size
//            bytes: the floor of any synchronous reply (bench/load/pingpong.h)
// Options: --label NAME (copied into the JSON), --json (one JSON object on
// stdout instead of the human line), --timeout SECONDS (a read that waits
// longer fails, default 30), --subject S (default bench.load).
#include <sys/resource.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/load/conn.h"
#include "bench/load/jetstream.h"
#include "bench/load/pingpong.h"
#include "bench/load/report.h"

namespace shortbus::load {
namespace {

struct Options {
  std::string scenario;
  std::string server = "tcp://127.0.0.1:4222";
  std::string label;
  std::string server2, label2;  // reqrep --server2: paired with a second server
  std::string subject = "bench.load";
  std::string listen, port_file;
  std::string stream, ack = "explicit";  // jspub, jsfetch
  long msgs = 1000000;
  long size = 128;
  long subs = 4;
  long pubs = 2;
  long members = 3;
  long inflight = 1;
  long warmup = 1000;
  long conns = 10000;
  long server_pid = 0;
  long batch = 500;
  bool warmup_set = false;
  double timeout = 30;
  double max_seconds = 0;  // jspub, jsfetch
  bool json = false;
};

[[noreturn]] void Usage(const std::string& why) {
  Die(why + "\nusage: shortbus-load pub|pubsub|fanout|queue|reqrep|idle|sink|jspub|jsfetch|pingpong "
            "--server URL "
            "[--msgs N] [--size BYTES] [--subs N] [--pubs N] [--members N] [--inflight N] "
            "[--warmup N] [--conns N] [--server-pid PID] [--label NAME] [--json] "
            "[--server2 URL] [--label2 NAME] "
            "[--timeout SECONDS] [--subject S] [--listen URL] [--port-file FILE] "
            "[--stream NAME] [--batch N] [--ack explicit|none] [--max-seconds S]");
}

long ToLong(const std::string& flag, const std::string& v) {
  long x = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || p != v.data() + v.size() || x < 0) Usage("bad value for " + flag + ": " + v);
  return x;
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  std::map<std::string, long*> longs = {
      {"--msgs", &o.msgs},         {"--size", &o.size},       {"--subs", &o.subs},
      {"--pubs", &o.pubs},         {"--members", &o.members}, {"--inflight", &o.inflight},
      {"--warmup", &o.warmup},     {"--conns", &o.conns},     {"--server-pid", &o.server_pid},
      {"--batch", &o.batch}};
  std::map<std::string, std::string*> strings = {
      {"--server", &o.server}, {"--label", &o.label},   {"--subject", &o.subject},
      {"--listen", &o.listen}, {"--port-file", &o.port_file},
      {"--server2", &o.server2}, {"--label2", &o.label2},
      {"--stream", &o.stream},   {"--ack", &o.ack}};
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) {
      if (!o.scenario.empty()) Usage("unexpected argument " + a);
      o.scenario = a;
      continue;
    }
    if (a == "--json") {
      o.json = true;
      continue;
    }
    std::string value;
    size_t eq = a.find('=');
    if (eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      Usage("missing value for " + a);
    }
    if (auto it = longs.find(a); it != longs.end()) {
      *it->second = ToLong(a, value);
      if (a == "--warmup") o.warmup_set = true;
    } else if (auto is = strings.find(a); is != strings.end()) {
      *is->second = value;
    } else if (a == "--timeout") {
      o.timeout = std::atof(value.c_str());
    } else if (a == "--max-seconds") {
      o.max_seconds = std::atof(value.c_str());
    } else {
      Usage("unknown option " + a);
    }
  }
  if (o.scenario.empty()) Usage("no scenario");
  if (o.size < 0 || o.size > (64 << 20)) Usage("--size out of range");
  if (o.msgs < 1 && o.scenario != "idle") Usage("--msgs must be positive");
  if (o.ack != "explicit" && o.ack != "none") Usage("--ack takes explicit or none");
  if (o.batch < 1) Usage("--batch must be positive");
  return o;
}

Report MakeReport(const Options& o, const Address& a, const std::string& name) {
  return Report(o.json, o.scenario, name, o.label, a);
}

Conn Open(const Address& a, const char* name) {
  Conn c = Conn::Dial(a);
  c.Handshake(name);
  return c;
}

// A chunk of whole PUB frames of at least `min_bytes`, so that each write
// of it goes straight to the socket.
std::string Chunk(const std::string& frame, size_t min_bytes, long* frames) {
  *frames = static_cast<long>((min_bytes + frame.size() - 1) / frame.size());
  std::string chunk;
  chunk.reserve(static_cast<size_t>(*frames) * frame.size());
  for (long i = 0; i < *frames; i++) chunk += frame;
  return chunk;
}

void PublishN(Conn& c, const std::string& frame, long n) {
  long per_chunk = 0;
  std::string chunk = Chunk(frame, 256 << 10, &per_chunk);
  for (; n >= per_chunk; n -= per_chunk) c.Write(chunk);
  for (; n > 0; n--) c.Write(frame);
  if (!c.PingPong()) {
    Die(c.name() + ": publisher " + (c.timed_out() ? "timed out waiting for" : "closed before") +
        " the final PONG");
  }
}

// pub, pubsub, fanout and queue: npubs publishers of per_pub messages each,
// nsubs subscribers (in queue group `queue` when not empty).
void RunFlow(const Options& o, const Address& a, const std::string& name, long npubs,
             long nsubs, const std::string& queue, long per_pub) {
  const long published = npubs * per_pub;
  const long expected = queue.empty() ? published * nsubs : published;
  std::vector<Conn> subs;
  for (long i = 0; i < nsubs; i++) {
    subs.push_back(Open(a, "shortbus-load sub"));
    subs.back().Write("SUB " + o.subject + (queue.empty() ? "" : " " + queue) + " 1\r\n");
    if (!subs.back().PingPong()) Die("closed after SUB");
    subs.back().SetReadTimeout(o.timeout);
  }
  std::vector<Conn> pubs;
  for (long i = 0; i < npubs; i++) {
    pubs.push_back(Open(a, "shortbus-load pub"));
    pubs.back().SetReadTimeout(o.timeout);  // for the final PONG
  }

  std::atomic<long> total{0};
  std::atomic<bool> done{nsubs == 0};
  std::atomic<int64_t> first_ns{INT64_MAX};
  Clock::time_point t_done;
  std::vector<long> counts(static_cast<size_t>(nsubs), 0);
  std::vector<std::thread> threads;
  for (long i = 0; i < nsubs; i++) {
    threads.emplace_back([&, i] {
      Conn& c = subs[static_cast<size_t>(i)];
      long count = 0;  // counts[i] at the end: no shared cache line per message
      long pending = 0;
      // The count goes to the shared total every 4096 messages and before
      // each blocking read, not for every message.
      auto publish = [&] {
        if (pending > 0 && total.fetch_add(pending) + pending == expected) {
          t_done = Clock::now();
          done = true;
          for (Conn& s : subs) s.StopReading();
        }
        pending = 0;
      };
      c.OnBlock(publish);
      Frame f;
      while (c.Next(&f)) {
        if (f.kind == Frame::kMsg) {
          if (count++ == 0) {
            int64_t t = Clock::now().time_since_epoch().count();
            int64_t cur = first_ns.load();
            while (t < cur && !first_ns.compare_exchange_weak(cur, t)) {
            }
          }
          if (++pending == 4096) publish();
        } else if (f.kind == Frame::kPing) {
          c.Write("PONG\r\n");
        }
      }
      counts[static_cast<size_t>(i)] = count;
      if (!done) {
        Die(c.name() + ": subscriber " + (c.timed_out() ? "timed out" : "closed by the server") +
            " after " + std::to_string(count) + " messages (" +
            std::to_string(total.load() + pending) + " of " + std::to_string(expected) +
            " in all)");
      }
    });
  }
  const std::string frame = PubFrame(o.subject, "", static_cast<size_t>(o.size));
  std::vector<Clock::time_point> pub_end(static_cast<size_t>(npubs));
  const Clock::time_point t0 = Clock::now();
  std::vector<std::thread> publishers;
  for (long i = 0; i < npubs; i++) {
    publishers.emplace_back([&, i] {
      PublishN(pubs[static_cast<size_t>(i)], frame, per_pub);
      pub_end[static_cast<size_t>(i)] = Clock::now();
    });
  }
  for (auto& t : publishers) t.join();
  for (auto& t : threads) t.join();
  const double pub_s = Seconds(t0, *std::max_element(pub_end.begin(), pub_end.end()));

  Report r = MakeReport(o, a, name);
  r.Int("size", o.size);
  r.Int("pubs", npubs);
  r.Int("subs", nsubs);
  r.Int("published", published);
  r.Num("pub_seconds", pub_s);
  r.Num("pub_msgs_per_s", static_cast<double>(published) / pub_s);
  std::string human = name + " " + a.text + ": published " + std::to_string(published) +
                      Fmt(" x %.0f B at %.3f M msgs/s (%.1f MB/s)", static_cast<double>(o.size),
                          static_cast<double>(published) / pub_s / 1e6,
                          static_cast<double>(published * o.size) / pub_s / 1e6);
  double rate = static_cast<double>(published) / pub_s;
  if (nsubs > 0) {
    const double s = Seconds(t0, t_done);
    const double window = Seconds(Clock::time_point(Clock::duration(first_ns.load())), t_done);
    rate = static_cast<double>(expected) / s;
    auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
    r.Int("received", expected);
    r.Num("seconds", s);
    r.Num("sub_window_msgs_per_s", static_cast<double>(expected) / window);
    r.Int("min_per_sub", *lo);
    r.Int("max_per_sub", *hi);
    human += Fmt("; received %.0f at %.3f M msgs/s (%.1f MB/s) first publish to last receipt,"
                 " %.3f M msgs/s first to last receipt",
                 static_cast<double>(expected), rate / 1e6,
                 rate * static_cast<double>(o.size) / 1e6,
                 static_cast<double>(expected) / window / 1e6);
    if (nsubs > 1) human += Fmt(" (per subscriber %.0f..%.0f)", static_cast<double>(*lo),
                                static_cast<double>(*hi));
  }
  r.Num("msgs_per_s", rate);
  r.Num("mb_per_s", rate * static_cast<double>(o.size) / 1e6);
  r.Print(human);
}

// A requester and a responder connection to one server; the responder
// answers on its own thread until the session is destroyed.
class ReqRepSession {
 public:
  ReqRepSession(const Options& o, const Address& a)
      : o_(o),
        payload_(std::string(static_cast<size_t>(o.size), 'x') + "\r\n"),
        size_crlf_(" " + std::to_string(o.size) + "\r\n"),
        head_("PUB " + o.subject + ".req _INBOX.load."),
        sent_(static_cast<size_t>(o.warmup + o.msgs)) {
    responder_ = Open(a, "shortbus-load responder");
    responder_.Write("SUB " + o.subject + ".req 1\r\n");
    if (!responder_.PingPong()) Die("responder closed after SUB");
    requester_ = Open(a, "shortbus-load requester");
    requester_.Write("SUB _INBOX.load.* 1\r\n");
    if (!requester_.PingPong()) Die("requester closed after SUB");
    requester_.SetReadTimeout(o.timeout);
    lat_us_.reserve(static_cast<size_t>(o.msgs));
    thread_ = std::thread([this] {
      Frame f;
      while (responder_.Next(&f)) {
        if (f.kind == Frame::kMsg && !f.reply.empty()) {
          responder_.Write("PUB ");
          responder_.Write(f.reply);
          responder_.Write(size_crlf_);
          responder_.Write(payload_);
        } else if (f.kind == Frame::kPing) {
          responder_.Write("PONG\r\n");
        }
      }
      if (!done_) Die("responder closed by the server");
    });
  }
  ~ReqRepSession() {
    done_ = true;
    responder_.StopReading();
    thread_.join();
  }

  // Sends request `id` (written at the next flush: before the next read).
  void Send(long id) {
    sent_[static_cast<size_t>(id)] = Clock::now();
    requester_.Write(head_);
    requester_.Write(std::to_string(id));
    requester_.Write(size_crlf_);
    requester_.Write(payload_);
  }
  // Waits for the next reply and records its latency (after the warm-up).
  void Receive() {
    Frame f;
    for (;;) {
      if (!requester_.Next(&f)) {
        Die("requester " + std::string(requester_.timed_out() ? "timed out" : "closed") +
            " after " + std::to_string(lat_us_.size()) + " measured replies");
      }
      if (f.kind == Frame::kPing) requester_.Write("PONG\r\n");
      if (f.kind == Frame::kMsg) break;
    }
    const Clock::time_point now = Clock::now();
    long id = -1;
    size_t dot = f.subject.rfind('.');
    if (dot != std::string_view::npos) {
      std::from_chars(f.subject.data() + dot + 1, f.subject.data() + f.subject.size(), id);
    }
    if (id < 0 || id >= static_cast<long>(sent_.size())) {
      Die("reply on unexpected subject " + std::string(f.subject));
    }
    if (id >= o_.warmup) {
      if (id == o_.warmup) t_start_ = sent_[static_cast<size_t>(id)];
      lat_us_.push_back(
          std::chrono::duration<double, std::micro>(now - sent_[static_cast<size_t>(id)]).count());
    }
    t_end_ = now;
  }

  // One result line for this session's measured round trips.
  void Print(const Address& a, const std::string& name, const std::string& label) {
    std::sort(lat_us_.begin(), lat_us_.end());
    auto pct = [&](double p) {
      size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(lat_us_.size()));
      return lat_us_[std::min(i, lat_us_.size() - 1)];
    };
    double mean = 0;
    for (double x : lat_us_) mean += x;
    mean /= static_cast<double>(lat_us_.size());
    const double rate = static_cast<double>(lat_us_.size()) / Seconds(t_start_, t_end_);
    Options o = o_;
    o.label = label;
    Report r = MakeReport(o, a, name);
    r.Int("size", o.size);
    r.Int("inflight", o.inflight);
    r.Int("requests", static_cast<long>(lat_us_.size()));
    r.Num("msgs_per_s", rate);
    r.Num("mean_us", mean);
    r.Num("p50_us", pct(50));
    r.Num("p90_us", pct(90));
    r.Num("p99_us", pct(99));
    r.Num("p999_us", pct(99.9));
    r.Num("max_us", lat_us_.back());
    r.Print(name + " " + a.text +
            Fmt(": %.0f requests, %.0f in flight, ", static_cast<double>(lat_us_.size()),
                static_cast<double>(o.inflight)) +
            Fmt("%.0f round trips/s; latency us p50 %.1f", rate, pct(50)) +
            Fmt(" p90 %.1f p99 %.1f p99.9 %.1f", pct(90), pct(99), pct(99.9)) +
            Fmt(" max %.1f mean %.1f", lat_us_.back(), mean));
  }

 private:
  const Options& o_;
  const std::string payload_, size_crlf_, head_;
  Conn responder_, requester_;
  std::thread thread_;
  std::atomic<bool> done_{false};
  std::vector<Clock::time_point> sent_;
  std::vector<double> lat_us_;
  Clock::time_point t_start_{}, t_end_{};
};

void RunReqRep(const Options& o, const Address& a, const std::string& name) {
  ReqRepSession s(o, a);
  const long total = o.warmup + o.msgs;
  long next = 0;
  for (; next < std::min(total, std::max(1L, o.inflight)); next++) s.Send(next);
  for (long received = 0; received < total; received++) {
    s.Receive();
    if (next < total) s.Send(next++);
  }
  s.Print(a, name, o.label);
}

// Sequential round trips alternating between two servers (--server2): one
// to each in turn, the first of each pair alternating too, so that both
// see the same moments of a shared machine. One result line per server.
void RunReqRepPaired(const Options& o, const Address& a, const Address& b, const std::string& name) {
  ReqRepSession sa(o, a), sb(o, b);
  for (long id = 0; id < o.warmup + o.msgs; id++) {
    ReqRepSession& first = id % 2 ? sb : sa;
    ReqRepSession& second = id % 2 ? sa : sb;
    first.Send(id);
    first.Receive();
    second.Send(id);
    second.Receive();
  }
  sa.Print(a, name, o.label);
  sb.Print(b, name, o.label2);
}

void RaiseFileLimit(long want) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur >= static_cast<rlim_t>(want)) return;
  rl.rlim_cur = static_cast<rlim_t>(want);
  if (rl.rlim_max < rl.rlim_cur) rl.rlim_max = rl.rlim_cur;  // needs root
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    Die("cannot raise RLIMIT_NOFILE to " + std::to_string(want) + ": " + std::strerror(errno));
  }
}

// VmRSS of a process in KiB, or -1.
long RssKiB(long pid) {
  if (pid <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

void RunIdle(const Options& o, const Address& a, const std::string& name) {
  RaiseFileLimit(o.conns + 256);
  const long before = RssKiB(o.server_pid);
  std::vector<Conn> conns;
  conns.reserve(static_cast<size_t>(o.conns));
  const Clock::time_point t0 = Clock::now();
  const long batch = 256;
  for (long i = 0; i < o.conns; i += batch) {
    size_t first = conns.size();
    for (long j = i; j < std::min(o.conns, i + batch); j++) {
      conns.push_back(Conn::Dial(a, 4096, 1024));
      conns.back().SendConnect("shortbus-load idle");
    }
    for (size_t j = first; j < conns.size(); j++) {
      conns[j].SetReadTimeout(o.timeout);
      if (!conns[j].WaitPong()) Die("idle connection " + std::to_string(j) + " got no PONG");
    }
  }
  const double s = Seconds(t0, Clock::now());
  const long after = RssKiB(o.server_pid);
  Report r = MakeReport(o, a, name);
  r.Int("conns", o.conns);
  r.Num("seconds", s);
  std::string human = name + " " + a.text + Fmt(": %.0f connections open in %.2f s",
                                                static_cast<double>(o.conns), s);
  if (o.server_pid > 0) {
    r.Int("rss_before_kib", before);
    r.Int("rss_after_kib", after);
    r.Num("bytes_per_conn", o.conns ? static_cast<double>(after - before) * 1024.0 / static_cast<double>(o.conns) : 0);
    human += Fmt("; server VmRSS %.1f MiB idle, %.1f MiB with them (%.0f bytes each)",
                 static_cast<double>(before) / 1024.0, static_cast<double>(after) / 1024.0,
                 o.conns ? static_cast<double>(after - before) * 1024.0 / static_cast<double>(o.conns) : 0);
  }
  r.Print(human);
}

// The calibration sink: one thread per connection.
void SinkConn(int fd, long flood_msgs, long size) {
  static const char kInfo[] =
      "INFO {\"server_id\":\"shortbus-load-sink\",\"server_name\":\"sink\",\"version\":\"0.0.0\","
      "\"proto\":1,\"headers\":false,\"max_payload\":67108864}\r\n";
  auto write_all = [fd](const char* p, size_t n) {
    while (n > 0) {
      ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  };
  std::string msg = "MSG " + std::string("bench.load") + " 1 " + std::to_string(size) + "\r\n" +
                    std::string(static_cast<size_t>(size), 'x') + "\r\n";
  long per_chunk = 0;
  std::string chunk = Chunk(msg, 256 << 10, &per_chunk);
  bool subscribed = false, flooded = false;
  std::vector<char> buf(1 << 20);
  std::string carry;  // the last bytes of the previous read, for split tokens
  auto count = [](std::string_view hay, std::string_view needle, size_t before) {
    long n = 0;  // matches starting before `before`
    for (size_t p = hay.find(needle); p != std::string_view::npos && p < before;
         p = hay.find(needle, p + 1)) {
      n++;
    }
    return n;
  };
  if (!write_all(kInfo, sizeof(kInfo) - 1)) {
    close(fd);
    return;
  }
  for (;;) {
    ssize_t r = recv(fd, buf.data(), buf.size(), 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    std::string_view data(buf.data(), static_cast<size_t>(r));
    // A client that sends PING (or SUB) then waits for the PONG: both are in
    // the last bytes of what it sent, so a large read (a publisher's
    // stream) is only scanned at its end.
    if (data.size() > 4096) data = data.substr(data.size() - 4096);
    std::string edge = carry + std::string(data.substr(0, 8));
    long pings = count(edge, "PING\r\n", carry.size()) + count(data, "PING\r\n", data.size());
    if (!subscribed) {
      subscribed = count(edge, "SUB ", carry.size()) + count(data, "SUB ", data.size()) > 0;
    }
    carry = std::string(data.substr(data.size() > 8 ? data.size() - 8 : 0));
    for (long i = 0; i < pings; i++) {
      if (!write_all("PONG\r\n", 6)) break;
    }
    if (subscribed && pings > 0 && !flooded) {
      flooded = true;
      long n = flood_msgs;
      for (; n >= per_chunk; n -= per_chunk) {
        if (!write_all(chunk.data(), chunk.size())) break;
      }
      for (; n > 0 && n < per_chunk; n--) {
        if (!write_all(msg.data(), msg.size())) break;
      }
    }
  }
  close(fd);
}

void RunSink(const Options& o) {
  if (o.listen.empty()) Usage("sink needs --listen");
  Address a = ParseAddress(o.listen);
  sockaddr_storage sa;
  socklen_t len;
  int fd = OpenSocket(a, &sa, &len);
  int one = 1;
  if (!a.unix_socket) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0) {
    Die("bind " + a.text + ": " + std::strerror(errno));
  }
  std::string port;
  if (!a.unix_socket) {
    getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    port = std::to_string(ntohs(reinterpret_cast<sockaddr_in*>(&sa)->sin_port));
  }
  if (listen(fd, 4096) != 0) Die(std::string("listen: ") + std::strerror(errno));
  if (!o.port_file.empty()) {
    std::string tmp = o.port_file + ".tmp";
    std::ofstream(tmp) << (port.empty() ? a.path : port) << "\n";
    if (rename(tmp.c_str(), o.port_file.c_str()) != 0) Die("rename " + tmp);
  }
  for (;;) {
    int c = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      Die(std::string("accept: ") + std::strerror(errno));
    }
    std::thread(SinkConn, c, o.msgs, o.size).detach();
  }
}

int Main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  Options o = ParseArgs(argc, argv);
  if (o.scenario == "sink") {
    RunSink(o);
    return 0;
  }
  Address a = ParseAddress(o.server);
  const std::string size = std::to_string(o.size);
  std::string name;
  if (o.scenario == "pub" || o.scenario == "pubsub") {
    name = o.scenario + "/" + size;
  } else if (o.scenario == "fanout") {
    name = "fanout/1to" + std::to_string(o.subs) + "/" + size;
  } else if (o.scenario == "queue") {
    if (o.pubs < 1 || o.members < 1) Usage("queue needs --pubs and --members >= 1");
    name = "queue/" + std::to_string(o.pubs) + "to" + std::to_string(o.members) + "/" + size;
  } else if (o.scenario == "reqrep" && !o.server2.empty()) {
    if (o.inflight != 1) Usage("--server2 takes sequential requests only (--inflight 1)");
    name = "reqrep/" + size + "/paired";
  } else if (o.scenario == "reqrep") {
    name = "reqrep/" + size + "/inflight" + std::to_string(o.inflight);
  } else if (o.scenario == "idle") {
    name = "idle/" + std::to_string(o.conns);
  } else if (o.scenario == "jspub") {
    if (!o.server2.empty() && o.inflight != 1) Usage("--server2 takes --inflight 1 only");
    name = "jspub/" + size + (o.server2.empty() ? "/inflight" + std::to_string(o.inflight)
                                                : std::string("/paired"));
  } else if (o.scenario == "jsfetch") {
    name = "jsfetch/" + size + "/batch" + std::to_string(o.batch) + "/ack-" + o.ack;
  } else if (o.scenario == "pingpong") {
    name = "pingpong/" + size;
  } else {
    Usage("unknown scenario " + o.scenario);
  }
  if (o.json) SetErrorJson(MakeReport(o, a, name).Open());
  if (o.scenario == "pub") {
    RunFlow(o, a, name, 1, 0, "", o.msgs);
  } else if (o.scenario == "pubsub") {
    RunFlow(o, a, name, 1, 1, "", o.msgs);
  } else if (o.scenario == "fanout") {
    RunFlow(o, a, name, 1, o.subs, "", o.msgs);
  } else if (o.scenario == "queue") {
    RunFlow(o, a, name, o.pubs, o.members, "q", o.msgs / o.pubs);
  } else if (o.scenario == "reqrep" && !o.server2.empty()) {
    RunReqRepPaired(o, a, ParseAddress(o.server2), name);
  } else if (o.scenario == "reqrep") {
    RunReqRep(o, a, name);
  } else if (o.scenario == "jspub" || o.scenario == "jsfetch") {
    JsOptions j;
    j.json = o.json;
    j.scenario = o.scenario;
    j.label = o.label;
    j.label2 = o.label2;
    j.stream = !o.stream.empty() ? o.stream
               : o.scenario == "jsfetch" ? "BENCH_FETCH"
               : o.inflight == 1         ? "BENCH_SYNC"
                                         : "BENCH_ASYNC";
    j.msgs = o.msgs;
    j.size = o.size;
    j.inflight = o.inflight;
    j.warmup = o.warmup_set ? o.warmup : (o.scenario == "jspub" && o.inflight == 1 ? 100 : 0);
    j.batch = o.batch;
    j.ack_explicit = o.ack == "explicit";
    j.timeout = o.timeout;
    j.max_seconds = o.max_seconds;
    if (o.scenario == "jsfetch") {
      if (o.inflight == 1) j.inflight = 256;  // the fill's window unless given
      RunJsFetch(j, a, name);
    } else if (!o.server2.empty()) {
      RunJsPubPaired(j, a, ParseAddress(o.server2), name);
    } else {
      RunJsPub(j, a, name);
    }
  } else if (o.scenario == "pingpong") {
    PingPongOptions p;
    p.msgs = o.msgs;
    p.size = o.size;
    p.warmup = o.warmup_set ? o.warmup : 100;
    p.timeout = o.timeout;
    RunPingPong(p, a, MakeReport(o, a, name));
  } else {
    RunIdle(o, a, name);
  }
  return 0;
}

}  // namespace
}  // namespace shortbus::load

int main(int argc, char** argv) { return shortbus::load::Main(argc, argv); }
