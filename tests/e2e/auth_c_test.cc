// Authorization and per-connection limits with the official NATS C client
// (libnats), against the server E2E_SERVER_KIND names: the same JSON config
// file goes to nats-server (-c) and to shortbusd (--config), and the same
// scenarios must give the same outcome and the same error text on both
// (tests/e2e/meson.build runs this file once per server).
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <unistd.h>

#include <chrono>
#include <algorithm>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/nats_c_util.h"
#include "tests/e2e/server_launcher.h"
#include "tests/server/daemon_harness.h"

namespace shortbus::e2e {
namespace {

using std::chrono::milliseconds;

constexpr char kConfig[] = R"({
  "authorization": {
    "users": [
      {"user": "admin", "password": "admin-pw"},
      {"user": "app", "password": "app-pw", "permissions": {
        "publish": {"allow": ["orders.>"], "deny": ["orders.secret"]},
        "subscribe": {"allow": ["orders.>", "_INBOX.>", "work.* workers"], "deny": ["orders.hidden"]}
      }},
      {"user": "svc", "password": "svc-pw", "permissions": {
        "subscribe": ["svc.>"],
        "allow_responses": {"max": 1, "expires": "1m"}
      }},
      {"user": "nojs", "password": "nojs-pw", "permissions": {
        "publish": {"deny": ["$JS.API.>"]},
        "subscribe": ["_INBOX.>"]
      }}
    ]
  }
})";

// The error texts a connection's asynchronous error handler saw (the
// client takes the quotes and "-ERR" off the server's line).
class Errors {
 public:
  static void Handler(natsConnection* nc, natsSubscription*, natsStatus s, void* closure) {
    auto* self = static_cast<Errors*>(closure);
    const char* text = nullptr;
    natsConnection_GetLastError(nc, &text);
    {
      std::lock_guard<std::mutex> l(self->mu_);
      self->seen_.push_back(std::string(natsStatus_GetText(s)) + ": " + (text ? text : ""));
    }
    self->event_.Notify();
  }
  // Waits (bounded) for the n-th error and returns it, "" if it did not
  // come. The client keeps one "last error", so a test lets each error
  // arrive before causing the next.
  std::string Nth(int n) {
    event_.WaitFor(n, milliseconds(5000));
    std::lock_guard<std::mutex> l(mu_);
    return static_cast<int>(seen_.size()) >= n ? seen_[n - 1] : "";
  }
  size_t count() {
    std::lock_guard<std::mutex> l(mu_);
    return seen_.size();
  }

 private:
  std::mutex mu_;
  std::vector<std::string> seen_;
  Event event_;
};

std::string Denied(const std::string& words) { return "Not Permitted: Permissions Violation for " + words; }

class AuthC : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ServerOptions o;
    o.config_json = kConfig;
    o.jetstream = true;
    server_ = StartServerFromEnv(&start_error_, o).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_EQ(start_error_, ""); }

  // Connects as `user`, reporting asynchronous errors to `errors`.
  Owned<natsConnection> As(const char* user, const char* password, Errors* errors = nullptr) {
    Owned<natsConnection> nc;
    const natsStatus s = Connect(&nc, server_->url(), [&](natsOptions* o) {
      natsOptions_SetUserInfo(o, user, password);
      if (errors != nullptr) natsOptions_SetErrorHandler(o, &Errors::Handler, errors);
    });
    EXPECT_EQ(s, NATS_OK) << user << ": " << nats_GetLastError(nullptr);
    return nc;
  }
  static Owned<natsSubscription> SubSync(natsConnection* nc, const char* subject, const char* queue = nullptr) {
    natsSubscription* sub = nullptr;
    const natsStatus s = queue == nullptr ? natsConnection_SubscribeSync(&sub, nc, subject)
                                          : natsConnection_QueueSubscribeSync(&sub, nc, subject, queue);
    EXPECT_EQ(s, NATS_OK) << subject;
    return Owned<natsSubscription>(sub);
  }

  static ServerProcess* server_;
  static std::string start_error_;
};
ServerProcess* AuthC::server_ = nullptr;
std::string AuthC::start_error_;

