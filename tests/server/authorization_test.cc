// Authorization and per-connection limits in the protocol core: users with
// permissions from a --config text, typed at the core as a client would.
// The words and the open/closed outcome are nats-server 2.9.10's (probed
// with the same config; tests/e2e/auth_c_test.cc runs the scenarios against
// both servers).
#include <string>

#include "gtest/gtest.h"
#include "server/protocol_errors.h"
#include "server/server_core.h"
#include "server/server_options.h"
#include "tests/alloc_counter.h"
#include "tests/server/core_test_util.h"

namespace shortbus::server {
namespace {

constexpr char kConfig[] = R"({
  "max_subscriptions": 4,
  "authorization": {
    "users": [
      {"user": "a", "password": "pa", "permissions": {
         "publish": {"allow": ["foo.>", "$JS.API.INFO"], "deny": ["foo.secret"]},
         "subscribe": {"allow": ["foo.>", "_INBOX.>", "q.* grp"], "deny": ["foo.hidden"]}
      }},
      {"user": "r", "password": "pr", "permissions": {
         "subscribe": ["req.>"],
         "allow_responses": {"max": 2, "expires": "1h"}
      }},
      {"user": "z", "password": "pz"}
    ]
  }
})";

ServerOptions Options(std::string_view config = kConfig) {
  absl::StatusOr<ServerOptions> o = ParseConfig(config);
  EXPECT_TRUE(o.ok()) << o.status();
  return o.ok() ? *o : ServerOptions();
}

std::string As(const char* user, const char* pass, bool verbose = false) {
  return std::string("{\"verbose\":") + (verbose ? "true" : "false") + ",\"user\":\"" + user +
         "\",\"pass\":\"" + pass + "\"}";
}

std::string PubErr(const std::string& subject) {
  return "-ERR 'Permissions Violation for Publish to \"" + subject + "\"'\r\n";
}

TEST(Authorization, PublishAllowedDeniedAndTheConnectionStays) {
  CoreHarness h(Options());
  h.Connect(1, As("a", "pa"));
  h.Connect(2, As("z", "pz"));
  h.Type(2, "SUB > 1\r\n");
  h.Type(1, "PUB foo.secret 2\r\nhi\r\nPUB bar 2\r\nhi\r\nPUB foo.ok 2\r\nok\r\nPING\r\n");
  EXPECT_EQ(h.Out(1), PubErr("foo.secret") + PubErr("bar") + "PONG\r\n");
  EXPECT_FALSE(h.transport.closed(1));
  EXPECT_EQ(h.Out(2), "MSG foo.ok 1 2\r\nok\r\n");  // nothing of the refused ones
}

TEST(Authorization, ARefusedPublishGetsNoOk) {
  CoreHarness h(Options());
  h.Connect(1, As("a", "pa", /*verbose=*/true));
  h.Type(1, "PUB foo.secret 2\r\nhi\r\nPUB foo.ok 2\r\nok\r\n");
  EXPECT_EQ(h.Out(1), PubErr("foo.secret") + "+OK\r\n");
}

TEST(Authorization, SubscribeAllowedDeniedQueues) {
  CoreHarness h(Options());
  h.Connect(1, As("a", "pa", /*verbose=*/true));
  h.Type(1,
         "SUB foo.hidden 1\r\nSUB q.x 2\r\nSUB q.x grp 3\r\nSUB q.x other 4\r\nSUB bar 5\r\n"
         "SUB foo.> 6\r\n");
  EXPECT_EQ(h.Out(1),
            "-ERR 'Permissions Violation for Subscription to \"foo.hidden\"'\r\n"
            "-ERR 'Permissions Violation for Subscription to \"q.x\"'\r\n"
            "+OK\r\n"
            "-ERR 'Permissions Violation for Subscription to \"q.x\" using queue \"other\"'\r\n"
            "-ERR 'Permissions Violation for Subscription to \"bar\"'\r\n"
            "+OK\r\n");
  EXPECT_FALSE(h.transport.closed(1));
  EXPECT_EQ(h.core->sublist().count(), 2u);
  EXPECT_EQ(h.core->FindSession(1)->FindSubscription("1"), nullptr);
  EXPECT_NE(h.core->FindSession(1)->FindSubscription("3"), nullptr);
}

// SUB foo.> is allowed although deny has foo.hidden: messages on the denied
// subject never reach it, in a queue group the next member gets them.
TEST(Authorization, DeniedSubjectsAreFilteredFromWiderSubscriptions) {
  CoreHarness h(Options());
  h.Connect(1, As("a", "pa"));
  h.Connect(2, As("z", "pz"));
  h.Connect(3, As("z", "pz"));
  h.Type(1, "SUB foo.> 1\r\nSUB foo.* w 2\r\n");
  h.Type(3, "SUB foo.* w 9\r\n");
  h.Type(2, "PUB foo.hidden 2\r\nh1\r\nPUB foo.ok 2\r\nok\r\nPUB foo.hidden 2\r\nh2\r\n");
  const std::string one = h.Out(1);
  EXPECT_EQ(one.find("foo.hidden"), std::string::npos) << one;
  EXPECT_NE(one.find("MSG foo.ok 1 2\r\nok\r\n"), std::string::npos) << one;
  // Both foo.hidden messages went to the queue member allowed to see them.
  const std::string three = h.Out(3);
  EXPECT_NE(three.find("MSG foo.hidden 9 2\r\nh1\r\n"), std::string::npos) << three;
  EXPECT_NE(three.find("MSG foo.hidden 9 2\r\nh2\r\n"), std::string::npos) << three;
}

