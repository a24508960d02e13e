#include "tools/read_verb.h"

#include <cstring>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tools/js_api.h"
#include "tools/js_message.h"
#include "server/time_text.h"
#include "tools/verb_common.h"

namespace shortbus::tools {

using server::ParseTimeArg;
using server::FormatRfc3339;

const char kReadUsage[] =
    "usage: shortbus read STREAM [--from SEQ | --since TIME | --last N] [--subject FILTER]\n"
    "                     [--follow] [--json] [--server URL]\n"
    "\n"
    "Prints STREAM's messages in order, one a line: SUBJECT PAYLOAD (bytes that are not\n"
    "printable as \\xNN). --json prints one object a line: stream, seq, time (RFC 3339),\n"
    "subject, headers (when any), size, data (or data_base64 when not UTF-8).\n"
    "  --from SEQ        start at stream sequence SEQ (default: the first message)\n"
    "  --since TIME      start at the first message stored at or after TIME: RFC 3339\n"
    "                    (2024-05-01T12:00:00Z) or how long ago (30s, 10m, 2h, 1d)\n"
    "  --last N          start N messages before the end (of those matching --subject)\n"
    "  --subject FILTER  only messages whose subject matches FILTER (wildcards * and >)\n"
    "  --follow          after the stored messages, print new ones as they are stored,\n"
    "                    without a gap or a duplicate, until interrupted or the output\n"
    "                    is closed (`| head -n 5` ends it)\n"
    "Exit 0 printed (or the output was closed), 1 error, 2 nothing to read (without --follow).\n";

namespace {

constexpr absl::Duration kHeartbeat = absl::Seconds(2);
// How often a wait for messages looks whether the output was closed.
constexpr absl::Duration kOutputCheck = absl::Milliseconds(100);
// Output is flushed at least this often during a replay, and always once
// caught up (pending 0).
constexpr uint64_t kFlushEvery = 256;

class StreamReader {
 public:
  StreamReader(JsApi* api, LineOutput* out, std::string stream, Json base, bool follow, bool json)
      : api_(api), out_(out), stream_(std::move(stream)), base_(std::move(base)), follow_(follow), json_(json) {}

  // Starts the consumer at the deliver policy in `config`; returns its
  // num_pending (matching messages from the start on).
  absl::StatusOr<uint64_t> Start(Json config);
  // Finds where --last N starts and starts there.
  absl::StatusOr<uint64_t> StartLast(uint64_t n);
  // Prints until done; returns the exit code.
  int Run();
  // Removes the consumer (best effort: the server also drops an ephemeral
  // one whose deliver subject lost its subscriber).
  void Stop();

  // --since: a server may start a by_start_time consumer at a message
  // stored before the time asked (nats-server 2.9 does when no message is
  // as recent); those are skipped here.
  void SetMinTime(absl::Time t) { min_time_ns_ = absl::ToUnixNanos(t); }

 private:
  // A fresh consumer just after the last stream sequence seen.
  absl::Status Restart();
  // The exit code once printing ends (a write failed or all is printed).
  int Finish();