TEST_F(AuthC, PublishAllowedIsDeliveredDeniedIsDroppedAndTheConnectionStays) {
  auto admin = As("admin", "admin-pw");
  auto all = SubSync(admin.get(), ">");
  ASSERT_EQ(natsConnection_Flush(admin.get()), NATS_OK);
  Errors errors;
  auto app = As("app", "app-pw", &errors);
  int n = 0;
  for (const char* subject : {"orders.1", "orders.secret", "elsewhere.x", "orders.2"}) {
    ASSERT_EQ(natsConnection_PublishString(app.get(), subject, subject), NATS_OK);
    ASSERT_EQ(natsConnection_FlushTimeout(app.get(), 2000), NATS_OK);
    if (std::string(subject).starts_with("orders.") && std::string(subject) != "orders.secret") continue;
    EXPECT_EQ(errors.Nth(++n), Denied("Publish to \"" + std::string(subject) + "\""));
  }
  EXPECT_EQ(errors.count(), 2u);
  EXPECT_EQ(natsConnection_Status(app.get()), NATS_CONN_STATUS_CONNECTED);
  ASSERT_EQ(natsConnection_Flush(admin.get()), NATS_OK);
  std::vector<std::string> got;
  while (auto m = Next(all.get(), 500)) got.push_back(natsMsg_GetSubject(m.get()));
  EXPECT_EQ(got, (std::vector<std::string>{"orders.1", "orders.2"}));
}

TEST_F(AuthC, SubscribeDeniedAllowedAndFiltered) {
  Errors errors;
  auto app = As("app", "app-pw", &errors);
  auto refused = [&](int n, const char* subject, const char* queue, const std::string& words) {
    auto sub = SubSync(app.get(), subject, queue);
    EXPECT_EQ(natsConnection_FlushTimeout(app.get(), 2000), NATS_OK);
    EXPECT_EQ(errors.Nth(n), Denied("Subscription to " + words));
    return sub;
  };
  auto hidden = refused(1, "orders.hidden", nullptr, "\"orders.hidden\"");
  auto elsewhere = refused(2, "elsewhere", nullptr, "\"elsewhere\"");
  auto other_queue = refused(3, "work.x", "other", "\"work.x\" using queue \"other\"");
  auto workers = SubSync(app.get(), "work.x", "workers");
  auto orders = SubSync(app.get(), "orders.>");  // allowed; orders.hidden is filtered out
  ASSERT_EQ(natsConnection_FlushTimeout(app.get(), 2000), NATS_OK);
  auto admin = As("admin", "admin-pw");
  for (const char* subject : {"orders.hidden", "orders.ok", "elsewhere", "work.x"}) {
    ASSERT_EQ(natsConnection_PublishString(admin.get(), subject, subject), NATS_OK);
  }
  ASSERT_EQ(natsConnection_FlushTimeout(admin.get(), 2000), NATS_OK);
  ASSERT_EQ(natsConnection_FlushTimeout(app.get(), 2000), NATS_OK);
  auto m = Next(orders.get());
  ASSERT_TRUE(m);
  EXPECT_STREQ(natsMsg_GetSubject(m.get()), "orders.ok");
  m = Next(workers.get());
  ASSERT_TRUE(m);
  EXPECT_STREQ(natsMsg_GetSubject(m.get()), "work.x");
  EXPECT_EQ(Pending(orders.get()), 0);
  EXPECT_EQ(Pending(hidden.get()), 0);
  EXPECT_EQ(Pending(elsewhere.get()), 0);
  EXPECT_EQ(Pending(other_queue.get()), 0);
  EXPECT_EQ(errors.count(), 3u);
}

