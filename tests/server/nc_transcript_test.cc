// What a person with `nc -CU data/shortbus.sock` types, and what they read
// back: the same session against shortbusd (Unix socket) and nats-server
// (TCP, the reference), compared with the expected transcript below. The
// INFO line's JSON differs between the two servers and from run to run, so
// it is compared as "INFO {...}".
//
// With SHORTBUS_TRANSCRIPT_OUT set, the shortbusd run writes the session as
// a terminal shows it (docs/protocol.md, "A session with nc -U", is that
// file).
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/server/daemon_harness.h"

namespace shortbus::testing {
namespace {

struct Step {
  std::string typed;   // one line, sent with CRLF (nc -C); empty: just connect
  std::string answer;  // what comes back before the next line is typed
};

// A bad PUB subject is left out: nats-server answers it when the control
// line ends and, if the payload comes in a later read (as when typed), a
// second time after it; shortbus answers once, after the payload
// (docs/protocol.md, "Differences from nats-server").
//
// nc -C turns each typed line's LF into CRLF. nats-server also takes a bare
// LF after a control line, but not after a payload, so without -C the
// first PUB ends the session (both servers agree; see docs/protocol.md).
const std::vector<Step>& Session() {
  static const std::vector<Step> steps = {
      {"", "INFO {...} \r\n"},
      {"SUB foo 1", "+OK\r\n"},
      {"PUB foo 5", ""},
      {"hello", "+OK\r\nMSG foo 1 5\r\nhello\r\n"},
      {"PING", "PONG\r\n"},
      {"sub greet.* 2", "+OK\r\n"},
      {"pub greet.joe 2", ""},
      {"hi", "+OK\r\nMSG greet.joe 2 2\r\nhi\r\n"},
      {"UNSUB 1", "+OK\r\n"},
      {"PUB foo 3", ""},
      {"bye", "+OK\r\n"},
      {"PUB foo 3", ""},
      {"toolong", "-ERR 'Unknown Protocol Operation'\r\n"},
  };
  return steps;
}

// A leading "INFO {...} \r\n" line with its JSON elided (it differs per
// server and run). Plain string work, not <regex> (see NatsServerPort).
std::string NormalizeInfo(const std::string& s) {
  if (s.rfind("INFO {", 0) != 0) return s;
  const size_t eol = s.find_first_of("\r\n");
  if (eol == std::string::npos || eol < 8 || s.compare(eol - 2, 4, "} \r\n") != 0) return s;
  return "INFO {...} \r\n" + s.substr(eol + 2);
}

// The human verbs (docs/protocol.md, "Human verbs"): shortbusd only.
// Times in answers differ per run: compared as TIME.
const std::vector<Step>& HumanSession() {
  static const std::vector<Step> steps = {
      {"", "INFO {...} \r\n"},
      {"ADDSTREAM ORDERS orders.> max_msgs=1000 sync=always", "+STREAM ORDERS created subjects=orders.>\r\n"},
      {"PUB orders.1 5", ""},
      {"first", "+OK\r\n"},
      {"PUB orders.2 6", ""},
      {"second", "+OK\r\n"},
      {"PUB orders.1 5", ""},
      {"third", "+OK\r\n"},
      {"STREAMS", "+STREAMS 1 ORDERS(orders.>: 3 msgs)\r\n"},
      {"STREAM ORDERS",
       "+STREAM ORDERS subjects=orders.> messages=3 bytes=192 first_seq=1 first_time=TIME last_seq=3 "
       "last_time=TIME consumers=0 retention=limits sync=always max_msgs=1000 max_bytes=-1 max_age_ns=0 "
       "discard=old\r\n"},
      {"SUB replay 7", "+OK\r\n"},
      {"REPLAY ORDERS 7 from=2",
       "MSG orders.2 7 6\r\nsecond\r\nMSG orders.1 7 5\r\nthird\r\n+REPLAY ORDERS 2 messages 2..3 (end of "
       "stream)\r\n"},
      {"REPLAY ORDERS 7 last=1 subject=orders.2",
       "MSG orders.2 7 6\r\nsecond\r\n+REPLAY ORDERS 1 messages 2..2 (end of stream)\r\n"},
      {"REPLAY ORDERS 7 since=1h max=1",
       "MSG orders.1 7 5\r\nfirst\r\n+REPLAY ORDERS 1 messages 1..1 more: REPLAY ORDERS 7 from=2\r\n"},
      {"REPLAY ORDERS 9", "-ERR 'no subscription with sid 9 (SUB first)'\r\n"},
      {"CONSUMER ORDERS worker", "-ERR 'consumer not found'\r\n"},
      {"STREAM NOPE", "-ERR 'stream not found: NOPE'\r\n"},
      {"PING", "PONG\r\n"},
  };
  return steps;
}

// Authorization (docs/protocol.md, "Authorization"): a user who may publish
// and subscribe to metrics.> only. The first part is the same on
// nats-server; the human verb lines are shortbusd's alone.
constexpr char kAuthConfig[] = R"({"authorization": {"users": [
  {"user": "sensor", "password": "s3cr3t", "permissions": {"publish": ["metrics.>"], "subscribe": ["metrics.>"]}}
]}})";

