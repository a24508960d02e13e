// End-to-end tests with the official NATS C client (libnats) against the
// server named by E2E_SERVER_KIND / E2E_SERVER_BIN (see meson.build): the
// same tests run against nats-server, to prove they test the right thing,
// and against shortbusd.
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/e2e/nats_c_util.h"
#include "tests/e2e/server_launcher.h"

namespace shortbus::e2e {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Tests that share one server without authentication.
class NatsC : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = StartServerFromEnv(&start_error_).release(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(start_error_, "");
    ASSERT_EQ(Connect(&nc_, server_->url()), NATS_OK) << nats_GetLastError(nullptr);
  }
  Owned<natsSubscription> SubSync(const char* subject, natsConnection* nc = nullptr) {
    natsSubscription* sub = nullptr;
    EXPECT_EQ(natsConnection_SubscribeSync(&sub, nc ? nc : nc_.get(), subject), NATS_OK);
    return Owned<natsSubscription>(sub);
  }

  static ServerProcess* server_;
  static std::string start_error_;
  Owned<natsConnection> nc_;
};
ServerProcess* NatsC::server_ = nullptr;
std::string NatsC::start_error_;

TEST_F(NatsC, ConnectsOverTcp) {
  EXPECT_EQ(natsConnection_Status(nc_.get()), NATS_CONN_STATUS_CONNECTED);
  char id[256] = {};
  ASSERT_EQ(natsConnection_GetConnectedServerId(nc_.get(), id, sizeof id), NATS_OK);
  EXPECT_GT(std::strlen(id), 0u) << "INFO without server_id";
  EXPECT_EQ(natsConnection_GetMaxPayload(nc_.get()), 1024 * 1024) << "INFO max_payload";
}