TEST(Authorization, AllowResponsesWithinMax) {
  CoreHarness h(Options());
  h.Connect(1, As("r", "pr"));
  h.Connect(2, As("z", "pz"));
  h.Type(1, "SUB req.> 1\r\n");
  h.Type(2, "SUB _INBOX.> 9\r\nPUB req.1 _INBOX.x 2\r\nq1\r\n");
  EXPECT_EQ(h.Out(1), "MSG req.1 1 _INBOX.x 2\r\nq1\r\n");
  h.Type(1, "PUB _INBOX.x 2\r\nr1\r\nPUB _INBOX.x 2\r\nr2\r\nPUB _INBOX.x 2\r\nr3\r\nPUB other 2\r\nzz\r\n"
            "PUB _INBOX.never 2\r\nzz\r\n");
  EXPECT_EQ(h.Out(1), PubErr("_INBOX.x") + PubErr("other") + PubErr("_INBOX.never"));
  EXPECT_EQ(h.Out(2), "MSG _INBOX.x 9 2\r\nr1\r\nMSG _INBOX.x 9 2\r\nr2\r\n");
}

TEST(Authorization, AllowResponsesExpire) {
  CoreHarness h(Options(R"({"authorization": {"users": [
      {"user": "r", "password": "pr", "permissions": {"allow_responses": {"max": -1, "expires": "50ms"}}},
      {"user": "z", "password": "pz"}]}})"));
  h.Connect(1, As("r", "pr"));
  h.Connect(2, As("z", "pz"));
  h.Type(1, "SUB req 1\r\n");
  h.Type(2, "SUB _INBOX.> 9\r\n");
  const absl::Time requested = absl::Now();
  h.Type(2, "PUB req _INBOX.y 1\r\nq\r\n");
  h.Type(1, "PUB _INBOX.y 1\r\na\r\nPUB _INBOX.y 1\r\nb\r\n");
  if (absl::Now() - requested < absl::Milliseconds(50)) {  // else this machine was too slow to tell
    EXPECT_EQ(h.Out(1), "MSG req 1 _INBOX.y 1\r\nq\r\n");
    EXPECT_EQ(h.Out(2), "MSG _INBOX.y 9 1\r\na\r\nMSG _INBOX.y 9 1\r\nb\r\n");
  }
  while (absl::Now() - requested <= absl::Milliseconds(50)) {
    absl::SleepFor(absl::Milliseconds(5));  // waits for the condition above
  }
  h.Out(1);
  h.Type(1, "PUB _INBOX.y 1\r\nc\r\n");
  EXPECT_EQ(h.Out(1), PubErr("_INBOX.y"));
}

// A user with only allow_responses may publish nothing else, and a static
// allow covers what is also a reply subject without using a permit.
TEST(Authorization, ResponsesOnlyAndStaticRulesFirst) {
  CoreHarness h(Options(R"({"authorization": {"users": [
      {"user": "r", "password": "pr", "permissions": {"publish": ["status"], "allow_responses": true}},
      {"user": "z", "password": "pz"}]}})"));
  h.Connect(1, As("r", "pr"));
  h.Connect(2, As("z", "pz"));
  h.Type(1, "SUB svc 1\r\n");
  h.Type(2, "SUB > 9\r\nPUB svc status 0\r\n\r\nPUB svc inbox.1 0\r\n\r\n");
  h.Out(2);
  h.Type(1, "PUB status 0\r\n\r\nPUB status 0\r\n\r\nPUB inbox.1 0\r\n\r\nPUB inbox.1 0\r\n\r\nPUB x 0\r\n\r\n");
  const std::string out = h.Out(1);
  EXPECT_EQ(out.substr(out.find("-ERR")), PubErr("inbox.1") + PubErr("x"));
  EXPECT_EQ(h.Out(2), "MSG status 9 0\r\n\r\nMSG status 9 0\r\n\r\nMSG inbox.1 9 0\r\n\r\n");
}

// Also a wildcard subject from a client that is not pedantic (the Node
// client's filtered consumer create), which only the JetStream layer sees.
TEST(Authorization, JetStreamApiIsGovernedByPublishPermissions) {
  CoreHarness h(Options());
  h.Connect(1, R"({"verbose":false,"pedantic":false,"user":"a","pass":"pa"})");
  h.Type(1, "SUB _INBOX.> 1\r\nPUB $JS.API.STREAM.CREATE.S _INBOX.1 2\r\n{}\r\n"
            "PUB $JS.API.CONSUMER.CREATE.S.c.foo.* _INBOX.2 2\r\n{}\r\nPING\r\n");
  EXPECT_EQ(h.Out(1), PubErr("$JS.API.STREAM.CREATE.S") + PubErr("$JS.API.CONSUMER.CREATE.S.c.foo.*") +
                          "PONG\r\n");
}