std::vector<Step> AuthSession(bool human_verbs) {
  std::vector<Step> steps = {
      {"", "INFO {...} \r\n"},
      {R"(CONNECT {"user":"sensor","pass":"s3cr3t"})", "+OK\r\n"},
      {"PUB metrics.cpu 4", ""},
      {"0.25", "+OK\r\n"},
      {"PUB orders.1 5", ""},
      {"hello", "-ERR 'Permissions Violation for Publish to \"orders.1\"'\r\n"},
      {"SUB orders.> 1", "-ERR 'Permissions Violation for Subscription to \"orders.>\"'\r\n"},
      {"SUB metrics.> 2", "+OK\r\n"},
      {"PUB metrics.mem 4", ""},
      {"0.50", "+OK\r\nMSG metrics.mem 2 4\r\n0.50\r\n"},
  };
  if (human_verbs) {
    steps.push_back({"ADDSTREAM ORDERS orders.>",
                     "-ERR 'Permissions Violation for Publish to \"$JS.API.STREAM.CREATE.ORDERS\"'\r\n"});
    steps.push_back({"STREAMS", "-ERR 'Permissions Violation for Publish to \"$JS.API.STREAM.LIST\"'\r\n"});
  }
  steps.push_back({"PING", "PONG\r\n"});
  return steps;
}

// RFC 3339 times ("2026-11-23T22:02:03.708367113Z") become TIME.
std::string NormalizeTimes(std::string s) {
  for (size_t at = 0; (at = s.find("_time=", at)) != std::string::npos;) {
    at += 6;
    const size_t end = s.find_first_of(" \r", at);
    if (end != std::string::npos && end > at && s[end - 1] == 'Z') s.replace(at, end - at, "TIME");
  }
  return s;
}

// Runs the session on a connected socket. Returns the raw output per step
// (the INFO line as sent) and checks each against the expected transcript.
// `closes`: the session's last answer closes the connection.
std::vector<std::string> RunSession(int fd, const std::string& server,
                                    const std::vector<Step>& steps = Session(), bool closes = true) {
  std::vector<std::string> got;
  std::string all;
  size_t consumed = 0;
  for (const Step& step : steps) {
    if (!step.typed.empty()) {
      EXPECT_TRUE(WriteAll(fd, step.typed + "\r\n"));
    }
    std::string answer;
    if (step.answer.starts_with("INFO ")) {
      EXPECT_TRUE(ReadUntilContains(fd, &all, "\r\n")) << server;
      answer = all.substr(consumed, all.find("\r\n", consumed) + 2 - consumed);
      EXPECT_EQ(NormalizeInfo(answer), step.answer) << server;
    } else {
      // Answers end in CRLF: read whole lines until the expected length
      // (times may make the real answer longer than the normalized one).
      ReadUntil(fd, &all, [&](const std::string& a) {
        if (a.size() < consumed + step.answer.size()) return false;
        return NormalizeTimes(a.substr(consumed)).size() >= step.answer.size() && a.ends_with("\r\n");
      }, Millis(5000));
      answer = all.substr(consumed);
      EXPECT_EQ(NormalizeTimes(answer), step.answer) << server << ", after typing: " << step.typed;
    }
    consumed += answer.size();
    got.push_back(answer);
  }
  if (closes) {
    // The last error closes the session; nothing else arrives.
    EXPECT_TRUE(ReadUntilEof(fd, &all)) << server;
    EXPECT_EQ(all.substr(consumed), "") << server;
  }
  return got;
}