TEST_F(NatsC, FlushIsAPingPongRoundTrip) {
  for (int i = 0; i < 20; ++i) ASSERT_EQ(natsConnection_FlushTimeout(nc_.get(), 2000), NATS_OK);
  int64_t rtt = -1;
  ASSERT_EQ(natsConnection_GetRTT(nc_.get(), &rtt), NATS_OK);
  EXPECT_GE(rtt, 0);
  EXPECT_LT(rtt, 1'000'000'000) << "round trip over loopback took " << rtt << " ns";
}

TEST_F(NatsC, PublishSubscribe) {
  auto sub = SubSync("e2e.pubsub");
  // A second connection publishes: the message crosses the server.
  Owned<natsConnection> pub;
  ASSERT_EQ(Connect(&pub, server_->url()), NATS_OK);
  ASSERT_EQ(natsConnection_Flush(nc_.get()), NATS_OK);  // SUB has reached the server
  ASSERT_EQ(natsConnection_PublishString(pub.get(), "e2e.pubsub", "hello"), NATS_OK);
  ASSERT_EQ(natsConnection_PublishString(pub.get(), "e2e.other", "not for us"), NATS_OK);
  ASSERT_EQ(natsConnection_Publish(pub.get(), "e2e.pubsub", nullptr, 0), NATS_OK);
  auto m = Next(sub.get());
  ASSERT_TRUE(m);
  EXPECT_STREQ(natsMsg_GetSubject(m.get()), "e2e.pubsub");
  EXPECT_EQ(Data(m.get()), "hello");
  EXPECT_EQ(natsMsg_GetReply(m.get()), nullptr);
  auto empty = Next(sub.get());
  ASSERT_TRUE(empty);
  EXPECT_EQ(natsMsg_GetDataLength(empty.get()), 0);
  ASSERT_EQ(natsConnection_Flush(nc_.get()), NATS_OK);
  EXPECT_EQ(Pending(sub.get()), 0);
}

TEST_F(NatsC, Wildcards) {
  auto star = SubSync("w.*.x");
  auto tail = SubSync("w.>");
  auto exact = SubSync("w.a.x");
  const char* subjects[] = {"w.a.x", "w.b.x", "w.a.b.x", "w.a", "w", "v.a.x", "w.a.x.y"};
  for (const char* s : subjects) ASSERT_EQ(natsConnection_PublishString(nc_.get(), s, s), NATS_OK);
  // Messages for our own subscriptions arrive before the PONG of this flush.
  ASSERT_EQ(natsConnection_Flush(nc_.get()), NATS_OK);
  auto received = [](natsSubscription* sub) {
    std::vector<std::string> got;
    while (Pending(sub) > 0) {
      auto m = Next(sub, 100);
      if (!m) break;
      EXPECT_EQ(Data(m.get()), natsMsg_GetSubject(m.get()));
      got.push_back(natsMsg_GetSubject(m.get()));
    }
    return got;
  };
  EXPECT_EQ(received(star.get()), (std::vector<std::string>{"w.a.x", "w.b.x"}));
  EXPECT_EQ(received(tail.get()),
            (std::vector<std::string>{"w.a.x", "w.b.x", "w.a.b.x", "w.a", "w.a.x.y"}));
  EXPECT_EQ(received(exact.get()), (std::vector<std::string>{"w.a.x"}));
}

TEST_F(NatsC, QueueGroupDeliversEachMessageOnceAcrossMembers) {
  constexpr int kMembers = 3, kMessages = 300;
  std::vector<Owned<natsConnection>> conns(kMembers);
  std::vector<Owned<natsSubscription>> members;
  for (auto& c : conns) {
    ASSERT_EQ(Connect(&c, server_->url()), NATS_OK);
    natsSubscription* sub = nullptr;
    ASSERT_EQ(natsConnection_QueueSubscribeSync(&sub, c.get(), "q.work", "workers"), NATS_OK);
    members.emplace_back(sub);
    ASSERT_EQ(natsConnection_Flush(c.get()), NATS_OK);
  }
  auto plain = SubSync("q.work");  // outside the group: sees every message
  ASSERT_EQ(natsConnection_Flush(nc_.get()), NATS_OK);
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_EQ(natsConnection_PublishString(nc_.get(), "q.work", std::to_string(i).c_str()),
              NATS_OK);
  }
  ASSERT_EQ(natsConnection_Flush(nc_.get()), NATS_OK);
  // Routed before our PONG; each member's PING now queues behind them.
  for (auto& c : conns) ASSERT_EQ(natsConnection_Flush(c.get()), NATS_OK);
  std::map<std::string, int> times;
  for (int i = 0; i < kMembers; ++i) {
    int got = 0;
    while (Pending(members[i].get()) > 0) {
      auto m = Next(members[i].get(), 100);
      if (!m) break;
      ++times[Data(m.get())];
      ++got;
    }
    EXPECT_GT(got, 0) << "member " << i << " received nothing of " << kMessages;
  }
  EXPECT_EQ(times.size(), size_t{kMessages});
  for (const auto& [payload, n] : times) EXPECT_EQ(n, 1) << "message " << payload;
  EXPECT_EQ(Pending(plain.get()), kMessages);
}

TEST_F(NatsC, HeadersRoundTrip) {
  auto sub = SubSync("h.subject");
  natsMsg* raw = nullptr;
  ASSERT_EQ(natsMsg_Create(&raw, "h.subject", nullptr, "body", 4), NATS_OK);
  Owned<natsMsg> out(raw);
  ASSERT_EQ(natsMsgHeader_Set(out.get(), "X-Trace", "abc 123"), NATS_OK);
  ASSERT_EQ(natsMsgHeader_Add(out.get(), "X-Multi", "one"), NATS_OK);
  ASSERT_EQ(natsMsgHeader_Add(out.get(), "X-Multi", "two"), NATS_OK);
  ASSERT_EQ(natsConnection_PublishMsg(nc_.get(), out.get()), NATS_OK);
  auto in = Next(sub.get());
  ASSERT_TRUE(in);
  EXPECT_EQ(Data(in.get()), "body");
  const char* value = nullptr;
  ASSERT_EQ(natsMsgHeader_Get(in.get(), "X-Trace", &value), NATS_OK);
  EXPECT_STREQ(value, "abc 123");
  const char** values = nullptr;
  int count = 0;
  ASSERT_EQ(natsMsgHeader_Values(in.get(), "X-Multi", &values, &count), NATS_OK);
  ASSERT_EQ(count, 2);
  EXPECT_STREQ(values[0], "one");
  EXPECT_STREQ(values[1], "two");
  free(values);
  EXPECT_EQ(natsMsgHeader_Get(in.get(), "X-Absent", &value), NATS_NOT_FOUND);
}

