#include "server/human_verbs.h"

#include <array>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/absl_view.h"
#include "server/js_time.h"
#include "server/time_text.h"
#include "server/msg_line.h"
#include "server/session.h"
#include "server/subject.h"

namespace shortbus::server {
namespace {

enum HumanVerb : uint16_t {
  kHelp = kFirstExtensionVerb,
  kStreams,
  kStream,
  kAddStream,
  kReplay,
  kConsumer,
};

// Every verb takes up to kMaxArgs words; each checks its own.
constexpr std::array<VerbSpec, 6> kHumanVerbs = {{
    {"HELP", kHelp, VerbShape::kLine, 0, 8},
    {"STREAMS", kStreams, VerbShape::kLine, 0, 8},
    {"STREAM", kStream, VerbShape::kLine, 0, 8},
    {"ADDSTREAM", kAddStream, VerbShape::kLine, 0, 8},
    {"REPLAY", kReplay, VerbShape::kLine, 0, 8},
    {"CONSUMER", kConsumer, VerbShape::kLine, 0, 8},
}};

constexpr uint64_t kDefaultReplay = 1000;
constexpr uint64_t kMaxReplay = 100000;
// A REPLAY stops once this much is queued for the connection.
constexpr size_t kMaxReplayBytes = size_t{16} << 20;

constexpr char kHelpLine[] =
    "+HELP verbs: STREAMS | STREAM <name> | ADDSTREAM <name> <subject>[,<subject>...] [max_msgs=N] "
    "[max_bytes=N] [max_age=DUR] [retention=limits|workqueue|interest] [sync=always|interval|never] "
    "[discard=old|new] | REPLAY <stream> <sid> [from=SEQ|since=TIME|last=N] [subject=FILTER] [max=N] | "
    "CONSUMER <stream> <name> | and the NATS verbs PUB HPUB SUB UNSUB PING\r\n";

void Err(Session& s, std::string_view why) {
  // Quotes inside the text would end the quoted message early.
  std::string text(why);
  for (char& c : text) {
    if (c == '\'') c = '"';
  }
  s.Send(absl::StrCat("-ERR '", text, "'\r\n"));
}

std::string Time(int64_t ns) { return ns == 0 ? "-" : FormatJsTime(ns); }

// key=value words after the first `skip` arguments.
bool Options(const Frame& f, size_t skip, std::vector<std::pair<std::string, std::string>>* out,
             std::string* bad) {
  for (size_t i = skip; i < f.argc; ++i) {
    const std::string_view a = f.args[i];
    const size_t eq = a.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      *bad = std::string(a);
      return false;
    }
    out->emplace_back(std::string(a.substr(0, eq)), std::string(a.substr(eq + 1)));
  }
  return true;
}

// The JetStream API subject a verb stands for: a client must be allowed to
// publish to it, as it would to make the same request through the API
// (docs/protocol.md, "Authorization"). Empty: nothing to check (HELP, or a
// usage error that touches no stream).
std::string ApiSubject(const Frame& f) {
  switch (f.verb) {
    case kStreams: return "$JS.API.STREAM.LIST";
    case kStream: return f.argc < 1 ? "" : absl::StrCat("$JS.API.STREAM.INFO.", Av(f.args[0]));
    case kAddStream: return f.argc < 1 ? "" : absl::StrCat("$JS.API.STREAM.CREATE.", Av(f.args[0]));
    case kReplay: return f.argc < 1 ? "" : absl::StrCat("$JS.API.STREAM.MSG.GET.", Av(f.args[0]));
    case kConsumer:
      return f.argc < 2 ? "" : absl::StrCat("$JS.API.CONSUMER.INFO.", Av(f.args[0]), ".", Av(f.args[1]));
    default: return "";
  }
}

}  // namespace

absl::Span<const VerbSpec> HumanVerbs::Verbs() const { return kHumanVerbs; }

bool HumanVerbs::OnVerb(Session& session, const Frame& frame) {
  if (frame.verb == kHelp) {
    session.Send(kHelpLine);
    return true;
  }
  if (js_ == nullptr) {
    Err(session, "streams are not available on this server");
    return true;
  }
  if (session.permissions() != nullptr) {
    const std::string api = ApiSubject(frame);
    if (!api.empty() && !session.PermitPublish(api)) return true;
  }
  switch (frame.verb) {
    case kStreams: Streams(session); break;
    case kStream: Stream(session, frame); break;
    case kAddStream: AddStream(session, frame); break;
    case kReplay: Replay(session, frame); break;
    case kConsumer: Consumer(session, frame); break;
    default: Err(session, "Unknown Protocol Operation"); break;
  }
  return true;
}