  JsApi* api_;
  LineOutput* out_;
  const std::string stream_;
  const Json base_;  // consumer config without deliver subject and start
  const bool follow_, json_;
  uint64_t sid_ = 0;
  std::string consumer_;
  uint64_t last_cseq_ = 0;  // of the current consumer
  uint64_t last_sseq_ = 0;  // last stream sequence delivered (printed or skipped)
  uint64_t skip_ = 0;       // leading deliveries not to print (--last)
  int64_t min_time_ns_ = 0; // deliveries stored before this are not printed (--since)
  uint64_t printed_ = 0;
  uint64_t unflushed_ = 0;
  Json first_config_;
};

absl::StatusOr<uint64_t> StreamReader::Start(Json config) {
  NatsClient* c = api_->client();
  const std::string inbox = c->NewInbox();
  absl::StatusOr<uint64_t> sid = c->Subscribe(inbox);
  if (!sid.ok()) return sid.status();
  sid_ = *sid;
  last_cseq_ = 0;
  config["deliver_subject"] = inbox;
  if (first_config_.is_null()) first_config_ = config;
  absl::StatusOr<Json> r =
      api_->Request(absl::StrCat("CONSUMER.CREATE.", stream_), {{"stream_name", stream_}, {"config", config}});
  if (!r.ok()) return r.status();
  consumer_ = r->value("name", "");
  return r->value("num_pending", uint64_t{0});
}

absl::StatusOr<uint64_t> StreamReader::StartLast(uint64_t n) {
  absl::StatusOr<Json> info = api_->Request(absl::StrCat("STREAM.INFO.", stream_));
  if (!info.ok()) return info.status();
  const Json state = info->value("state", Json::object());
  const uint64_t last = state.value("last_seq", uint64_t{0});
  const uint64_t first = std::max<uint64_t>(state.value("first_seq", uint64_t{0}), 1);
  const uint64_t messages = state.value("messages", uint64_t{0});
  uint64_t window = n;
  while (true) {
    Json config = base_;
    config["deliver_policy"] = "by_start_sequence";
    const uint64_t start = messages == 0 ? last + 1 : (last >= first + window ? last - window + 1 : first);
    config["opt_start_seq"] = start;
    absl::StatusOr<uint64_t> pending = Start(config);
    if (!pending.ok()) return pending;
    if (*pending >= n || start <= first || messages == 0) {
      skip_ = *pending > n ? *pending - n : 0;
      return *pending;
    }
    Stop();  // too few from there: look further back
    first_config_ = nullptr;
    window = window > (uint64_t{1} << 62) ? last : window * 2;
  }
}

void StreamReader::Stop() {
  if (sid_ != 0) (void)api_->client()->Unsubscribe(sid_);
  sid_ = 0;
  if (!consumer_.empty()) (void)api_->Request(absl::StrCat("CONSUMER.DELETE.", stream_, ".", consumer_));
  consumer_.clear();
}

absl::Status StreamReader::Restart() {
  Stop();
  Json config = first_config_;
  if (last_sseq_ > 0) {
    config = base_;
    config["deliver_policy"] = "by_start_sequence";
    config["opt_start_seq"] = last_sseq_ + 1;
  }
  config.erase("deliver_subject");
  return Start(config).status();
}

int StreamReader::Finish() {
  out_->Flush();
  Stop();
  if (out_->error() != 0) return Fail("read", absl::InternalError(absl::StrCat("stdout: ", std::strerror(out_->error()))));
  return 0;
}

int StreamReader::Run() {
  absl::Time last_heard = absl::Now();
  while (true) {
    if (out_->ReaderGone()) return Finish();
    absl::StatusOr<ClientMessage> m = api_->NextMessage(kOutputCheck);
    if (absl::IsDeadlineExceeded(m.status())) {
      if (unflushed_ > 0) {
        if (!out_->Flush()) return Finish();
        unflushed_ = 0;
      }
      if (absl::Now() - last_heard > 3 * kHeartbeat) {
        // No delivery and no heartbeat: the consumer is gone (or its
        // deliveries are); carry on from a fresh one.
        if (absl::Status s = Restart(); !s.ok()) return Fail("read", s);
        last_heard = absl::Now();
      }
      continue;
    }
    if (!m.ok()) return Fail("read", m.status());
    if (m->sid != sid_) continue;  // an earlier consumer's
    last_heard = absl::Now();
    if (m->status == 100) {
      if (!m->reply.empty()) {  // flow control: answering lets the server send on
        (void)api_->client()->Publish(m->reply, "", "", "");
        continue;
      }
      // Idle heartbeat.
      if (std::optional<std::string> stalled = HeaderValue(m->headers, "Nats-Consumer-Stalled")) {
        (void)api_->client()->Publish(*stalled, "", "", "");
      }
      uint64_t server_cseq = 0;
      if (std::optional<std::string> v = HeaderValue(m->headers, "Nats-Last-Consumer");
          v && absl::SimpleAtoi(*v, &server_cseq) && server_cseq > last_cseq_) {
        if (absl::Status s = Restart(); !s.ok()) return Fail("read", s);
        continue;
      }
      if (!follow_) {
        // Idle: nothing left unless the server says otherwise.
        absl::StatusOr<Json> info = api_->Request(absl::StrCat("CONSUMER.INFO.", stream_, ".", consumer_));
        if (!info.ok()) return Fail("read", info.status());
        if (info->value("num_pending", uint64_t{0}) == 0) {
          const int code = Finish();
          return code != 0 ? code : printed_ > 0 ? 0 : 2;
        }
      }
      continue;
    }
    if (m->status != 0) {
      Stop();
      return Fail("read", absl::UnavailableError(absl::StrCat("the server says: ", m->status, " ",
                                                               StatusDescription(m->headers))));
    }
    std::optional<DeliveryInfo> d = ParseDeliveryReply(m->reply);
    if (!d) {
      Stop();
      return Fail("read", absl::UnavailableError(absl::StrCat("not a JetStream delivery (reply '", m->reply, "')")));
    }
    if (d->consumer_seq != last_cseq_ + 1) {  // a delivery went missing
      if (absl::Status s = Restart(); !s.ok()) return Fail("read", s);
      continue;
    }
    last_cseq_ = d->consumer_seq;
    last_sseq_ = d->stream_seq;
    if (skip_ > 0) {
      --skip_;
    } else if (d->time_ns < min_time_ns_) {
      // before --since
    } else {
      const bool flush = d->pending == 0 || ++unflushed_ >= kFlushEvery;
      if (!out_->Write(json_ ? DeliveredJson(*m, *d, false) : DeliveredText(*m), flush)) return Finish();
      if (flush) unflushed_ = 0;
      ++printed_;
    }
    if (!follow_ && d->pending == 0) {
      const int code = Finish();
      return code != 0 ? code : printed_ > 0 ? 0 : 2;
    }
  }
}

}  // namespace

int RunRead(const std::vector<std::string>& args) {
  std::optional<VerbArgs> a = ParseOrUsage("read", args, {"--server", "--from", "--since", "--last", "--subject"},
                                           {"--follow", "--json"}, 1, 1, kReadUsage);
  if (!a) return 1;
  const int starts = (a->Has("--from") ? 1 : 0) + (a->Has("--since") ? 1 : 0) + (a->Has("--last") ? 1 : 0);
  if (starts > 1) return Fail("read", absl::InvalidArgumentError("--from, --since and --last exclude each other"));
  Json base = {{"ack_policy", "none"},
                         {"flow_control", true},
                         {"idle_heartbeat", absl::ToInt64Nanoseconds(kHeartbeat)}};
  if (a->Has("--subject")) base["filter_subject"] = a->Value("--subject");
  Json config = base;
  config["deliver_policy"] = "all";
  uint64_t last_n = 0;
  std::optional<absl::Time> since;
  if (a->Has("--from")) {
    absl::StatusOr<uint64_t> seq = a->Count("--from", 0);
    if (!seq.ok()) return Fail("read", seq.status());
    if (*seq == 0) return Fail("read", absl::InvalidArgumentError("--from 0: sequences start at 1"));
    config["deliver_policy"] = "by_start_sequence";
    config["opt_start_seq"] = *seq;
  } else if (a->Has("--since")) {
    absl::StatusOr<absl::Time> t = ParseTimeArg(a->Value("--since"), absl::Now());
    if (!t.ok()) return Fail("read", absl::InvalidArgumentError(absl::StrCat("--since ", t.status().message())));
    config["deliver_policy"] = "by_start_time";
    config["opt_start_time"] = FormatRfc3339(*t);
    since = *t;
  } else if (a->Has("--last")) {
    absl::StatusOr<uint64_t> n = a->Count("--last", 0);
    if (!n.ok()) return Fail("read", n.status());
    if (*n == 0) return Fail("read", absl::InvalidArgumentError("--last 0: nothing to read"));
    last_n = *n;
  }
  auto client = DialServer(*a);
  if (!client.ok()) return Fail("read", client.status());
  JsApi api(client->get());
  LineOutput out;
  StreamReader reader(&api, &out, a->positional[0], base, a->Has("--follow"), a->Has("--json"));
  if (since) reader.SetMinTime(*since);
  absl::StatusOr<uint64_t> pending = last_n > 0 ? reader.StartLast(last_n) : reader.Start(config);
  if (!pending.ok()) {
    reader.Stop();
    return Fail("read", pending.status());
  }
  if (*pending == 0 && !a->Has("--follow")) {
    reader.Stop();
    return 2;
  }
  return reader.Run();
}

}  // namespace shortbus::tools
