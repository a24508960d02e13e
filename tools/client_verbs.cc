#include "tools/client_verbs.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "tools/js_api.h"
#include "tools/json_escape.h"
#include "tools/nats_client.h"
#include "tools/verb_args.h"
#include "tools/verb_common.h"
#include "server/json_text.h"

namespace shortbus::tools {

const char kClientVerbsHelp[] =
    "Verbs that talk to a server (shortbusd, or any NATS server):\n"
    "  pub SUBJECT [MESSAGE | -]             publish MESSAGE, or each line of stdin (--raw: all of it);\n"
    "                                        --ack: wait for the stream to store it, print its sequence\n"
    "  sub SUBJECT [--queue G] [--count N]   print messages as they arrive (--json: one object a line)\n"
    "  req SUBJECT MESSAGE [--timeout D]     send a request, print the reply\n"
    "  reply SUBJECT MESSAGE                 answer every request on SUBJECT with MESSAGE\n"
    "  status                                what the server says about itself, and the round trip\n"
    "Server: --server URL (unix:///path/sock or nats://[user:pass@]host:port), else $SHORTBUS_URL,\n"
    "else ./data/shortbus.sock when it exists, else nats://127.0.0.1:4222.\n"
    "Credentials: the URL's, else $SHORTBUS_USER and $SHORTBUS_PASSWORD, else $SHORTBUS_TOKEN.\n";

namespace {

constexpr char kPubUsage[] =
    "usage: shortbus pub SUBJECT [MESSAGE | -] [--raw] [--header 'Key: value']... [--reply SUBJECT]\n"
    "                    [--ack [--timeout D] [--json]] [--server URL]\n"
    "\n"
    "Publishes MESSAGE on SUBJECT. With `-` (or no MESSAGE) reads stdin and publishes each line\n"
    "as one message (without its newline); --raw publishes the whole of stdin as one message.\n"
    "--header (repeatable) adds a NATS header. Waits until the server has processed every\n"
    "message (PING/PONG), so an error the server reports is seen.\n"
    "--ack: SUBJECT belongs to a stream; waits for the stream's acknowledgement of each\n"
    "message in turn (up to --timeout D, default 5s) and prints where it was stored:\n"
    "  stream STREAM seq SEQ [duplicate]       (duplicate: a Nats-Msg-Id seen within the\n"
    "                                          stream's duplicate window; not stored again)\n"
    "--json prints the acknowledgement object instead: {\"stream\":\"S\",\"seq\":N[,\"duplicate\":true]}.\n"
    "A refusal (e.g. Nats-Expected-Last-Sequence not met) prints the server's description and\n"
    "stops; so does a subject no stream captures.\n"
    "Exit 0 published (and, with --ack, stored), 1 error.\n";

constexpr char kSubUsage[] =
    "usage: shortbus sub SUBJECT [--queue GROUP] [--count N] [--timeout D] [--json] [--server URL]\n"
    "\n"
    "Subscribes to SUBJECT (wildcards * and > allowed) and prints each message's payload on a\n"
    "line of its own, as it arrives. --json prints one object a line: subject, headers, size,\n"
    "data (or data_base64 when not UTF-8), reply. --queue joins a queue group (each message\n"
    "goes to one member). Stops after --count N messages, or when --timeout D passes with\n"
    "no message (D like 500ms, 2s, 1m).\n"
    "Exit 0 (count reached, or interrupted), 1 error, 2 timeout with nothing received.\n";

constexpr char kReqUsage[] =
    "usage: shortbus req SUBJECT MESSAGE [--timeout D] [--header 'Key: value']... [--json]\n"
    "                    [--server URL]\n"
    "\n"
    "Sends MESSAGE as a request on SUBJECT and prints the first reply (--json: as an object).\n"
    "--timeout: how long to wait for the reply (default 2s).\n"
    "Exit 0 replied, 1 error or no reply in time, 2 no responders (nobody subscribes to SUBJECT).\n";

constexpr char kReplyUsage[] =
    "usage: shortbus reply SUBJECT MESSAGE [--queue GROUP] [--count N] [--server URL]\n"
    "\n"
    "Answers every request on SUBJECT with MESSAGE; stops after --count N answers.\n"
    "Exit 0, 1 error.\n";

constexpr char kStatusUsage[] =
    "usage: shortbus status [--json] [--server URL]\n"
    "\n"
    "Connects and prints what the server says about itself (its INFO: name, id, version,\n"
    "limits) and one PING round trip. --json prints the INFO object with \"url\" and \"rtt_us\".\n"
    "Exit 0, 1 when the server can not be reached.\n";

// Connects and subscribes to the first positional argument (in --queue's
// group); the subscription is in place on the server when this returns.
absl::StatusOr<std::unique_ptr<NatsClient>> DialAndSubscribe(const VerbArgs& a) {
  auto client = DialServer(a);
  if (!client.ok()) return client.status();
  absl::StatusOr<uint64_t> sid = (*client)->Subscribe(a.positional[0], a.Value("--queue"));
  if (!sid.ok()) return sid.status();
  if (absl::Status s = (*client)->Flush(absl::Seconds(10)); !s.ok()) return s;
  return client;
}

std::string MessageJson(const ClientMessage& m) {
  std::string j = "{";
  AppendMessageJsonFields(&j, m.subject, m.headers, m.payload);
  if (!m.reply.empty()) {
    j += ",\"reply\":";
    AppendJsonString(&j, m.reply);
  }
  j += "}";
  return j;
}

void Print(const ClientMessage& m, bool json) {
  const std::string line = json ? MessageJson(m) : m.payload;
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

int RunPub(const std::vector<std::string>& args) {
  std::optional<VerbArgs> a = ParseOrUsage("pub", args, {"--server", "--header", "--reply", "--timeout"},
                                           {"--raw", "--ack", "--json"}, 1, 2, kPubUsage);
  if (!a) return 1;
  const bool ack = a->Has("--ack");
  if (ack && a->Has("--reply")) return Fail("pub", absl::InvalidArgumentError("--ack and --reply exclude each other"));
  if (!ack && (a->Has("--json") || a->Has("--timeout"))) {
    return Fail("pub", absl::InvalidArgumentError("--json and --timeout go with --ack"));
  }
  absl::StatusOr<absl::Duration> timeout = a->Duration("--timeout", absl::Seconds(5));
  if (!timeout.ok()) return Fail("pub", timeout.status());
  auto client = DialServer(*a);
  if (!client.ok()) return Fail("pub", client.status());
  const std::string& subject = a->positional[0];
  const std::string headers = HeaderBlock(a->values.count("--header") ? a->values.at("--header") : std::vector<std::string>());
  const std::string reply = a->Value("--reply");
  JsApi js(client->get());
  auto publish = [&](std::string_view payload) -> absl::Status {
    if (!ack) return (*client)->Publish(subject, reply, headers, payload);
    absl::StatusOr<Json> stored = js.PublishAcked(subject, headers, payload, *timeout);
    if (!stored.ok()) return stored.status();
    const std::string line =
        a->Has("--json") ? server::DumpJson(*stored)
                         : absl::StrCat("stream ", stored->value("stream", ""), " seq ", stored->value("seq", uint64_t{0}),
                                        stored->value("duplicate", false) ? " duplicate" : "");
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    return absl::OkStatus();
  };
  absl::Status s;
  if (a->positional.size() == 2 && a->positional[1] != "-") {
    s = publish(a->positional[1]);
  } else if (a->Has("--raw")) {
    std::string all((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    s = publish(all);
  } else {
    std::string line;
    while (s.ok() && std::getline(std::cin, line)) s = publish(line);
  }
  if (s.ok()) s = (*client)->Flush(absl::Seconds(10));
  return s.ok() ? 0 : Fail("pub", s);
}

int RunSub(const std::vector<std::string>& args) {
  std::optional<VerbArgs> a = ParseOrUsage("sub", args, {"--server", "--queue", "--count", "--timeout"}, {"--json"}, 1, 1, kSubUsage);
  if (!a) return 1;
  absl::StatusOr<uint64_t> count = a->Count("--count", 0);
  absl::StatusOr<absl::Duration> timeout = a->Duration("--timeout", absl::InfiniteDuration());
  if (!count.ok()) return Fail("sub", count.status());
  if (!timeout.ok()) return Fail("sub", timeout.status());
  auto client = DialAndSubscribe(*a);
  if (!client.ok()) return Fail("sub", client.status());
  uint64_t got = 0;
  while (*count == 0 || got < *count) {
    absl::StatusOr<ClientMessage> m = (*client)->NextMessage(*timeout);
    if (absl::IsDeadlineExceeded(m.status())) return got == 0 ? 2 : 0;
    if (!m.ok()) return Fail("sub", m.status());
    Print(*m, a->Has("--json"));
    ++got;
  }
  return 0;
}

int RunReq(const std::vector<std::string>& args) {
  std::optional<VerbArgs> a = ParseOrUsage("req", args, {"--server", "--timeout", "--header"}, {"--json"}, 2, 2, kReqUsage);
  if (!a) return 1;
  absl::StatusOr<absl::Duration> timeout = a->Duration("--timeout", absl::Seconds(2));
  if (!timeout.ok()) return Fail("req", timeout.status());
  auto client = DialServer(*a);
  if (!client.ok()) return Fail("req", client.status());
  const std::string inbox = (*client)->NewInbox();
  absl::StatusOr<uint64_t> sid = (*client)->Subscribe(inbox);
  absl::Status s = sid.status();
  if (s.ok()) s = (*client)->Unsubscribe(*sid, 1);
  const std::string headers = HeaderBlock(a->values.count("--header") ? a->values.at("--header") : std::vector<std::string>());
  if (s.ok()) s = (*client)->Publish(a->positional[0], inbox, headers, a->positional[1]);
  if (!s.ok()) return Fail("req", s);
  absl::StatusOr<ClientMessage> m = (*client)->NextMessage(*timeout);
  if (absl::IsDeadlineExceeded(m.status())) {
    return Fail("req", absl::DeadlineExceededError(absl::StrCat("no reply on ", a->positional[0], " within ",
                                                                absl::FormatDuration(*timeout))));
  }
  if (!m.ok()) return Fail("req", m.status());
  if (m->status == 503) {
    std::fprintf(stderr, "shortbus req: no responders on %s\n", a->positional[0].c_str());
    return 2;
  }
  Print(*m, a->Has("--json"));
  return 0;
}

int RunReply(const std::vector<std::string>& args) {
  std::optional<VerbArgs> a = ParseOrUsage("reply", args, {"--server", "--queue", "--count"}, {}, 2, 2, kReplyUsage);
  if (!a) return 1;
  absl::StatusOr<uint64_t> count = a->Count("--count", 0);
  if (!count.ok()) return Fail("reply", count.status());
  auto client = DialAndSubscribe(*a);
  if (!client.ok()) return Fail("reply", client.status());
  uint64_t answered = 0;
  while (*count == 0 || answered < *count) {
    absl::StatusOr<ClientMessage> m = (*client)->NextMessage(absl::InfiniteDuration());
    if (!m.ok()) return Fail("reply", m.status());
    if (m->reply.empty()) continue;  // a plain publish: nothing to answer
    absl::Status s = (*client)->Publish(m->reply, "", "", a->positional[1]);
    if (s.ok()) s = (*client)->Flush(absl::Seconds(10));
    if (!s.ok()) return Fail("reply", s);
    ++answered;
  }
  return 0;
}

int RunStatus(const std::vector<std::string>& args) {
  std::optional<VerbArgs> a = ParseOrUsage("status", args, {"--server"}, {"--json"}, 0, 0, kStatusUsage);
  if (!a) return 1;
  ServerAddress address;
  auto client = DialServer(*a, &address);
  if (!client.ok()) return Fail("status", client.status());
  absl::StatusOr<absl::Duration> rtt = (*client)->RoundTrip(absl::Seconds(5));
  if (!rtt.ok()) return Fail("status", rtt.status());
  nlohmann::json info = (*client)->info();
  if (a->Has("--json")) {
    info["url"] = address.ToString();
    info["rtt_us"] = absl::ToDoubleMicroseconds(*rtt);
    std::printf("%s\n", server::DumpJson(info).c_str());
    return 0;
  }
  auto field = [&](const char* k) { return info.contains(k) ? (info[k].is_string() ? info[k].get<std::string>() : server::DumpJson(info[k])) : std::string("-"); };
  std::printf("server       %s (id %s)\n", field("server_name").c_str(), field("server_id").c_str());
  std::printf("version      %s, protocol %s\n", field("version").c_str(), field("proto").c_str());
  std::printf("address      %s\n", address.ToString().c_str());
  std::printf("max payload  %s bytes, headers %s, auth required %s\n", field("max_payload").c_str(),
              field("headers").c_str(), info.value("auth_required", false) ? "yes" : "no");
  std::printf("client id    %s\n", field("client_id").c_str());
  std::printf("round trip   %.0f us\n", absl::ToDoubleMicroseconds(*rtt));
  return 0;
}

}  // namespace

bool IsClientVerb(const std::string& verb) {
  return verb == "pub" || verb == "sub" || verb == "req" || verb == "reply" || verb == "status";
}

int RunClientVerb(const std::string& verb, const std::vector<std::string>& args) {
  if (WantsHelp(args)) {
    const char* usage = verb == "pub" ? kPubUsage : verb == "sub" ? kSubUsage : verb == "req" ? kReqUsage
                      : verb == "reply" ? kReplyUsage : kStatusUsage;
    std::fputs(usage, stdout);
    return 0;
  }
  if (verb == "pub") return RunPub(args);
  if (verb == "sub") return RunSub(args);
  if (verb == "req") return RunReq(args);
  if (verb == "reply") return RunReply(args);
  return RunStatus(args);
}

}  // namespace shortbus::tools