// svc may publish nothing but one response to each request it receives.
TEST_F(AuthC, AllowResponsesInRequestReply) {
  Errors errors;
  auto svc = As("svc", "svc-pw", &errors);
  auto requests = SubSync(svc.get(), "svc.echo");
  ASSERT_EQ(natsConnection_Flush(svc.get()), NATS_OK);
  auto admin = As("admin", "admin-pw");
  auto inbox = SubSync(admin.get(), "_INBOX.auth.1");
  ASSERT_EQ(natsConnection_Flush(admin.get()), NATS_OK);
  ASSERT_EQ(natsConnection_PublishRequestString(admin.get(), "svc.echo", "_INBOX.auth.1", "ping"), NATS_OK);
  auto req = Next(requests.get());
  ASSERT_TRUE(req);
  ASSERT_STREQ(natsMsg_GetReply(req.get()), "_INBOX.auth.1");
  ASSERT_EQ(natsConnection_PublishString(svc.get(), "_INBOX.auth.1", "first"), NATS_OK);
  ASSERT_EQ(natsConnection_PublishString(svc.get(), "_INBOX.auth.1", "second"), NATS_OK);  // max 1
  ASSERT_EQ(natsConnection_FlushTimeout(svc.get(), 2000), NATS_OK);
  EXPECT_EQ(errors.Nth(1), Denied("Publish to \"_INBOX.auth.1\""));
  ASSERT_EQ(natsConnection_PublishString(svc.get(), "svc.other", "not a reply"), NATS_OK);
  ASSERT_EQ(natsConnection_FlushTimeout(svc.get(), 2000), NATS_OK);
  EXPECT_EQ(errors.Nth(2), Denied("Publish to \"svc.other\""));
  ASSERT_EQ(natsConnection_Flush(admin.get()), NATS_OK);
  auto reply = Next(inbox.get());
  ASSERT_TRUE(reply);
  EXPECT_EQ(Data(reply.get()), "first");
  EXPECT_EQ(Pending(inbox.get()), 0);

  // The client's own request API: its reply inbox is allowed once.
  natsMsg* answer = nullptr;
  std::thread responder([&] {
    if (auto r = Next(requests.get(), 5000)) {
      natsConnection_PublishString(svc.get(), natsMsg_GetReply(r.get()), "pong");
    }
  });
  EXPECT_EQ(natsConnection_RequestString(&answer, admin.get(), "svc.echo", "ping", 5000), NATS_OK);
  responder.join();
  Owned<natsMsg> owned(answer);
  ASSERT_TRUE(owned);
  EXPECT_EQ(Data(owned.get()), "pong");
}

TEST_F(AuthC, JetStreamApiDeniedWithoutItsSubjects) {
  Errors errors;
  auto nojs = As("nojs", "nojs-pw", &errors);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 1000;
  jsCtx* raw = nullptr;
  ASSERT_EQ(natsConnection_JetStream(&raw, nojs.get(), &jo), NATS_OK);
  Owned<jsCtx> js(raw);
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = "AUTHJS";
  const char* subjects[] = {"authjs.>"};
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  jsErrCode err = static_cast<jsErrCode>(0);
  EXPECT_NE(js_AddStream(nullptr, js.get(), &cfg, nullptr, &err), NATS_OK);
  EXPECT_EQ(errors.Nth(1), Denied("Publish to \"$JS.API.STREAM.CREATE.AUTHJS\""));
  EXPECT_EQ(natsConnection_Status(nojs.get()), NATS_CONN_STATUS_CONNECTED);
  // Plain publishing still works for it.
  EXPECT_EQ(natsConnection_PublishString(nojs.get(), "authjs.1", "x"), NATS_OK);
  EXPECT_EQ(natsConnection_FlushTimeout(nojs.get(), 2000), NATS_OK);

  // admin, with no permissions, creates it; nojs still cannot read it.
  auto admin = As("admin", "admin-pw");
  ASSERT_EQ(natsConnection_JetStream(&raw, admin.get(), &jo), NATS_OK);
  Owned<jsCtx> admin_js(raw);
  jsStreamInfo* si = nullptr;
  ASSERT_EQ(js_AddStream(&si, admin_js.get(), &cfg, nullptr, &err), NATS_OK) << err;
  Owned<jsStreamInfo> info(si);
  EXPECT_NE(js_GetStreamInfo(&si, js.get(), "AUTHJS", nullptr, &err), NATS_OK);
  EXPECT_EQ(errors.Nth(2), Denied("Publish to \"$JS.API.STREAM.INFO.AUTHJS\""));
  ASSERT_EQ(js_DeleteStream(admin_js.get(), "AUTHJS", nullptr, &err), NATS_OK) << err;
}