void HumanVerbs::Streams(Session& session) {
  const std::vector<std::string> names = js_->StreamNames();
  std::string line = absl::StrCat("+STREAMS ", names.size());
  for (const std::string& n : names) {
    JetStream::StreamSummary s;
    if (!js_->Summarize(n, &s)) continue;
    absl::StrAppend(&line, " ", n, "(", absl::StrJoin(s.subjects, ","), ": ", s.messages, " msgs)");
  }
  session.Send(line + "\r\n");
}

void HumanVerbs::Stream(Session& session, const Frame& frame) {
  if (frame.argc != 1) return Err(session, "usage: STREAM <name>");
  JetStream::StreamSummary s;
  if (!js_->Summarize(std::string(frame.args[0]), &s)) {
    return Err(session, absl::StrCat("stream not found: ", Av(frame.args[0])));
  }
  Json info = Json::parse(js_->StreamInfoJson(s.name), nullptr, false);
  const Json& cfg = info.is_object() ? info["config"] : Json();
  auto field = [&](const char* k) -> std::string {
    if (!cfg.is_object() || !cfg.contains(k)) return "-";
    return cfg[k].is_string() ? cfg[k].get<std::string>() : DumpJson(cfg[k]);
  };
  session.Send(absl::StrCat("+STREAM ", s.name, " subjects=", absl::StrJoin(s.subjects, ","),
                            " messages=", s.messages, " bytes=", s.bytes, " first_seq=", s.first_seq,
                            " first_time=", Time(s.first_ts), " last_seq=", s.last_seq,
                            " last_time=", Time(s.last_ts), " consumers=", s.consumers,
                            " retention=", field("retention"), " sync=", field("sync"),
                            " max_msgs=", field("max_msgs"), " max_bytes=", field("max_bytes"),
                            " max_age_ns=", field("max_age"), " discard=", field("discard"), "\r\n"));
}

void HumanVerbs::AddStream(Session& session, const Frame& frame) {
  if (frame.argc < 2) return Err(session, "usage: ADDSTREAM <name> <subject>[,<subject>...] [key=value...]");
  const std::string name(frame.args[0]);
  Json cfg;
  cfg["name"] = name;
  std::vector<std::string> subjects = absl::StrSplit(Av(frame.args[1]), ',', absl::SkipEmpty());
  cfg["subjects"] = subjects;
  std::vector<std::pair<std::string, std::string>> opts;
  std::string bad;
  if (!Options(frame, 2, &opts, &bad)) return Err(session, absl::StrCat("expected key=value, got: ", bad));
  for (const auto& [k, v] : opts) {
    if (k == "max_msgs" || k == "max_bytes" || k == "max_msgs_per_subject" || k == "max_msg_size") {
      int64_t n;
      if (!absl::SimpleAtoi(v, &n)) return Err(session, absl::StrCat(k, " must be a number"));
      cfg[k] = n;
    } else if (k == "max_age" || k == "duplicate_window" || k == "sync_interval") {
      absl::Duration d;
      if (!absl::ParseDuration(v, &d) || d < absl::ZeroDuration()) {
        return Err(session, absl::StrCat(k, " must be a duration like 90s, 10m, 24h"));
      }
      cfg[k] = absl::ToInt64Nanoseconds(d);
    } else if (k == "retention" || k == "sync" || k == "discard" || k == "storage" || k == "description") {
      cfg[k] = v;
    } else {
      return Err(session, absl::StrCat("unknown option ", k));
    }
  }
  Json out = Json::parse(js_->CreateStreamJson(name, DumpJson(cfg)), nullptr, false);
  if (!out.is_object()) return Err(session, "internal error");
  if (out.contains("error")) return Err(session, out["error"].value("description", std::string("error")));
  session.Send(absl::StrCat("+STREAM ", name, " created subjects=", absl::StrJoin(subjects, ","), "\r\n"));
}