void Echo(natsConnection* nc, natsSubscription*, natsMsg* msg, void*) {
  std::string reply = "echo:" + Data(msg);
  natsConnection_PublishString(nc, natsMsg_GetReply(msg), reply.c_str());
  natsMsg_Destroy(msg);
}

TEST_F(NatsC, RequestReply) {
  Owned<natsConnection> responder_conn;
  ASSERT_EQ(Connect(&responder_conn, server_->url()), NATS_OK);
  natsSubscription* raw = nullptr;
  ASSERT_EQ(natsConnection_Subscribe(&raw, responder_conn.get(), "svc.echo", Echo, nullptr),
            NATS_OK);
  Owned<natsSubscription> responder(raw);
  ASSERT_EQ(natsConnection_Flush(responder_conn.get()), NATS_OK);
  for (int i = 0; i < 10; ++i) {
    natsMsg* reply = nullptr;
    std::string body = "ping " + std::to_string(i);
    ASSERT_EQ(natsConnection_RequestString(&reply, nc_.get(), "svc.echo", body.c_str(), 2000),
              NATS_OK)
        << nats_GetLastError(nullptr);
    Owned<natsMsg> owned(reply);
    EXPECT_EQ(Data(reply), "echo:" + body);
  }
}

TEST_F(NatsC, RequestWithoutRespondersFailsFast) {
  natsMsg* reply = nullptr;
  const auto start = Clock::now();
  natsStatus s = natsConnection_RequestString(&reply, nc_.get(), "nobody.listens", "hi", 5000);
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  Owned<natsMsg> owned(reply);
  EXPECT_EQ(s, NATS_NO_RESPONDERS) << natsStatus_GetText(s);
  EXPECT_LT(took.count(), 1000) << "no-responders must not wait for the timeout";
}

TEST_F(NatsC, AutoUnsubscribeAfterN) {
  auto sub = SubSync("auto.unsub");
  ASSERT_EQ(natsSubscription_AutoUnsubscribe(sub.get(), 3), NATS_OK);
  auto watcher = SubSync("auto.unsub");  // proves all 10 were published
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(natsConnection_PublishString(nc_.get(), "auto.unsub", std::to_string(i).c_str()),
              NATS_OK);
  }
  ASSERT_EQ(natsConnection_Flush(nc_.get()), NATS_OK);
  EXPECT_EQ(Pending(watcher.get()), 10);
  for (int i = 0; i < 3; ++i) {
    auto m = Next(sub.get());
    ASSERT_TRUE(m) << i;
    EXPECT_EQ(Data(m.get()), std::to_string(i));
  }
  natsMsg* extra = nullptr;
  EXPECT_EQ(natsSubscription_NextMsg(&extra, sub.get(), 200), NATS_MAX_DELIVERED_MSGS);
  EXPECT_FALSE(natsSubscription_IsValid(sub.get()));
  // The server dropped the subscription itself (libnats sent UNSUB 1 3 and
  // no second UNSUB): with the watcher gone, nobody answers a request.
  ASSERT_EQ(natsSubscription_Unsubscribe(watcher.get()), NATS_OK);
  natsMsg* reply = nullptr;
  natsStatus s = natsConnection_RequestString(&reply, nc_.get(), "auto.unsub", "?", 2000);
  Owned<natsMsg> owned(reply);
  EXPECT_EQ(s, NATS_NO_RESPONDERS) << natsStatus_GetText(s);
}