// Limits: a client that goes past one gets the server's words. The C
// client closes its connection on any -ERR it does not know as harmless.
class AuthCLimits : public ::testing::Test {
 protected:
  // Starts the target with `config`; the test fails when it does not start.
  void Start(const char* config) {
    ServerOptions o;
    o.config_json = config;
    std::string error;
    server = StartServerFromEnv(&error, o);
    ASSERT_EQ(error, "");
  }
  std::unique_ptr<ServerProcess> server;
};

TEST_F(AuthCLimits, MaxSubscriptions) {
  ASSERT_NO_FATAL_FAILURE(Start(R"({"max_subscriptions": 3})"));
  Owned<natsConnection> nc;
  ASSERT_EQ(Connect(&nc, server->url()), NATS_OK);
  std::vector<Owned<natsSubscription>> subs;
  for (const char* subject : {"a", "b", "c"}) {
    natsSubscription* sub = nullptr;
    ASSERT_EQ(natsConnection_SubscribeSync(&sub, nc.get(), subject), NATS_OK);
    subs.emplace_back(sub);
  }
  ASSERT_EQ(natsConnection_FlushTimeout(nc.get(), 2000), NATS_OK);
  natsSubscription* fourth = nullptr;
  ASSERT_EQ(natsConnection_SubscribeSync(&fourth, nc.get(), "d"), NATS_OK);
  subs.emplace_back(fourth);
  natsConnection_FlushTimeout(nc.get(), 2000);
  const char* text = nullptr;
  natsConnection_GetLastError(nc.get(), &text);
  ASSERT_NE(text, nullptr);
  EXPECT_STREQ(text, "maximum subscriptions exceeded");
}

TEST_F(AuthCLimits, MaxConnections) {
  ASSERT_NO_FATAL_FAILURE(Start(R"({"max_connections": 2})"));
  Owned<natsConnection> one, two, three;
  ASSERT_EQ(Connect(&one, server->url()), NATS_OK);
  // The launcher's readiness probe (a TCP connect and close) holds a slot
  // until the server has seen it close (nats-server counts it meanwhile):
  // the second connection is retried until it is free, bounded.
  natsStatus second = Connect(&two, server->url());
  for (const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(5);
       second != NATS_OK && std::chrono::steady_clock::now() < limit;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    second = Connect(&two, server->url());
  }
  ASSERT_EQ(second, NATS_OK);
  EXPECT_NE(Connect(&three, server->url()), NATS_OK);
  // The words, read off the wire: the client reports only a missing PONG.
  const int fd = shortbus::testing::ConnectTcp(server->port());
  ASSERT_GE(fd, 0);
  std::string got;
  EXPECT_TRUE(shortbus::testing::ReadUntilEof(fd, &got));
  ::close(fd);
  EXPECT_TRUE(got.starts_with("INFO {")) << got;
  EXPECT_TRUE(got.ends_with("\r\n-ERR 'maximum connections exceeded'\r\n")) << got;
  EXPECT_EQ(natsConnection_FlushTimeout(one.get(), 2000), NATS_OK);
}

}  // namespace
}  // namespace shortbus::e2e