TEST(Authorization, DefaultPermissionsForTokenAndUsersWithoutTheirOwn) {
  CoreHarness h(Options(R"({"authorization": {
      "token": "t", "permissions": {"publish": {"deny": ["$JS.API.>"]}}}})"));
  h.Connect(1, R"({"verbose":false,"auth_token":"t"})");
  h.Type(1, "PUB $JS.API.INFO 0\r\n\r\nPUB ok 0\r\n\r\nPING\r\n");
  EXPECT_EQ(h.Out(1), PubErr("$JS.API.INFO") + "PONG\r\n");

  CoreHarness u(Options(R"({"authorization": {"default_permissions": {"subscribe": ["pub.>"]}, "users": [
      {"user": "own", "password": "p", "permissions": {"subscribe": [">"]}},
      {"user": "dflt", "password": "p"}]}})"));
  u.Connect(1, As("own", "p"));
  u.Connect(2, As("dflt", "p"));
  u.Type(1, "SUB x 1\r\nPING\r\n");
  u.Type(2, "SUB x 1\r\nSUB pub.x 2\r\nPING\r\n");
  EXPECT_EQ(u.Out(1), "PONG\r\n");
  EXPECT_EQ(u.Out(2), "-ERR 'Permissions Violation for Subscription to \"x\"'\r\nPONG\r\n");
}

TEST(Limits, MaxSubscriptionsKeepsTheConnection) {
  CoreHarness h(Options());  // max_subscriptions 4
  h.Connect(1, As("z", "pz", /*verbose=*/true));
  h.Type(1, "SUB a 1\r\nSUB b 2\r\nSUB c 3\r\nSUB d q 4\r\nSUB e 5\r\nSUB a 1\r\n");
  EXPECT_EQ(h.Out(1), "+OK\r\n+OK\r\n+OK\r\n+OK\r\n" + std::string(kErrMaxSubscriptions) +
                          std::string(kErrMaxSubscriptions));
  EXPECT_FALSE(h.transport.closed(1));
  EXPECT_EQ(h.core->sublist().count(), 4u);
  h.Type(1, "UNSUB 2\r\nSUB e 5\r\nPUB e 1\r\nx\r\n");
  EXPECT_EQ(h.Out(1), "+OK\r\n+OK\r\n+OK\r\nMSG e 5 1\r\nx\r\n");
}

TEST(Limits, MaxSubscriptionsZeroIsUnlimited) {
  ServerOptions o;
  o.max_subscriptions = 0;
  CoreHarness h(o);
  h.Connect(1);
  for (int i = 0; i < 100000; ++i) h.Type(1, "SUB s." + std::to_string(i) + " " + std::to_string(i) + "\r\n");
  EXPECT_EQ(h.Out(1), "");
  EXPECT_EQ(h.core->sublist().count(), 100000u);
}

// Permitted publishes of a user with rules (long enough to be cached) route
// without allocating, as publishes without rules do.
TEST(Authorization, PermittedPublishesAllocateNothing) {
  std::string users = R"({"authorization": {"users": [{"user": "a", "password": "p", "permissions": {
      "publish": {"allow": [)";
  for (int i = 0; i < 20; ++i) users += "\"app" + std::to_string(i) + ".>\",";
  users += R"("telemetry.>"], "deny": ["telemetry.secret"]},
      "subscribe": {"allow": [">"], "deny": ["telemetry.secret"]}}},
      {"user": "small", "password": "p", "permissions": {"publish": ["telemetry.>"]}}]}})";
  CoreHarness h(Options(users));
  h.Connect(1, As("a", "p"));
  h.Connect(2, As("small", "p"));
  h.Connect(3, As("a", "p"));
  h.Type(3, "SUB telemetry.> 1\r\n");  // filtered: overlaps the deny entry
  h.transport.Reserve(3, 1 << 20);
  const std::string batch =
      "PUB telemetry.cpu 4\r\n0.25\r\nPUB telemetry.mem 4\r\n0.50\r\nPUB telemetry.disk 4\r\n0.75\r\n";
  for (int i = 0; i < 3; ++i) {  // warm: caches and buffers
    h.Type(1, batch);
    h.Type(2, batch);
  }
  h.transport.Clear(3);
  std::string copy = batch;
  ::shortbus::testing::StartCountingAllocations();
  for (int i = 0; i < 100; ++i) {
    h.core->OnData(1, copy.data(), copy.size());
    h.core->OnData(2, copy.data(), copy.size());
  }
  EXPECT_EQ(::shortbus::testing::StopCountingAllocations(), 0u);
  const std::string got = h.Out(3);
  size_t msgs = 0;
  for (size_t at = got.find("MSG "); at != std::string::npos; at = got.find("MSG ", at + 1)) ++msgs;
  EXPECT_EQ(msgs, 600u);
}

}  // namespace
}  // namespace shortbus::server
