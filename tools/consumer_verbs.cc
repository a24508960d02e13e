#include "tools/consumer_verbs.h"

#include <cstdio>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "tools/js_api.h"
#include "tools/js_verb.h"
#include "tools/js_message.h"
#include "server/time_text.h"
#include "tools/verb_common.h"
#include "server/json_text.h"

namespace shortbus::tools {

using server::ParseDurationArg;
using server::ParseTimeArg;
using server::FormatRfc3339;
using server::FormatDurationArg;

const char kConsumerUsage[] =
    "usage: shortbus consumer add STREAM NAME [OPTIONS] [--json]\n"
    "       shortbus consumer ls STREAM [--json]\n"
    "       shortbus consumer info STREAM NAME [--json]\n"
    "       shortbus consumer next STREAM NAME [--count N] [--timeout D] [--no-ack] [--json]\n"
    "       shortbus consumer rm STREAM NAME\n"
    "(all take --server URL)\n"
    "\n"
    "add     creates the durable consumer NAME on STREAM (pull, unless --deliver-subject).\n"
    "        Creating it again with the same options changes nothing. OPTIONS:\n"
    "  --filter SUBJECT          only messages whose subject matches (wildcards * and >)\n"
    "  --deliver all|last|new|last-per-subject   where it starts (default all)\n"
    "  --from SEQ                start at stream sequence SEQ\n"
    "  --since TIME              start at TIME: RFC 3339, or how long ago (10m, 2h, 1d)\n"
    "  --ack explicit|none|all   acknowledgement policy (default explicit)\n"
    "  --ack-wait DURATION       redeliver a message not acknowledged within this (default 30s)\n"
    "  --max-deliver N           deliver a message at most N times\n"
    "  --max-ack-pending N       at most N messages delivered and not yet acknowledged\n"
    "  --deliver-subject SUBJECT a push consumer: the server sends the messages there\n"
    "  --deliver-group GROUP     (push) the queue group that shares them\n"
    "ls      one line a consumer: NAME, pull/push, pending, awaiting ack, redelivered, filter\n"
    "info    a consumer's configuration and state\n"
    "next    fetches up to --count N messages (default 1) from a pull consumer, prints them\n"
    "        one a line as `shortbus read` does (SUBJECT PAYLOAD; --json: one object with\n"
    "        stream, seq, time, subject, headers, size, data, delivered), and acknowledges\n"
    "        each once printed, waiting for the server to confirm (--no-ack: leaves them\n"
    "        to be redelivered after the ack wait). Takes what is there; when nothing is,\n"
    "        waits up to --timeout D (default 1s; 0: do not wait).\n"
    "rm      deletes the consumer\n"
    "--json  add, info: the consumer's info object; ls: one such object a line\n"
    "Exit 0 done, 1 error (the server's description on stderr), 2 next: no message.\n";

namespace {

using json = Json;

std::string Num(const json& o, const char* key) {
  if (!o.contains(key) || !o[key].is_number_integer()) return "-";
  const int64_t v = o[key].get<int64_t>();
  return v < 0 ? "unlimited" : absl::StrCat(v);
}

std::string Pair(const json& o, const char* key) {
  const json p = o.value(key, json::object());
  return absl::StrCat("consumer seq ", Num(p, "consumer_seq"), ", stream seq ", Num(p, "stream_seq"));
}

std::string Mode(const json& config) {
  if (!config.contains("deliver_subject")) return "pull";
  std::string m = absl::StrCat("push to ", Str(config, "deliver_subject"));
  if (config.contains("deliver_group")) absl::StrAppend(&m, " (group ", Str(config, "deliver_group"), ")");
  return m;
}

void PrintInfo(const json& info) {
  const json config = info.value("config", json::object());
  std::printf("consumer    %s on stream %s, %s\n", Str(info, "name").c_str(), Str(info, "stream_name").c_str(),
              Mode(config).c_str());
  std::printf("filter      %s\n", Str(config, "filter_subject", "all subjects").c_str());
  std::string deliver = Str(config, "deliver_policy", "all");
  if (config.contains("opt_start_seq")) absl::StrAppend(&deliver, " from seq ", Num(config, "opt_start_seq"));
  if (config.contains("opt_start_time")) absl::StrAppend(&deliver, " from ", Str(config, "opt_start_time"));
  std::printf("deliver     %s\n", deliver.c_str());
  const std::string wait = config.contains("ack_wait") && config["ack_wait"].is_number_integer()
                               ? FormatDurationArg(absl::Nanoseconds(config["ack_wait"].get<int64_t>()))
                               : "-";
  std::printf("ack         %s, wait %s, max deliver %s, max ack pending %s\n", Str(config, "ack_policy").c_str(),
              wait.c_str(), Num(config, "max_deliver").c_str(), Num(config, "max_ack_pending").c_str());
  std::printf("created     %s\n", Str(info, "created").c_str());
  std::printf("delivered   %s\n", Pair(info, "delivered").c_str());
  std::printf("ack floor   %s\n", Pair(info, "ack_floor").c_str());
  std::printf("pending     %s to deliver, %s awaiting ack, %s redelivered\n", Num(info, "num_pending").c_str(),
              Num(info, "num_ack_pending").c_str(), Num(info, "num_redelivered").c_str());
}

absl::StatusOr<json> AddConfig(const VerbArgs& a) {
  json config = {{"durable_name", a.positional[1]}, {"ack_policy", "explicit"}, {"deliver_policy", "all"}};
  const int starts = (a.Has("--deliver") ? 1 : 0) + (a.Has("--from") ? 1 : 0) + (a.Has("--since") ? 1 : 0);
  if (starts > 1) return absl::InvalidArgumentError("--deliver, --from and --since exclude each other");
  if (a.Has("--deliver")) {
    if (absl::Status s = OneOf(a, "--deliver", {"all", "last", "new", "last-per-subject"}); !s.ok()) return s;
    const std::string d = a.Value("--deliver");
    config["deliver_policy"] = d == "last-per-subject" ? "last_per_subject" : d;
  }
  if (a.Has("--from")) {
    absl::StatusOr<uint64_t> seq = a.Count("--from", 0);
    if (!seq.ok()) return seq.status();
    if (*seq == 0) return absl::InvalidArgumentError("--from 0: sequences start at 1");
    config["deliver_policy"] = "by_start_sequence";
    config["opt_start_seq"] = *seq;
  }
  if (a.Has("--since")) {
    absl::StatusOr<absl::Time> t = ParseTimeArg(a.Value("--since"), absl::Now());
    if (!t.ok()) return absl::InvalidArgumentError(absl::StrCat("--since ", t.status().message()));
    config["deliver_policy"] = "by_start_time";
    config["opt_start_time"] = FormatRfc3339(*t);
  }
  if (a.Has("--filter")) config["filter_subject"] = a.Value("--filter");
  if (a.Has("--ack")) {
    if (absl::Status s = OneOf(a, "--ack", {"explicit", "none", "all"}); !s.ok()) return s;
    config["ack_policy"] = a.Value("--ack");
  }
  if (a.Has("--ack-wait")) {
    absl::StatusOr<absl::Duration> d = ParseDurationArg(a.Value("--ack-wait"));
    if (!d.ok()) return absl::InvalidArgumentError(absl::StrCat("--ack-wait ", d.status().message()));
    config["ack_wait"] = absl::ToInt64Nanoseconds(*d);
  }
  for (const char* flag : {"--max-deliver", "--max-ack-pending"}) {
    if (!a.Has(flag)) continue;
    const std::string f(flag);
    int64_t v = -1;
    if (a.Value(f) != "-1" && a.Value(f) != "unlimited") {
      absl::StatusOr<uint64_t> n = a.Count(f, 0);
      if (!n.ok()) return n.status();
      v = static_cast<int64_t>(*n);
    }
    config[f == "--max-deliver" ? "max_deliver" : "max_ack_pending"] = v;
  }
  if (a.Has("--deliver-group") && !a.Has("--deliver-subject")) {
    return absl::InvalidArgumentError("--deliver-group needs --deliver-subject (a push consumer)");
  }
  if (a.Has("--deliver-subject")) config["deliver_subject"] = a.Value("--deliver-subject");
  if (a.Has("--deliver-group")) config["deliver_group"] = a.Value("--deliver-group");
  return config;
}

int RunAdd(JsApi* api, const VerbArgs& a) {
  absl::StatusOr<json> config = AddConfig(a);
  if (!config.ok()) return Fail("consumer add", config.status());
  const std::string& stream = a.positional[0];
  absl::StatusOr<json> r = api->Request(absl::StrCat("CONSUMER.DURABLE.CREATE.", stream, ".", a.positional[1]),
                                        {{"stream_name", stream}, {"config", *config}});
  if (r.ok() && !a.Has("--json")) {
    std::printf("created consumer %s on stream %s\n", a.positional[1].c_str(), stream.c_str());
  }
  return PrintInfoResponse("consumer add", r, a, PrintInfo);
}

int RunLs(JsApi* api, const VerbArgs& a) {
  absl::StatusOr<std::vector<json>> consumers = api->List(absl::StrCat("CONSUMER.LIST.", a.positional[0]), "consumers");
  if (!consumers.ok()) return Fail("consumer ls", consumers.status());
  for (const json& info : *consumers) {
    if (a.Has("--json")) {
      std::printf("%s\n", server::DumpJson(info).c_str());
      continue;
    }
    const json config = info.value("config", json::object());
    std::printf("%-20s %-5s %8s pending %8s awaiting ack %6s redelivered  %s\n", Str(info, "name").c_str(),
                config.contains("deliver_subject") ? "push" : "pull", Num(info, "num_pending").c_str(),
                Num(info, "num_ack_pending").c_str(), Num(info, "num_redelivered").c_str(),
                Str(config, "filter_subject", "").c_str());
  }
  return 0;
}

int RunInfo(JsApi* api, const VerbArgs& a) {
  return PrintInfoResponse("consumer info",
                           api->Request(absl::StrCat("CONSUMER.INFO.", a.positional[0], ".", a.positional[1])), a,
                           PrintInfo);
}

int RunRm(JsApi* api, const VerbArgs& a) {
  absl::Status s = Deleted(api->Request(absl::StrCat("CONSUMER.DELETE.", a.positional[0], ".", a.positional[1])));
  if (!s.ok()) return Fail("consumer rm", s);
  std::printf("deleted consumer %s of stream %s\n", a.positional[1].c_str(), a.positional[0].c_str());
  return 0;
}

// One pull request's deliveries on `sid`: prints and (unless no_ack)
// acknowledges each, until `want` came, the server ends the request with a
// status (404 no messages, 408 expired, 409 ...), or `deadline`. Returns how
// many were printed; an error for a failed ack, a 409 before any message, or
// a lost connection. *closed is set when the output was closed.
absl::StatusOr<uint64_t> Collect(JsApi* api, LineOutput* out, uint64_t sid, uint64_t want, bool no_ack, bool json_out,
                                 absl::Time deadline, bool* closed) {
  uint64_t got = 0;
  while (got < want) {
    absl::StatusOr<ClientMessage> m = api->NextMessage(std::max(deadline - absl::Now(), absl::ZeroDuration()));
    if (absl::IsDeadlineExceeded(m.status())) break;
    if (!m.ok()) return m.status();
    if (m->sid != sid || m->status == 100) continue;
    if (m->status == 404 || m->status == 408) break;
    if (m->status != 0) {
      if (got > 0) break;
      return absl::FailedPreconditionError(absl::StrCat("the server says: ", m->status, " ", StatusDescription(m->headers)));
    }
    std::optional<DeliveryInfo> d = ParseDeliveryReply(m->reply);
    if (!d) return absl::UnavailableError(absl::StrCat("not a JetStream delivery (reply '", m->reply, "')"));
    if (!out->Write(json_out ? DeliveredJson(*m, *d, true) : DeliveredText(*m), true)) {
      *closed = true;
      return got;
    }
    ++got;
    if (no_ack) continue;
    absl::StatusOr<ClientMessage> confirmed = api->RequestRaw(m->reply, "", "+ACK", absl::Seconds(5));
    if (!confirmed.ok()) return absl::Status(confirmed.status().code(), absl::StrCat("ack: ", confirmed.status().message()));
  }
  return got;
}

int RunNext(JsApi* api, const VerbArgs& a) {
  absl::StatusOr<uint64_t> count = a.Count("--count", 1);
  if (!count.ok()) return Fail("consumer next", count.status());
  if (*count == 0) return Fail("consumer next", absl::InvalidArgumentError("--count 0: nothing to fetch"));
  absl::StatusOr<absl::Duration> timeout = absl::Seconds(1);
  if (a.Has("--timeout")) timeout = ParseDurationArg(a.Value("--timeout"));
  if (!timeout.ok()) return Fail("consumer next", absl::InvalidArgumentError(absl::StrCat("--timeout ", timeout.status().message())));
  const std::string& stream = a.positional[0];
  const std::string& name = a.positional[1];
  absl::StatusOr<json> info = api->Request(absl::StrCat("CONSUMER.INFO.", stream, ".", name));
  if (!info.ok()) return Fail("consumer next", info.status());
  const json config = info->value("config", json::object());
  if (config.contains("deliver_subject")) {
    return Fail("consumer next", absl::FailedPreconditionError(absl::StrCat(
                                     name, " is a push consumer (it delivers to ", Str(config, "deliver_subject"),
                                     "): subscribe there instead")));
  }
  const bool no_ack = a.Has("--no-ack") || Str(config, "ack_policy") == "none";
  NatsClient* c = api->client();
  const std::string inbox = c->NewInbox();
  absl::StatusOr<uint64_t> sid = c->Subscribe(inbox);
  if (!sid.ok()) return Fail("consumer next", sid.status());
  const std::string next = absl::StrCat("$JS.API.CONSUMER.MSG.NEXT.", stream, ".", name);
  LineOutput out;
  bool closed = false;
  // What is there now, without waiting...
  if (absl::Status s = c->Publish(next, inbox, "", server::DumpJson(json{{"batch", *count}, {"no_wait", true}})); !s.ok()) {
    return Fail("consumer next", s);
  }
  absl::StatusOr<uint64_t> got =
      Collect(api, &out, *sid, *count, no_ack, a.Has("--json"), absl::Now() + absl::Seconds(5), &closed);
  if (got.ok() && *got == 0 && !closed && *timeout > absl::ZeroDuration()) {
    // ...else what comes within the timeout. A fresh inbox: a late answer
    // to the first request must not end this one.
    (void)c->Unsubscribe(*sid);
    const std::string inbox2 = c->NewInbox();
    sid = c->Subscribe(inbox2);
    if (!sid.ok()) return Fail("consumer next", sid.status());
    json req = {{"batch", *count}, {"expires", absl::ToInt64Nanoseconds(*timeout)}};
    if (absl::Status s = c->Publish(next, inbox2, "", server::DumpJson(req)); !s.ok()) return Fail("consumer next", s);
    got = Collect(api, &out, *sid, *count, no_ack, a.Has("--json"), absl::Now() + *timeout + absl::Seconds(2), &closed);
  }
  if (!got.ok()) return Fail("consumer next", got.status());
  if (!closed) (void)c->Flush(absl::Seconds(5));
  if (out.error() != 0) {
    return Fail("consumer next", absl::InternalError(absl::StrCat("stdout: ", std::strerror(out.error()))));
  }
  return *got > 0 || closed ? 0 : 2;
}

}  // namespace

int RunConsumerVerb(const std::vector<std::string>& args) {
  static const std::vector<JsSubVerb> kSubs = {
      {"add",
       {"--server", "--filter", "--deliver", "--from", "--since", "--ack", "--ack-wait", "--max-deliver",
        "--max-ack-pending", "--deliver-subject", "--deliver-group"},
       {"--json"},
       2,
       2,
       RunAdd},
      {"ls", {"--server"}, {"--json"}, 1, 1, RunLs},
      {"info", {"--server"}, {"--json"}, 2, 2, RunInfo},
      {"next", {"--server", "--count", "--timeout"}, {"--json", "--no-ack"}, 2, 2, RunNext},
      {"rm", {"--server"}, {}, 2, 2, RunRm},
  };
  return RunJsSubVerb("consumer", args, kSubs, kConsumerUsage);
}

}  // namespace shortbus::tools