std::string Render(const std::vector<std::string>& got, const std::vector<Step>& steps = Session()) {
  std::string out = "$ nc -CU data/shortbus.sock\n";
  for (size_t i = 0; i < got.size(); ++i) {
    if (!steps[i].typed.empty()) out += steps[i].typed + "\n";
    std::string a = got[i];
    for (size_t at; (at = a.find("\r\n")) != std::string::npos;) a.replace(at, 2, "\n");
    out += a;
  }
  return out;
}

// Types `steps` into a fresh shortbusd's Unix socket, checks the answers,
// prints the session and writes it to $out_env when that is set.
// `config`: a --config file's text, when not empty.
void RunOnShortbusd(const std::vector<Step>& steps, bool closes, const char* out_env,
                    const std::string& config = "") {
  TempDir dir;
  const std::string data = dir / "data";
  const std::string sock = dir / "shortbus.sock";
  std::vector<std::string> args = {"--data", data, "--listen", "unix:" + sock};
  if (!config.empty()) {
    ASSERT_TRUE(WriteFile(dir / "config.json", config));
    args.insert(args.end(), {"--config", dir / "config.json"});
  }
  Child d(ShortbusdPath(), args, dir / "d.log");
  ASSERT_EQ(WaitReady(d, data, /*wait_port=*/false), 0) << d.Log();
  const int fd = ConnectUnix(sock);
  ASSERT_GE(fd, 0);
  const std::string text = Render(RunSession(fd, "shortbusd", steps, closes), steps);
  ::close(fd);
  std::fputs(text.c_str(), stdout);
  if (const char* out = std::getenv(out_env); out != nullptr && *out) {
    std::FILE* f = std::fopen(out, "w");
    ASSERT_NE(f, nullptr);
    std::fputs(text.c_str(), f);
    std::fclose(f);
  }
  EXPECT_EQ(d.Terminate(), 0);
}

TEST(NcTranscript, Shortbusd) { RunOnShortbusd(Session(), true, "SHORTBUS_TRANSCRIPT_OUT"); }

TEST(NcTranscript, HumanVerbs) { RunOnShortbusd(HumanSession(), false, "SHORTBUS_HUMAN_TRANSCRIPT_OUT"); }

TEST(NcTranscript, Authorization) {
  RunOnShortbusd(AuthSession(/*human_verbs=*/true), false, "SHORTBUS_AUTH_TRANSCRIPT_OUT", kAuthConfig);
}

// Runs `steps` against nats-server over TCP, with `config` (-c) when not
// empty.
void RunOnNatsServer(const std::vector<Step>& steps, bool closes, const std::string& config = "") {
  const char* bin = std::getenv("NATS_SERVER");
  if (bin == nullptr || *bin == '\0') GTEST_SKIP() << "NATS_SERVER not set";
  TempDir dir;
  std::vector<std::string> args = {"-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", dir.path()};
  if (!config.empty()) {
    ASSERT_TRUE(WriteFile(dir / "config.json", config));
    args.insert(args.end(), {"-c", dir / "config.json"});
  }
  Child ns(bin, args, dir / "ns.log");
  const std::string ports = dir / ("nats-server_" + std::to_string(ns.pid()) + ".ports");
  int port = 0;
  ASSERT_TRUE(WaitFor([&] {
    port = NatsServerPort(ReadFileOr(ports, ""));
    return port > 0;
  })) << ns.Log();
  const int fd = ConnectTcp(port);
  ASSERT_GE(fd, 0);
  RunSession(fd, "nats-server", steps, closes);
  ::close(fd);
  EXPECT_TRUE(ns.Terminate().has_value());  // nats-server exits 1 on SIGTERM
}

TEST(NcTranscript, NatsServerAgrees) { RunOnNatsServer(Session(), true); }

TEST(NcTranscript, NatsServerAgreesOnAuthorization) {
  RunOnNatsServer(AuthSession(/*human_verbs=*/false), false, kAuthConfig);
}

}  // namespace
}  // namespace shortbus::testing