TEST_F(NatsC, MaxPayload) {
  const int64_t max = natsConnection_GetMaxPayload(nc_.get());
  ASSERT_GT(max, 0);
  auto sub = SubSync("big");
  std::string payload(static_cast<size_t>(max), 'p');
  ASSERT_EQ(natsConnection_Publish(nc_.get(), "big", payload.data(), static_cast<int>(max)),
            NATS_OK);
  auto m = Next(sub.get(), 5000);
  ASSERT_TRUE(m) << "a payload of exactly max_payload must be delivered";
  EXPECT_EQ(natsMsg_GetDataLength(m.get()), max);
  payload.push_back('p');
  EXPECT_EQ(natsConnection_Publish(nc_.get(), "big", payload.data(), static_cast<int>(max + 1)),
            NATS_MAX_PAYLOAD);
  // The connection is still fine.
  EXPECT_EQ(natsConnection_FlushTimeout(nc_.get(), 2000), NATS_OK);
}

struct Ordered {
  Event done;
  std::atomic<int> expected{0};
  std::atomic<int> out_of_order{0};
  int target = 0;
};

void CheckOrder(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* o = static_cast<Ordered*>(closure);
  uint32_t seq = 0;
  if (natsMsg_GetDataLength(msg) == sizeof seq) std::memcpy(&seq, natsMsg_GetData(msg), sizeof seq);
  if (seq != static_cast<uint32_t>(o->expected)) ++o->out_of_order;
  if (++o->expected == o->target) o->done.Notify();
  natsMsg_Destroy(msg);
}