void HumanVerbs::Replay(Session& session, const Frame& frame) {
  if (frame.argc < 2) {
    return Err(session, "usage: REPLAY <stream> <sid> [from=SEQ|since=TIME|last=N] [subject=FILTER] [max=N]");
  }
  const std::string stream(frame.args[0]);
  const Subscription* sub = session.FindSubscription(frame.args[1]);
  if (sub == nullptr) return Err(session, absl::StrCat("no subscription with sid ", Av(frame.args[1]), " (SUB first)"));
  std::vector<std::pair<std::string, std::string>> opts;
  std::string bad;
  if (!Options(frame, 2, &opts, &bad)) return Err(session, absl::StrCat("expected key=value, got: ", bad));
  JetStream::ReadStart start;
  start.seq = 1;
  std::string filter;
  uint64_t max = kDefaultReplay;
  int starts = 0;
  for (const auto& [k, v] : opts) {
    if (k == "from") {
      ++starts;
      if (!absl::SimpleAtoi(v, &start.seq) || start.seq == 0) return Err(session, "from must be a sequence >= 1");
    } else if (k == "since") {
      ++starts;
      absl::StatusOr<absl::Time> t = ParseTimeArg(v, absl::Now());
      if (!t.ok()) return Err(session, "since must be an RFC 3339 time or a duration like 10m, 2h, 1d");
      start.seq = 0;
      start.since_ns = absl::ToUnixNanos(*t);
    } else if (k == "last") {
      ++starts;
      if (!absl::SimpleAtoi(v, &start.last_n) || start.last_n == 0) return Err(session, "last must be a number >= 1");
      start.seq = 0;
    } else if (k == "subject") {
      if (!IsValidSubscribeSubject(v)) return Err(session, "subject is not a valid subject filter");
      filter = v;
    } else if (k == "max") {
      if (!absl::SimpleAtoi(v, &max) || max == 0 || max > kMaxReplay) {
        return Err(session, absl::StrCat("max must be 1..", kMaxReplay));
      }
    } else {
      return Err(session, absl::StrCat("unknown option ", k));
    }
  }
  if (starts > 1) return Err(session, "give one of from=, since=, last=");
  if (start.last_n > max) max = start.last_n;
  // A client that sends REPLAYs and reads nothing: each REPLAY of one input
  // slice would queue its answer before the transport could cut it.
  if (session.OutputFull()) return Err(session, "your unread output is full: read it, then REPLAY again");
  const bool headers = session.options().headers;
  std::vector<char> line(MsgLineCapacity(4096 + 256));
  uint64_t sent = 0, first = 0, last = 0;
  size_t bytes = 0;
  absl::StatusOr<uint64_t> next = js_->ReadStored(stream, start, filter, max, [&](const engine::Record& rec) {
    const bool with_headers = headers && !rec.headers.empty();
    const std::string_view l =
        FormatMsgLine(line.data(), rec.subject, sub->sid, {},
                      with_headers ? static_cast<long>(rec.headers.size()) : -1,
                      (with_headers ? rec.headers.size() : 0) + rec.payload.size());
    std::string frame_bytes(l);
    if (with_headers) frame_bytes.append(rec.headers);
    frame_bytes.append(rec.payload);
    frame_bytes.append("\r\n");
    session.Send(frame_bytes);
    if (first == 0) first = rec.sequence;
    last = rec.sequence;
    ++sent;
    bytes += frame_bytes.size();
    return bytes < kMaxReplayBytes && !session.OutputFull();
  });
  if (!next.ok()) return Err(session, std::string(next.status().message()));
  JetStream::StreamSummary s;
  js_->Summarize(stream, &s);
  session.Send(absl::StrCat("+REPLAY ", stream, " ", sent, " messages", sent ? absl::StrCat(" ", first, "..", last) : "",
                            *next <= s.last_seq ? absl::StrCat(" more: REPLAY ", stream, " ", Av(frame.args[1]),
                                                               " from=", *next)
                                                : " (end of stream)",
                            "\r\n"));
}

void HumanVerbs::Consumer(Session& session, const Frame& frame) {
  if (frame.argc != 2) return Err(session, "usage: CONSUMER <stream> <name>");
  Json info = Json::parse(js_->ConsumerInfoJson(std::string(frame.args[0]), std::string(frame.args[1])), nullptr, false);
  if (!info.is_object()) return Err(session, "internal error");
  if (info.contains("error")) return Err(session, info["error"].value("description", std::string("error")));
  const Json& cfg = info["config"];
  auto num = [&](const Json& j, const char* a, const char* b) -> std::string {
    return j.contains(a) && j[a].contains(b) ? DumpJson(j[a][b]) : "0";
  };
  session.Send(absl::StrCat(
      "+CONSUMER ", Av(frame.args[0]), " ", Av(frame.args[1]),
      " kind=", cfg.contains("deliver_subject") ? "push" : "pull",
      " durable=", cfg.contains("durable_name") ? "yes" : "no",
      " filter=", cfg.value("filter_subject", std::string("-")),
      " ack=", cfg.value("ack_policy", std::string("-")),
      " delivered_stream_seq=", num(info, "delivered", "stream_seq"),
      " ack_floor_stream_seq=", num(info, "ack_floor", "stream_seq"),
      " ack_pending=", info.value("num_ack_pending", 0), " redelivered=", info.value("num_redelivered", 0),
      " pending=", info.value("num_pending", 0), " waiting=", info.value("num_waiting", 0), "\r\n"));
}

}  // namespace shortbus::server
