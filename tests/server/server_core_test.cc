// The protocol core against an in-memory transport: every exchange here is
// byte-exact, and each error's text and closing follow what nats-server
// 2.9.10 was seen to do (docs/protocol.md, "Errors").
#include "server/server_core.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "server/protocol_errors.h"
#include "tests/server/core_test_util.h"

namespace shortbus::server {
namespace {

using Json = nlohmann::json;

Json InfoJson(const std::string& line) {
  EXPECT_EQ(line.substr(0, 5), "INFO ");
  EXPECT_EQ(line.substr(line.size() - 3), " \r\n");
  return Json::parse(line.substr(5, line.size() - 8));
}

TEST(ServerCore, InfoLine) {
  CoreHarness h;
  h.core->OnAccept(7, ConnKind::kTcp, "10.0.0.9");
  const Json info = InfoJson(h.Out(7));
  EXPECT_EQ(info["server_id"], h.core->server_id());
  EXPECT_EQ(info["server_id"].get<std::string>().size(), 56u);
  EXPECT_EQ(info["server_name"], h.core->server_id());
  EXPECT_EQ(info["version"], "2.9.10");
  EXPECT_EQ(info["proto"], 1);
  EXPECT_EQ(info["host"], "127.0.0.1");
  EXPECT_EQ(info["port"], 4222);
  EXPECT_EQ(info["headers"], true);
  EXPECT_EQ(info["max_payload"], 1 << 20);
  EXPECT_EQ(info["client_id"], 7);
  EXPECT_EQ(info["client_ip"], "10.0.0.9");
  EXPECT_FALSE(info.contains("auth_required"));
  EXPECT_FALSE(info.contains("xkey"));
  EXPECT_FALSE(info.contains("nonce"));

  h.core->OnAccept(8, ConnKind::kUnix, "");
  EXPECT_FALSE(InfoJson(h.Out(8)).contains("client_ip"));

  ServerOptions o;
  o.server_name = "box";
  o.auth_token = "t";
  CoreHarness a(o);
  a.core->OnAccept(1, ConnKind::kTcp, "127.0.0.1");
  const Json ai = InfoJson(a.Out(1));
  EXPECT_EQ(ai["auth_required"], true);
  EXPECT_EQ(ai["server_name"], "box");
}

// The exchange docs/protocol.md shows under "Transcript".
TEST(ServerCore, Transcript) {
  CoreHarness h;
  h.core->OnAccept(1, ConnKind::kUnix, "");
  const std::string info = h.Out(1);
  EXPECT_EQ(info.substr(0, 5), "INFO ");
  const std::pair<std::string, std::string> exchange[] = {
      {"CONNECT {\"verbose\":true}\r\n", "+OK\r\n"},
      {"SUB foo 1\r\n", "+OK\r\n"},
      {"PUB foo 5\r\nhello\r\n", "+OK\r\nMSG foo 1 5\r\nhello\r\n"},
      {"UNSUB 9\r\n", "+OK\r\n"},
      {"PING\r\n", "PONG\r\n"},
      {"SUB foo..bar 2\r\n", "-ERR 'Invalid Subject'\r\n"},
      {"PUB foo 3\r\nhi\r\n", "-ERR 'Unknown Protocol Operation'\r\n"},
  };
  for (const auto& [typed, answer] : exchange) {
    h.Type(1, typed);
    EXPECT_EQ(h.Out(1), answer) << typed;
  }
  EXPECT_TRUE(h.transport.closed(1));
}

TEST(ServerCore, DefaultsBeforeConnectAreVerbose) {
  CoreHarness h;
  h.Accept(1);
  h.Type(1, "PUB foo 2\r\nhi\r\nPING\r\n");
  EXPECT_EQ(h.Out(1), "+OK\r\nPONG\r\n");
}

TEST(ServerCore, ConnectVariants) {
  CoreHarness h;
  h.Accept(1);
  h.Type(1, "CONNECT {\"verbose\":true,\"pedantic\":false,\"name\":\"n\",\"lang\":\"c\","
            "\"version\":\"3.4\",\"protocol\":1,\"unknown\":[1]}\r\nPING\r\n");
  EXPECT_EQ(h.Out(1), "+OK\r\nPONG\r\n");
  const Session* s = h.core->FindSession(1);
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->connected());
  EXPECT_EQ(s->options().name, "n");
  EXPECT_EQ(s->options().lang, "c");
  EXPECT_FALSE(s->options().pedantic);
  // A second CONNECT keeps fields it does not name.
  h.Type(1, "connect {}\r\n");
  EXPECT_EQ(h.Out(1), "+OK\r\n");
  h.Type(1, "CONNECT {\"verbose\":false}\r\nPING\r\n");
  EXPECT_EQ(h.Out(1), "PONG\r\n");
}

TEST(ServerCore, BadConnectCloses) {
  for (const char* line : {"CONNECT {bad json\r\n", "CONNECT {\"verbose\":\"yes\"}\r\n",
                           "CONNECT\r\n", "CONNECT [1]\r\n"}) {
    CoreHarness h;
    h.Accept(1);
    h.Type(1, line);
    EXPECT_EQ(h.Out(1), kErrUnknownOperation) << line;
    EXPECT_TRUE(h.transport.closed(1));
    EXPECT_EQ(h.core->session_count(), 0u);
  }
}

TEST(ServerCore, PubSubByteExact) {
  CoreHarness h;
  h.Connect(1);
  h.Connect(2);
  h.Type(1, "SUB foo 1\r\nSUB foo 2\r\n");
  h.Type(2, "PUB foo 5\r\nhello\r\nPUB foo reply.x 0\r\n\r\nPUB bar 1\r\nx\r\n");
  EXPECT_EQ(h.Out(1),
            "MSG foo 1 5\r\nhello\r\nMSG foo 2 5\r\nhello\r\n"
            "MSG foo 1 reply.x 0\r\n\r\nMSG foo 2 reply.x 0\r\n\r\n");
  EXPECT_EQ(h.Out(2), "");
}

TEST(ServerCore, VerboseAcknowledgesEachVerb) {
  CoreHarness h;
  h.Accept(1);
  h.Type(1, "CONNECT {\"verbose\":true}\r\nSUB foo 1\r\nPUB foo 1\r\na\r\nUNSUB 1\r\nUNSUB 9\r\n"
            "PING\r\nPONG\r\n");
  EXPECT_EQ(h.Out(1), "+OK\r\n+OK\r\n+OK\r\nMSG foo 1 1\r\na\r\n+OK\r\n+OK\r\nPONG\r\n");
}

TEST(ServerCore, Wildcards) {
  CoreHarness h;
  h.Connect(1);
  h.Connect(2);
  h.Type(1, "SUB foo.* star\r\nSUB foo.> gt\r\nSUB > all\r\n");
  h.Type(2, "PUB foo.a 1\r\n1\r\nPUB foo.a.b 1\r\n2\r\nPUB bar 1\r\n3\r\n");
  const std::string out = h.Out(1);
  EXPECT_NE(out.find("MSG foo.a star 1\r\n1\r\n"), std::string::npos);
  EXPECT_NE(out.find("MSG foo.a gt 1\r\n1\r\n"), std::string::npos);
  EXPECT_NE(out.find("MSG foo.a all 1\r\n1\r\n"), std::string::npos);
  EXPECT_NE(out.find("MSG foo.a.b gt 1\r\n2\r\n"), std::string::npos);
  EXPECT_NE(out.find("MSG foo.a.b all 1\r\n2\r\n"), std::string::npos);
  EXPECT_NE(out.find("MSG bar all 1\r\n3\r\n"), std::string::npos);
  EXPECT_EQ(out.find("MSG foo.a.b star"), std::string::npos);
  EXPECT_EQ(out.find("MSG bar gt"), std::string::npos);
}

int Count(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (size_t p = haystack.find(needle); p != std::string::npos;
       p = haystack.find(needle, p + 1)) {
    ++n;
  }
  return n;
}

TEST(ServerCore, QueueGroupGivesEachMessageToExactlyOneMember) {
  CoreHarness h;
  for (ClientId id : {1, 2, 3, 4}) h.Connect(id);
  h.Type(1, "SUB work q 1\r\n");
  h.Type(2, "SUB work q 2\r\n");
  h.Type(3, "SUB work q 3\r\nSUB work 4\r\n");  // 3 also has a plain subscription
  constexpr int kMessages = 300;
  for (int i = 0; i < kMessages; ++i) {
    h.Type(4, "PUB work " + std::to_string(std::to_string(i).size()) + "\r\n" +
                  std::to_string(i) + "\r\n");
  }
  const std::string out1 = h.Out(1), out2 = h.Out(2), out3 = h.Out(3);
  const int n1 = Count(out1, "MSG work 1 "), n2 = Count(out2, "MSG work 2 "),
            n3 = Count(out3, "MSG work 3 ");
  EXPECT_EQ(n1 + n2 + n3, kMessages);
  EXPECT_GT(n1, 0);
  EXPECT_GT(n2, 0);
  EXPECT_GT(n3, 0);
  EXPECT_EQ(Count(out3, "MSG work 4 "), kMessages);
  for (int i = 0; i < kMessages; ++i) {
    const std::string body = "\r\n" + std::to_string(i) + "\r\n";
    const std::string len = std::to_string(std::to_string(i).size());
    EXPECT_EQ(Count(out1, " 1 " + len + body) + Count(out2, " 2 " + len + body) +
                  Count(out3, " 3 " + len + body),
              1)
        << i;
  }
}

TEST(ServerCore, UnsubWithMax) {
  CoreHarness h;
  h.Connect(1);
  h.Connect(2);
  h.Type(1, "SUB foo 1\r\nUNSUB 1 2\r\n");
  h.Type(2, "PUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\n");
  EXPECT_EQ(h.Out(1), "MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\n");
  EXPECT_EQ(h.core->sublist().count(), 0u);
  // The max already reached: UNSUB removes at once.
  h.Type(1, "SUB bar 2\r\n");
  h.Type(2, "PUB bar 1\r\na\r\n");
  h.Type(1, "UNSUB 2 1\r\n");
  h.Type(2, "PUB bar 1\r\nb\r\n");
  EXPECT_EQ(h.Out(1), "MSG bar 2 1\r\na\r\n");
  EXPECT_EQ(h.core->sublist().count(), 0u);
  EXPECT_EQ(h.core->FindSession(1)->subscription_count(), 0u);
}

TEST(ServerCore, UnsubWithABadCountRemovesAtOnce) {
  CoreHarness h;
  h.Connect(1);
  h.Type(1, "SUB foo 1\r\nSUB bar 2\r\nUNSUB 1 x\r\nUNSUB 2 -3\r\nPUB foo 1\r\na\r\n"
            "PUB bar 1\r\nb\r\nPING\r\n");
  EXPECT_EQ(h.Out(1), "PONG\r\n");
  EXPECT_EQ(h.core->sublist().count(), 0u);
}

TEST(ServerCore, DuplicateSidKeepsTheFirst) {
  CoreHarness h;
  h.Connect(1);
  h.Type(1, "SUB foo 1\r\nSUB bar 1\r\nPUB foo 1\r\na\r\nPUB bar 1\r\nb\r\n");
  EXPECT_EQ(h.Out(1), "MSG foo 1 1\r\na\r\n");
}

TEST(ServerCore, EchoFalse) {
  CoreHarness h;
  h.Connect(1, R"({"verbose":false,"echo":false})");
  h.Connect(2);
  h.Type(1, "SUB foo 1\r\n");
  h.Type(2, "SUB foo 1\r\n");
  h.Type(1, "PUB foo 1\r\na\r\nPING\r\n");
  EXPECT_EQ(h.Out(1), "PONG\r\n");
  EXPECT_EQ(h.Out(2), "MSG foo 1 1\r\na\r\n");
}

TEST(ServerCore, HeadersByteExact) {
  CoreHarness h;
  h.Connect(1, R"({"verbose":false,"headers":true})");
  h.Connect(2);  // no headers: gets the body only
  h.Type(1, "SUB foo 9\r\n");
  h.Type(2, "SUB foo 8\r\n");
  h.Type(1, "HPUB foo r 24 26\r\nNATS/1.0\r\nA: b\r\nC: d\r\n\r\nhi\r\n");
  EXPECT_EQ(h.Out(1), "HMSG foo 9 r 24 26\r\nNATS/1.0\r\nA: b\r\nC: d\r\n\r\nhi\r\n");
  EXPECT_EQ(h.Out(2), "MSG foo 8 r 2\r\nhi\r\n");
}

TEST(ServerCore, HpubWithoutHeadersSupportCloses) {
  CoreHarness h;
  h.Connect(1);
  h.Type(1, "HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
  EXPECT_EQ(h.Out(1), kErrUnknownOperation);
  EXPECT_TRUE(h.transport.closed(1));
}

TEST(ServerCore, NoRespondersByteExact) {
  CoreHarness h;
  h.Connect(1, R"({"verbose":false,"headers":true,"no_responders":true})");
  h.Type(1, "SUB _INBOX.x 9\r\nPUB svc _INBOX.x 2\r\nhi\r\nPING\r\n");
  EXPECT_EQ(h.Out(1), "HMSG _INBOX.x 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\nPONG\r\n");
  h.Type(1, "HPUB nobody _INBOX.x 12 12\r\nNATS/1.0\r\n\r\n\r\n");
  EXPECT_EQ(h.Out(1), "HMSG _INBOX.x 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
  // Nothing when a responder exists.
  h.Connect(2);
  h.Type(2, "SUB svc 1\r\n");
  h.Type(1, "PUB svc _INBOX.x 2\r\nhi\r\nPING\r\n");
  EXPECT_EQ(h.Out(1), "PONG\r\n");
  EXPECT_EQ(h.Out(2), "MSG svc 1 _INBOX.x 2\r\nhi\r\n");
  // Without no_responders: nothing.
  h.Connect(3, R"({"verbose":false,"headers":true})");
  h.Type(3, "SUB _INBOX.y 1\r\nPUB nobody _INBOX.y 0\r\n\r\nPING\r\n");
  EXPECT_EQ(h.Out(3), "PONG\r\n");
}

TEST(ServerCore, NoRespondersNeedsHeaders) {
  CoreHarness h;
  h.Accept(1);
  h.Type(1, "CONNECT {\"verbose\":false,\"no_responders\":true}\r\nPING\r\n");
  EXPECT_EQ(h.Out(1), kErrNoRespondersNeedsHeaders);
  EXPECT_TRUE(h.transport.closed(1));
}

TEST(ServerCore, InvalidSubjectsKeepTheConnection) {
  CoreHarness h;
  h.Accept(1);
  h.Type(1, "CONNECT {\"verbose\":true,\"pedantic\":true}\r\nSUB foo..bar 1\r\n"
            "SUB foo.>.x 2\r\nPUB foo.* 1\r\na\r\nPING\r\n");
  EXPECT_EQ(h.Out(1),
            "+OK\r\n-ERR 'Invalid Subject'\r\n-ERR 'Invalid Subject'\r\n"
            "-ERR 'Invalid Publish Subject'\r\n+OK\r\nPONG\r\n");
  // Not pedantic: a wildcard publish is dropped without a word.
  h.Type(1, "CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPUB foo.* 1\r\na\r\nPING\r\n");
  EXPECT_EQ(h.Out(1), "PONG\r\n");
  EXPECT_FALSE(h.transport.closed(1));
}

TEST(ServerCore, ProtocolErrorsClose) {
  const std::map<std::string, std::string> cases = {
      {"FOO bar\r\n", std::string(kErrUnknownOperation)},
      {"\r\n", std::string(kErrUnknownOperation)},
      {"MSG foo 1 2\r\nhi\r\n", std::string(kErrUnknownOperation)},
      {"PUB foo 3\r\nhi\r\nPING\r\n", std::string(kErrUnknownOperation)},
      {"PUB foo x\r\n", std::string(kErrUnknownOperation)},
      {"SUB foo\r\n", std::string(kErrUnknownOperation)},
      {"PUB foo 1048577\r\n", std::string(kErrMaxPayload)},
      {"SUB " + std::string(5000, 'a') + " 1\r\n", std::string(kErrMaxControlLine)},
      {"-ERR 'bye'\r\n", ""},
  };
  for (const auto& [in, want] : cases) {
    CoreHarness h;
    h.Connect(1);
    h.Type(1, in + "PING\r\n");
    EXPECT_EQ(h.Out(1), want) << in;
    EXPECT_TRUE(h.transport.closed(1)) << in;
    EXPECT_EQ(h.core->session_count(), 0u);
  }
}

TEST(ServerCore, IgnoredFromClients) {
  CoreHarness h;
  h.Connect(1);
  h.Type(1, "+OK\r\nINFO {}\r\nPING\r\n");
  EXPECT_EQ(h.Out(1), "PONG\r\n");
}

TEST(ServerCore, MaxPayloadFromOptions) {
  ServerOptions o;
  o.max_payload = 8;
  o.max_pending = 1 << 20;
  CoreHarness h(o);
  h.Connect(1);
  h.Type(1, "PUB foo 8\r\n12345678\r\nPING\r\n");
  EXPECT_EQ(h.Out(1), "PONG\r\n");
  h.Type(1, "PUB foo 9\r\n");  // refused before any payload byte arrives
  EXPECT_EQ(h.Out(1), kErrMaxPayload);
  EXPECT_TRUE(h.transport.closed(1));
}

TEST(ServerCore, TornFramesAcrossReads) {
  CoreHarness h;
  h.Connect(1);
  h.Connect(2);
  h.Type(1, "SUB foo.bar 1\r\n");
  const std::string in = "PUB foo.bar rep 11\r\nhello world\r\nPING\r\n";
  for (char c : in) h.Type(2, std::string(1, c));
  EXPECT_EQ(h.Out(1), "MSG foo.bar 1 rep 11\r\nhello world\r\n");
  EXPECT_EQ(h.Out(2), "PONG\r\n");
}

ServerOptions TokenOptions() {
  ServerOptions o;
  o.auth_token = "s3cr3t";
  o.auth_timeout = absl::Seconds(1);
  return o;
}

TEST(ServerCore, TokenAuth) {
  CoreHarness h(TokenOptions());
  h.Accept(1);
  h.Type(1, "CONNECT {\"verbose\":true,\"auth_token\":\"s3cr3t\"}\r\nPING\r\n");
  EXPECT_EQ(h.Out(1), "+OK\r\nPONG\r\n");
  for (const char* in : {"CONNECT {\"auth_token\":\"bad\"}\r\n", "CONNECT {}\r\n",
                         "CONNECT {\"user\":\"x\",\"pass\":\"s3cr3t\"}\r\n", "PING\r\n",
                         "PUB foo 1\r\na\r\n", "SUB foo 1\r\n", "GARBAGE\r\n"}) {
    h.Accept(2);
    h.Type(2, in);
    EXPECT_EQ(h.Out(2), kErrAuthorization) << in;
    EXPECT_TRUE(h.transport.closed(2)) << in;
    h.transport = RecordingTransport();
  }
}

TEST(ServerCore, UserPasswordAuth) {
  ServerOptions o;
  o.users = {{"a", "b"}, {"c", "d"}};
  CoreHarness h(o);
  h.Accept(1);
  h.Type(1, "CONNECT {\"verbose\":true,\"user\":\"c\",\"pass\":\"d\"}\r\n");
  EXPECT_EQ(h.Out(1), "+OK\r\n");
  for (const char* in : {"CONNECT {\"user\":\"a\",\"pass\":\"d\"}\r\n",
                         "CONNECT {\"auth_token\":\"b\"}\r\n", "CONNECT {\"user\":\"a\"}\r\n"}) {
    h.Accept(2);
    h.Type(2, in);
    EXPECT_EQ(h.Out(2), kErrAuthorization) << in;
    EXPECT_TRUE(h.transport.closed(2)) << in;
    h.transport = RecordingTransport();
  }
}

TEST(ServerCore, AuthenticationTimeout) {
  CoreHarness h(TokenOptions());
  h.Accept(1);
  h.Accept(2);
  h.Type(2, "CONNECT {\"verbose\":false,\"auth_token\":\"s3cr3t\"}\r\n");
  h.Tick(absl::Milliseconds(900));
  EXPECT_FALSE(h.transport.closed(1));
  h.Tick(absl::Seconds(1));
  EXPECT_EQ(h.Out(1), kErrAuthTimeout);
  EXPECT_TRUE(h.transport.closed(1));
  EXPECT_FALSE(h.transport.closed(2));
  EXPECT_EQ(h.core->session_count(), 1u);
}

TEST(ServerCore, MaxConnections) {
  ServerOptions o;
  o.max_connections = 1;
  CoreHarness h(o);
  h.Connect(1);
  h.core->OnAccept(2, ConnKind::kTcp, "127.0.0.1");
  const std::string out = h.Out(2);
  ASSERT_EQ(out.substr(0, 5), "INFO ");
  EXPECT_EQ(out.substr(out.find("\r\n") + 2), kErrMaxConnections);
  EXPECT_TRUE(h.transport.closed(2));
  h.Type(2, "PING\r\n");  // forgotten id: ignored
  EXPECT_EQ(h.Out(2), "");
  h.core->OnClosed(1);
  h.Connect(3);
  EXPECT_FALSE(h.transport.closed(3));
}

TEST(ServerCore, StaleConnection) {
  ServerOptions o;
  o.ping_interval = absl::Seconds(1);
  o.max_pings_out = 2;
  CoreHarness h(o);
  h.Connect(1);
  h.Connect(2);
  h.Tick(absl::Seconds(1));
  EXPECT_EQ(h.Out(1), "PING\r\n");
  EXPECT_EQ(h.Out(2), "PING\r\n");
  h.Type(2, "PONG\r\n");
  h.Tick(absl::Seconds(2));
  EXPECT_EQ(h.Out(1), "PING\r\n");
  h.Type(2, "PONG\r\n");
  h.Tick(absl::Seconds(3));
  EXPECT_EQ(h.Out(1), kErrStaleConnection);
  EXPECT_TRUE(h.transport.closed(1));
  EXPECT_FALSE(h.transport.closed(2));
  // A client that publishes is alive: no PING that period.
  h.Out(2);
  h.Type(2, "PUB x 0\r\n\r\n");
  h.Tick(absl::Seconds(4));
  EXPECT_EQ(h.Out(2), "");
}

TEST(ServerCore, SlowConsumerIsCutOffWithoutStallingOthers) {
  ServerOptions o;
  o.max_pending = 1 << 20;
  CoreHarness h(o);
  h.Connect(1);
  h.Connect(2);
  h.Connect(3);
  h.Type(1, "SUB foo 1\r\n");
  h.Type(2, "SUB foo 1\r\n");
  h.transport.SetBacklog(1, 1 << 20);  // 1 never reads
  h.Type(3, "PUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPING\r\n");
  EXPECT_EQ(h.Out(1), "MSG foo 1 1\r\na\r\n" + std::string(kErrSlowConsumer));
  EXPECT_TRUE(h.transport.closed(1));
  EXPECT_EQ(h.Out(2), "MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\n");
  EXPECT_EQ(h.Out(3), "PONG\r\n");
  EXPECT_EQ(h.core->sublist().count(), 1u);
}

TEST(ServerCore, PeerCloseRemovesSubscriptions) {
  CoreHarness h;
  h.Connect(1);
  h.Type(1, "SUB a 1\r\nSUB b 2\r\nSUB c q 3\r\n");
  EXPECT_EQ(h.core->sublist().count(), 3u);
  h.core->OnClosed(1);
  h.core->OnClosed(1);
  EXPECT_EQ(h.core->sublist().count(), 0u);
  EXPECT_EQ(h.core->session_count(), 0u);
  EXPECT_EQ(h.transport.close_calls(), 0);
}

class Capture : public PublishObserver {
 public:
  bool OnPublish(const PublishedMessage& m) override {
    seen.push_back(std::string(m.subject) + "|" + std::string(m.reply) + "|" +
                   std::string(m.headers) + "|" + std::string(m.payload));
    if (m.subject != "svc") return false;
    // Answers from inside the call, as the JetStream layer does.
    PublishedMessage answer;
    answer.subject = m.reply;
    answer.payload = "pong";
    core->PublishInternal(answer);
    return true;
  }
  ServerCore* core = nullptr;
  std::vector<std::string> seen;
};

TEST(ServerCore, PublishObserverSeesEveryMessage) {
  CoreHarness h;
  Capture capture;
  h.core->SetPublishObserver(&capture);
  h.Connect(1, R"({"verbose":false,"headers":true})");
  h.Type(1, "PUB a 1\r\nx\r\nHPUB b r 12 13\r\nNATS/1.0\r\n\r\ny\r\n");
  EXPECT_EQ(capture.seen,
            (std::vector<std::string>{"a|||x", "b|r|NATS/1.0\r\n\r\n|y"}));
}

TEST(ServerCore, AnObserverThatAnswersSuppressesNoResponders) {
  CoreHarness h;
  Capture capture;
  capture.core = h.core.get();
  h.core->SetPublishObserver(&capture);
  h.Connect(1, R"({"verbose":false,"headers":true,"no_responders":true})");
  h.Type(1, "SUB inbox.> 1\r\nPUB svc inbox.1 0\r\n\r\nPUB other inbox.2 0\r\n\r\n");
  const std::string out = h.Out(1);
  EXPECT_NE(out.find("MSG inbox.1 1 4\r\npong\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("HMSG inbox.2 1 16 16\r\nNATS/1.0 503\r\n"), std::string::npos) << out;  // nobody answered
  EXPECT_EQ(out.find("HMSG inbox.1"), std::string::npos);
  EXPECT_TRUE(h.core->HasInterest("inbox.x"));
  EXPECT_FALSE(h.core->HasInterest("elsewhere"));
}

class Hello : public VerbExtension {
 public:
  absl::Span<const VerbSpec> Verbs() const override { return kVerbs; }
  bool OnVerb(Session& session, const Frame& frame) override {
    session.Send("hello " + std::string(frame.args[0]) + "\r\n");
    return true;
  }
  static constexpr VerbSpec kVerbs[] = {{"HELLO", kFirstExtensionVerb, VerbShape::kLine, 1, 1}};
};

TEST(ServerCore, VerbExtension) {
  Hello hello;
  CoreHarness h({}, &hello);
  h.Connect(1);
  h.Type(1, "hello you\r\nPING\r\n");
  EXPECT_EQ(h.Out(1), "hello you\r\nPONG\r\n");
}

}  // namespace
}  // namespace shortbus::server