TEST_F(NatsC, ManyMessagesArriveAllAndInOrder) {
  constexpr int kMessages = 100'000;
  Ordered ordered;
  ordered.target = kMessages;
  Owned<natsConnection> sub_conn;
  ASSERT_EQ(Connect(&sub_conn, server_->url()), NATS_OK);
  natsSubscription* raw = nullptr;
  ASSERT_EQ(natsConnection_Subscribe(&raw, sub_conn.get(), "many", CheckOrder, &ordered),
            NATS_OK);
  Owned<natsSubscription> sub(raw);
  ASSERT_EQ(natsSubscription_SetPendingLimits(sub.get(), -1, -1), NATS_OK);
  ASSERT_EQ(natsConnection_Flush(sub_conn.get()), NATS_OK);
  for (uint32_t i = 0; i < kMessages; ++i) {
    ASSERT_EQ(natsConnection_Publish(nc_.get(), "many", &i, sizeof i), NATS_OK);
  }
  ASSERT_EQ(natsConnection_Flush(nc_.get()), NATS_OK);
  EXPECT_TRUE(ordered.done.WaitFor(1, milliseconds(30'000)))
      << "received " << ordered.expected.load() << " of " << kMessages;
  EXPECT_EQ(ordered.out_of_order, 0);
  // Nothing more than was sent.
  ASSERT_EQ(natsConnection_Flush(sub_conn.get()), NATS_OK);
  ASSERT_EQ(natsSubscription_Unsubscribe(sub.get()), NATS_OK);
  EXPECT_EQ(ordered.expected, kMessages);
}

// --- tests with a server of their own ---

void OnDisconnected(natsConnection*, void* closure) { static_cast<Event*>(closure)[0].Notify(); }
void OnReconnected(natsConnection*, void* closure) { static_cast<Event*>(closure)[1].Notify(); }

TEST(NatsCReconnect, ClientReconnectsAfterServerRestartsOnSamePort) {
  std::string error;
  auto server = StartServerFromEnv(&error);
  ASSERT_EQ(error, "");
  Event events[2];  // disconnected, reconnected
  Event closed;
  Owned<natsConnection> nc;
  ASSERT_EQ(Connect(&nc, server->url(),
                    [&](natsOptions* o) {
                      natsOptions_SetMaxReconnect(o, -1);
                      natsOptions_SetReconnectWait(o, 50);
                      natsOptions_SetReconnectJitter(o, 0, 0);
                      natsOptions_SetDisconnectedCB(o, OnDisconnected, events);
                      natsOptions_SetReconnectedCB(o, OnReconnected, events);
                      natsOptions_SetClosedCB(o, ClosedFirst::OnClosed, &closed);
                    }),
            NATS_OK);
  const ClosedFirst closed_first(nc.get(), &closed);
  natsSubscription* raw = nullptr;
  ASSERT_EQ(natsConnection_SubscribeSync(&raw, nc.get(), "re.connect"), NATS_OK);
  Owned<natsSubscription> sub(raw);
  ASSERT_EQ(natsConnection_PublishString(nc.get(), "re.connect", "before"), NATS_OK);
  auto m = Next(sub.get());
  ASSERT_TRUE(m);
  EXPECT_EQ(Data(m.get()), "before");

  const int port = server->port();
  // SIGTERM ends the server by itself, without the SIGKILL that follows
  // 10 s later. shortbusd exits 0; nats-server 2.9.10 exits 1.
  const int status = server->Stop();
  ASSERT_TRUE(WIFEXITED(status)) << "wait status " << status;
  if (TargetFromEnv().kind == "shortbusd") {
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  ASSERT_TRUE(events[0].WaitFor(1, milliseconds(10'000))) << "no disconnect seen";
  ASSERT_EQ(server->Restart(), "");
  ASSERT_EQ(server->port(), port);
  ASSERT_TRUE(events[1].WaitFor(1, milliseconds(10'000))) << "client did not reconnect";
  EXPECT_EQ(natsConnection_Status(nc.get()), NATS_CONN_STATUS_CONNECTED);
  // The client re-sent its SUB: a fresh connection's publish reaches it.
  ASSERT_EQ(natsConnection_Flush(nc.get()), NATS_OK);
  Owned<natsConnection> pub;
  ASSERT_EQ(Connect(&pub, server->url()), NATS_OK);
  ASSERT_EQ(natsConnection_PublishString(pub.get(), "re.connect", "after"), NATS_OK);
  m = Next(sub.get(), 5000);
  ASSERT_TRUE(m) << "subscription did not resume after reconnect";
  EXPECT_EQ(Data(m.get()), "after");
}

TEST(NatsCAuth, Token) {
  std::string error;
  auto server = StartServerFromEnv(&error, ServerOptions::Token("s3cret-token"));
  ASSERT_EQ(error, "");
  Owned<natsConnection> nc;
  ASSERT_EQ(Connect(&nc, server->url(),
                    [](natsOptions* o) { natsOptions_SetToken(o, "s3cret-token"); }),
            NATS_OK);
  EXPECT_EQ(natsConnection_FlushTimeout(nc.get(), 2000), NATS_OK);

  Owned<natsConnection> bad;
  EXPECT_EQ(Connect(&bad, server->url(), [](natsOptions* o) { natsOptions_SetToken(o, "wrong"); }),
            NATS_CONNECTION_AUTH_FAILED);
  EXPECT_EQ(Connect(&bad, server->url()), NATS_CONNECTION_AUTH_FAILED) << "no token at all";
}

TEST(NatsCAuth, UserPassword) {
  std::string error;
  auto server = StartServerFromEnv(&error, ServerOptions::UserPassword("alice", "pa55 word"));
  ASSERT_EQ(error, "");
  Owned<natsConnection> nc;
  ASSERT_EQ(Connect(&nc, server->url(),
                    [](natsOptions* o) { natsOptions_SetUserInfo(o, "alice", "pa55 word"); }),
            NATS_OK);
  EXPECT_EQ(natsConnection_FlushTimeout(nc.get(), 2000), NATS_OK);

  Owned<natsConnection> bad;
  EXPECT_EQ(Connect(&bad, server->url(),
                    [](natsOptions* o) { natsOptions_SetUserInfo(o, "alice", "wrong"); }),
            NATS_CONNECTION_AUTH_FAILED);
  EXPECT_EQ(Connect(&bad, server->url(),
                    [](natsOptions* o) { natsOptions_SetUserInfo(o, "bob", "pa55 word"); }),
            NATS_CONNECTION_AUTH_FAILED);
  EXPECT_EQ(Connect(&bad, server->url()), NATS_CONNECTION_AUTH_FAILED) << "no credentials";
}

}  // namespace
}  // namespace shortbus::e2e
