// The JetStream layer sans IO: ServerCore over a RecordingTransport, a real
// index::Store in a temporary directory, and a FakeJsHost whose clock,
// timers and Post queue the test drives. Clients type protocol bytes (SUB,
// PUB $JS.API..., HPUB with headers, acks) and the tests read the bytes that
// come back. What nats-server 2.9.10 does is the reference (/tmp/js-spec.md
// as captured, and its consumer.go/stream.go); times are exact fake times.
#include "server/jetstream.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "index/store.h"
#include "nlohmann/json.hpp"
#include "server/absl_view.h"
#include "tests/server/core_test_util.h"
#include "tests/server/fake_js_host.h"

namespace shortbus::server {
namespace {

using Json = nlohmann::json;
using absl::Milliseconds;
using absl::Nanoseconds;
using absl::Seconds;

constexpr int64_t kStart = int64_t{1'800'000'000} * 1'000'000'000;
constexpr int64_t kSecond = 1'000'000'000;
constexpr ClientId kApi = 1;     // SUB _INBOX.api 1, SUB _INBOX.ack.* 2
constexpr ClientId kWorker = 2;  // SUB _INBOX.w.> 1
constexpr ClientId kPush = 3;    // subscribes to deliver subjects itself
constexpr char kConnect[] = R"({"verbose":false,"pedantic":false,"headers":true,"no_responders":true})";

// ---- what the server wrote ----

struct Msg {
  bool hmsg = false;
  std::string subject, sid, reply, headers, payload;

  // The code of a status header block ("NATS/1.0 408 Request Timeout"), 0
  // when there is none.
  int Status() const {
    if (headers.rfind("NATS/1.0 ", 0) != 0) return 0;
    int code = 0;
    (void)absl::SimpleAtoi(headers.substr(9, 3), &code);
    return code;
  }
  std::string StatusLine() const { return headers.substr(0, headers.find("\r\n")); }
  // The value of header `name` (exact name, trimmed), "<absent>" when none.
  std::string Header(std::string_view name) const {
    for (absl::string_view piece : absl::StrSplit(headers, "\r\n")) {
      const std::string_view line = Sv(piece);
      if (line.size() > name.size() && line.substr(0, name.size()) == name && line[name.size()] == ':') {
        std::string_view v = line.substr(name.size() + 1);
        while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        return std::string(v);
      }
    }
    return "<absent>";
  }
};

std::vector<Msg> ParseOut(const std::string& out) {
  std::vector<Msg> msgs;
  size_t pos = 0;
  while (pos < out.size()) {
    const size_t eol = out.find("\r\n", pos);
    if (eol == std::string::npos) {
      ADD_FAILURE() << "unterminated line: " << out.substr(pos);
      break;
    }
    const std::string line = out.substr(pos, eol - pos);
    pos = eol + 2;
    std::vector<std::string> t = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (t.empty()) {
      ADD_FAILURE() << "empty line";
      continue;
    }
    if (t[0] == "PING" || t[0] == "PONG" || t[0] == "+OK") continue;
    Msg m;
    size_t hdr = 0, total = 0;
    if (t[0] == "MSG" && (t.size() == 4 || t.size() == 5)) {
      m.subject = t[1];
      m.sid = t[2];
      if (t.size() == 5) m.reply = t[3];
      if (!absl::SimpleAtoi(t.back(), &total)) ADD_FAILURE() << line;
    } else if (t[0] == "HMSG" && (t.size() == 5 || t.size() == 6)) {
      m.hmsg = true;
      m.subject = t[1];
      m.sid = t[2];
      if (t.size() == 6) m.reply = t[3];
      if (!absl::SimpleAtoi(t[t.size() - 2], &hdr) || !absl::SimpleAtoi(t.back(), &total)) ADD_FAILURE() << line;
    } else {
      ADD_FAILURE() << "unexpected line: " << line;
      continue;
    }
    if (pos + total + 2 > out.size() || hdr > total) {
      ADD_FAILURE() << "short frame after " << line;
      break;
    }
    m.headers = out.substr(pos, hdr);
    m.payload = out.substr(pos + hdr, total - hdr);
    EXPECT_EQ(out.substr(pos + total, 2), "\r\n") << line;
    pos += total + 2;
    msgs.push_back(std::move(m));
  }
  return msgs;
}

// $JS.ACK.<stream>.<consumer>.<deliveries>.<sseq>.<cseq>.<ts>.<pending>
struct AckMeta {
  std::string stream, consumer;
  uint64_t deliveries = 0, sseq = 0, cseq = 0, pending = 0;
  int64_t ts = 0;
};

AckMeta Meta(const Msg& m) {
  AckMeta a;
  std::vector<std::string> t = absl::StrSplit(m.reply, '.');
  if (t.size() != 9 || t[0] != "$JS" || t[1] != "ACK") {
    ADD_FAILURE() << "not an ack subject: '" << m.reply << "'";
    return a;
  }
  a.stream = t[2];
  a.consumer = t[3];
  EXPECT_TRUE(absl::SimpleAtoi(t[4], &a.deliveries) && absl::SimpleAtoi(t[5], &a.sseq) &&
              absl::SimpleAtoi(t[6], &a.cseq) && absl::SimpleAtoi(t[7], &a.ts) && absl::SimpleAtoi(t[8], &a.pending))
      << m.reply;
  return a;
}

// ---- what clients type ----

std::string Pub(const std::string& subject, const std::string& reply, const std::string& payload) {
  return absl::StrCat("PUB ", subject, reply.empty() ? "" : " ", reply, " ", payload.size(), "\r\n", payload, "\r\n");
}

std::string HPub(const std::string& subject, const std::string& reply, const std::string& headers,
                 const std::string& payload) {
  return absl::StrCat("HPUB ", subject, reply.empty() ? "" : " ", reply, " ", headers.size(), " ",
                      headers.size() + payload.size(), "\r\n", headers, payload, "\r\n");
}

std::string Hdrs(std::initializer_list<std::pair<std::string, std::string>> kv) {
  std::string s = "NATS/1.0\r\n";
  for (const auto& [k, v] : kv) absl::StrAppend(&s, k, ": ", v, "\r\n");
  return s + "\r\n";
}

void ExpectApiError(const Json& r, int code, int err_code) {
  ASSERT_TRUE(r.is_object()) << r.dump();
  ASSERT_TRUE(r.contains("error")) << r.dump();
  EXPECT_EQ(r["error"]["code"], code) << r.dump();
  EXPECT_EQ(r["error"]["err_code"], err_code) << r.dump();
}

class JetStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/jetstream_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    host_.set_start_marker(kStart);
    OpenStore();
    StartJs();
    for (ClientId id : {kApi, kWorker, kPush}) h_.Connect(id, kConnect);
    h_.Type(kApi, "SUB _INBOX.api 1\r\nSUB _INBOX.ack.* 2\r\n");
    h_.Type(kWorker, "SUB _INBOX.w.> 1\r\n");
    for (ClientId id : {kApi, kWorker, kPush}) EXPECT_EQ(h_.Out(id), "");
  }

  void TearDown() override {
    if (js_ != nullptr) js_->Stop();
    if (store_ != nullptr) {
      EXPECT_TRUE(store_->Close().ok());
    }
    host_.DiscardPosts();
    h_.core->SetPublishObserver(nullptr);
    js_.reset();
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void OpenStore() {
    index::StoreOptions o;
    o.clock = host_.Clock();
    o.sync_on_append = sync_on_append_;
    o.defer_publish = defer_publish_;
    absl::StatusOr<std::unique_ptr<index::Store>> s = index::Store::Open(dir_, o);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
  }

  void StartJs() {
    js_ = std::make_unique<JetStream>(store_.get(), h_.core.get(), &host_, JsDefaults{});
    ASSERT_TRUE(js_->Start().ok());
    h_.core->SetPublishObserver(js_.get());
  }

  // A new JetStream object on the same open store (what it keeps in memory
  // is lost; the store keeps the rest).
  void RestartJs() {
    host_.DrainPosts();
    js_->Stop();
    h_.core->SetPublishObserver(nullptr);
    js_.reset();
    StartJs();
  }

  // The store closed and opened again, and a new JetStream on it.
  // The store reopened as the daemon runs it (sync requested per turn,
  // appends staged per turn), and a sync=always stream `name` capturing
  // its lower-case name's subjects.
  index::StoredStream* AddStagedSyncAlwaysStream(const std::string& name) {
    sync_on_append_ = false;
    defer_publish_ = true;
    ReopenStore();
    AddStream(name, {{"sync", "always"}});
    return store_->Find(name);
  }

  void ReopenStore() {
    host_.DrainPosts();
    js_->Stop();
    h_.core->SetPublishObserver(nullptr);
    ASSERT_TRUE(store_->Close().ok());
    host_.DiscardPosts();  // background threads are gone; the old JetStream is stopped
    js_.reset();
    store_.reset();
    OpenStore();
    StartJs();
  }

  std::vector<Msg> Take(ClientId id) { return ParseOut(h_.Out(id)); }

  bool sync_on_append_ = true;  // index::StoreOptions::sync_on_append (the daemon: false)
  bool defer_publish_ = false;  // index::StoreOptions::defer_publish (the daemon: true)

  // One API request from kApi; its response as JSON (null when none came).
  Json Api(const std::string& api, const std::string& body = "") {
    h_.Type(kApi, Pub("$JS.API." + api, "_INBOX.api", body));
    std::vector<Msg> msgs = Take(kApi);
    if (msgs.size() != 1 || msgs[0].subject != "_INBOX.api") {
      ADD_FAILURE() << api << ": expected one response, got " << msgs.size();
      return Json();
    }
    EXPECT_FALSE(msgs[0].hmsg) << api;
    return Json::parse(msgs[0].payload);
  }

  // A stream with a 1 MiB segment; subjects default to "<lowercase name>.>".
  void AddStream(const std::string& name, Json cfg = Json::object()) {
    if (!cfg.contains("subjects")) {
      std::string lower = name;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      cfg["subjects"] = {lower + ".>"};
    }
    cfg["segment_size"] = 1 << 20;
    const Json r = Api("STREAM.CREATE." + name, cfg.dump());
    ASSERT_FALSE(r.contains("error")) << r.dump();
  }

  Json AddDurable(const std::string& stream, const std::string& name, Json cfg) {
    cfg["durable_name"] = name;
    const Json req = {{"stream_name", stream}, {"config", cfg}};
    Json r = Api("CONSUMER.DURABLE.CREATE." + stream + "." + name, req.dump());
    host_.DrainPosts();  // a push consumer's first deliveries
    return r;
  }

  // An ephemeral consumer; its name.
  std::string AddEphemeral(const std::string& stream, Json cfg) {
    const Json req = {{"stream_name", stream}, {"config", cfg}};
    const Json r = Api("CONSUMER.CREATE." + stream, req.dump());
    host_.DrainPosts();
    EXPECT_FALSE(r.contains("error")) << r.dump();
    return r.value("name", "");
  }

  // A publish from kApi with a reply; the acknowledgement (null when none).
  Json Publish(const std::string& subject, const std::string& payload, const std::string& headers = "") {
    const std::string reply = absl::StrCat("_INBOX.ack.", ++publishes_);
    h_.Type(kApi, headers.empty() ? Pub(subject, reply, payload) : HPub(subject, reply, headers, payload));
    last_ack_raw_.clear();
    for (const Msg& m : Take(kApi)) {
      if (m.subject == reply) {
        last_ack_raw_ = m.payload;
        return Json::parse(m.payload);
      }
    }
    ADD_FAILURE() << "no acknowledgement for " << subject;
    return Json();
  }

  uint64_t PublishOk(const std::string& subject, const std::string& payload, const std::string& headers = "") {
    const Json ack = Publish(subject, payload, headers);
    EXPECT_FALSE(ack.contains("error")) << ack.dump();
    return ack.value("seq", uint64_t{0});
  }

  // CONSUMER.MSG.NEXT from kWorker with reply `reply`.
  void Next(const std::string& consumer, const std::string& body, const std::string& reply = "_INBOX.w.1",
            const std::string& stream = "S") {
    h_.Type(kWorker, Pub("$JS.API.CONSUMER.MSG.NEXT." + stream + "." + consumer, reply, body));
  }

  // Publishes `body` to the ack subject of `m` from `from`.
  void Ack(const Msg& m, const std::string& body = "+ACK", const std::string& reply = "", ClientId from = kWorker) {
    ASSERT_FALSE(m.reply.empty());
    h_.Type(from, Pub(m.reply, reply, body));
  }

  Json StreamState(const std::string& name) {
    const Json r = Api("STREAM.INFO." + name);
    return r.value("state", Json());
  }

  Json ConsumerInfo(const std::string& stream, const std::string& name) {
    return Api("CONSUMER.INFO." + stream + "." + name);
  }

  int64_t Elapsed() { return host_.NowNs() - kStart; }

  FakeJsHost host_{kStart};
  CoreHarness h_;
  std::string dir_;
  std::unique_ptr<index::Store> store_;
  std::unique_ptr<JetStream> js_;
  int publishes_ = 0;
  std::string last_ack_raw_;
};

const Json kPull = {{"ack_policy", "explicit"}};

// ======================= pull requests =======================

TEST_F(JetStreamTest, PullRequestExpiresWith408AtItsDeadline) {
  AddStream("S");
  AddDurable("S", "C", kPull);
  EXPECT_EQ(PublishOk("s.a", "m1"), 1u);
  Next("C", R"({"batch":3,"expires":1000000000})");
  std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].subject, "s.a");
  EXPECT_EQ(got[0].sid, "1");
  EXPECT_EQ(got[0].payload, "m1");
  const AckMeta a = Meta(got[0]);
  EXPECT_EQ(a.stream, "S");
  EXPECT_EQ(a.consumer, "C");
  EXPECT_EQ(a.deliveries, 1u);
  EXPECT_EQ(a.sseq, 1u);
  EXPECT_EQ(a.cseq, 1u);
  EXPECT_EQ(a.ts, kStart);  // the stored message's time
  EXPECT_EQ(a.pending, 0u);

  host_.Advance(Nanoseconds(kSecond - 1));
  EXPECT_TRUE(Take(kWorker).empty());
  host_.Advance(Nanoseconds(1));
  got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].subject, "_INBOX.w.1");  // Node tells status from data by subject == inbox
  EXPECT_TRUE(got[0].reply.empty());
  EXPECT_EQ(got[0].StatusLine(), "NATS/1.0 408 Request Timeout");
  EXPECT_EQ(got[0].Header("Nats-Pending-Messages"), "2");
  EXPECT_EQ(got[0].Header("Nats-Pending-Bytes"), "0");
  EXPECT_EQ(got[0].payload, "");
  EXPECT_EQ(ConsumerInfo("S", "C")["num_waiting"], 0);

  // The expired request takes nothing more.
  PublishOk("s.a", "m2");
  host_.Advance(Seconds(5));
  EXPECT_TRUE(Take(kWorker).empty());
}

TEST_F(JetStreamTest, PullRequestExpiryReportsTheBytesLeft) {
  AddStream("S");
  AddDurable("S", "C", kPull);
  PublishOk("s.a", "0123456789");
  Next("C", R"({"batch":2,"max_bytes":1000,"expires":1000000000})");
  ASSERT_EQ(Take(kWorker).size(), 1u);
  host_.Advance(Seconds(1));
  const std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].Status(), 408);
  EXPECT_EQ(got[0].Header("Nats-Pending-Messages"), "1");
  int64_t left = -1;
  ASSERT_TRUE(absl::SimpleAtoi(got[0].Header("Nats-Pending-Bytes"), &left));
  EXPECT_GT(left, 0);
  EXPECT_LE(left, 1000 - 10);  // at least the payload was counted
}

TEST_F(JetStreamTest, BatchFilledEndsTheRequestWithoutStatus) {
  AddStream("S");
  AddDurable("S", "C", kPull);
  PublishOk("s.a", "m1");
  PublishOk("s.b", "m2");
  Next("C", R"({"batch":2,"expires":1000000000})");
  const std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(Meta(got[0]).pending, 1u);
  EXPECT_EQ(Meta(got[1]).pending, 0u);
  host_.Advance(Seconds(2));
  EXPECT_TRUE(Take(kWorker).empty());  // no 408 for a filled batch
}

TEST_F(JetStreamTest, PullIdleHeartbeatsWhileWaiting) {
  AddStream("S");
  AddDurable("S", "C", kPull);
  Next("C", R"({"batch":2,"expires":3000000000,"idle_heartbeat":1000000000})");
  EXPECT_TRUE(Take(kWorker).empty());
  host_.Advance(Nanoseconds(kSecond - 1));
  EXPECT_TRUE(Take(kWorker).empty());
  host_.Advance(Nanoseconds(1));
  std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].subject, "_INBOX.w.1");
  EXPECT_EQ(got[0].StatusLine(), "NATS/1.0 100 Idle Heartbeat");
  EXPECT_EQ(got[0].Header("Nats-Last-Consumer"), "0");
  EXPECT_EQ(got[0].Header("Nats-Last-Stream"), "0");

  // A delivery at 1.5 s restarts the interval: nothing at 2 s, a heartbeat
  // at 2.5 s naming the delivery.
  host_.Advance(Milliseconds(500));
  PublishOk("s.a", "m1");
  got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "m1");
  host_.Advance(Nanoseconds(kSecond - 1));
  EXPECT_TRUE(Take(kWorker).empty());
  host_.Advance(Nanoseconds(1));
  got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].Status(), 100);
  EXPECT_EQ(got[0].Header("Nats-Last-Consumer"), "1");
  EXPECT_EQ(got[0].Header("Nats-Last-Stream"), "1");

  // Expiry at 3 s: the 408 alone, then silence.
  host_.Advance(Nanoseconds(kSecond / 2 - 1));
  EXPECT_TRUE(Take(kWorker).empty());
  host_.Advance(Nanoseconds(1));
  got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].Status(), 408);
  EXPECT_EQ(got[0].Header("Nats-Pending-Messages"), "1");
  EXPECT_EQ(Elapsed(), 3 * kSecond);
  host_.Advance(Seconds(3));
  EXPECT_TRUE(Take(kWorker).empty());
}

TEST_F(JetStreamTest, NoWaitWithNothingIs404) {
  AddStream("S");
  AddDurable("S", "C", kPull);
  Next("C", R"({"batch":1,"no_wait":true})");
  std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].subject, "_INBOX.w.1");
  EXPECT_EQ(got[0].headers, "NATS/1.0 404 No Messages\r\n\r\n");
  EXPECT_EQ(ConsumerInfo("S", "C")["num_waiting"], 0);
  // It is over: a later message does not go to it.
  PublishOk("s.a", "m1");
  EXPECT_TRUE(Take(kWorker).empty());
  // A batch that fills exactly ends without status.
  PublishOk("s.a", "m2");
  Next("C", R"({"batch":2,"no_wait":true})");
  got = Take(kWorker);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].payload, "m1");
  EXPECT_EQ(got[1].payload, "m2");
}

TEST_F(JetStreamTest, NoWaitAfterPartialDeliveryIs408AtOnce) {
  AddStream("S");
  AddDurable("S", "C", kPull);
  PublishOk("s.a", "m1");
  PublishOk("s.a", "m2");
  Next("C", R"({"batch":5,"no_wait":true})");
  const std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].payload, "m1");
  EXPECT_EQ(got[1].payload, "m2");
  EXPECT_EQ(got[2].StatusLine(), "NATS/1.0 408 Request Timeout");
  EXPECT_EQ(got[2].Header("Nats-Pending-Messages"), "3");
  EXPECT_EQ(got[2].Header("Nats-Pending-Bytes"), "0");
  EXPECT_EQ(ConsumerInfo("S", "C")["num_waiting"], 0);
}

// libnats Fetch: no_wait with expires waits for the first message, then
// ends at once with what is there.
TEST_F(JetStreamTest, NoWaitWithExpiresWaitsForTheFirstMessage) {
  AddStream("S");
  AddDurable("S", "C", kPull);
  Next("C", R"({"batch":5,"no_wait":true,"expires":1000000000})");
  EXPECT_TRUE(Take(kWorker).empty());
  host_.Advance(Milliseconds(500));
  EXPECT_TRUE(Take(kWorker).empty());
  PublishOk("s.a", "m1");
  std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].payload, "m1");
  EXPECT_EQ(got[1].Status(), 408);
  EXPECT_EQ(got[1].Header("Nats-Pending-Messages"), "4");

  // Nothing ever comes: 408 at expiry, not 404.
  Next("C", R"({"batch":5,"no_wait":true,"expires":1000000000})");
  host_.Advance(Nanoseconds(kSecond - 1));
  EXPECT_TRUE(Take(kWorker).empty());
  host_.Advance(Nanoseconds(1));
  got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].Status(), 408);
  EXPECT_EQ(got[0].Header("Nats-Pending-Messages"), "5");
}

TEST_F(JetStreamTest, MaxWaitingExceededIs409) {
  AddStream("S");
  Json cfg = kPull;
  cfg["max_waiting"] = 2;
  AddDurable("S", "C", cfg);
  Next("C", R"({"batch":1,"expires":10000000000})", "_INBOX.w.1");
  Next("C", R"({"batch":1,"expires":10000000000})", "_INBOX.w.2");
  EXPECT_TRUE(Take(kWorker).empty());
  Next("C", R"({"batch":1,"expires":10000000000})", "_INBOX.w.3");
  std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].subject, "_INBOX.w.3");
  EXPECT_EQ(got[0].StatusLine(), "NATS/1.0 409 Exceeded MaxWaiting");
  EXPECT_EQ(ConsumerInfo("S", "C")["num_waiting"], 2);
  // The waiting ones are served in arrival order.
  PublishOk("s.a", "m1");
  got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].subject, "s.a");
  PublishOk("s.a", "m2");
  PublishOk("s.a", "m3");
  got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);  // w.2's batch of 1; m3 waits
  EXPECT_EQ(got[0].payload, "m2");
  EXPECT_EQ(ConsumerInfo("S", "C")["num_waiting"], 0);
}

TEST_F(JetStreamTest, MessageLargerThanRequestMaxBytesIs409) {
  AddStream("S");
  AddDurable("S", "C", kPull);
  PublishOk("s.a", std::string(100, 'x'));
  Next("C", R"({"batch":2,"max_bytes":50,"expires":5000000000})", "_INBOX.w.1");
  std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].subject, "_INBOX.w.1");
  EXPECT_EQ(got[0].StatusLine(), "NATS/1.0 409 Message Size Exceeds MaxBytes");
  EXPECT_EQ(got[0].Header("Nats-Pending-Messages"), "2");
  EXPECT_EQ(got[0].Header("Nats-Pending-Bytes"), "50");
  EXPECT_EQ(ConsumerInfo("S", "C")["num_waiting"], 0);
  // The message waits for the next request that can take it.
  Next("C", R"({"batch":1,"expires":5000000000})", "_INBOX.w.2");
  got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].subject, "s.a");
  EXPECT_EQ(Meta(got[0]).sseq, 1u);
}

// nats-server 2.9.10 (consumer.go loopAndGatherMsgs: "We will redo this
// one", o.sseq--): a message no request could take is not delivered, so its
// first real delivery has delivered_count 1 and consumer_seq 1.
TEST_F(JetStreamTest, MessageRefusedForMaxBytesIsNotCountedAsADelivery) {
  AddStream("S");
  AddDurable("S", "C", kPull);
  PublishOk("s.a", std::string(100, 'x'));
  Next("C", R"({"batch":1,"max_bytes":50,"expires":5000000000})", "_INBOX.w.1");
  ASSERT_EQ(Take(kWorker).size(), 1u);  // the 409
  Next("C", R"({"batch":1,"expires":5000000000})", "_INBOX.w.2");
  const std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  const AckMeta a = Meta(got[0]);
  EXPECT_EQ(a.deliveries, 1u) << got[0].reply;
  EXPECT_EQ(a.cseq, 1u) << got[0].reply;
  EXPECT_EQ(ConsumerInfo("S", "C")["num_redelivered"], 0);
}

// nats-server 2.9.10 (consumer.go nextWaiting): a request whose reply
// subject nobody subscribes to any more is dropped, not delivered to.
TEST_F(JetStreamTest, PullRequestWithoutInterestIsNotDeliveredTo) {
  AddStream("S");
  AddDurable("S", "C", kPull);
  h_.Type(kPush, "SUB _INBOX.gone 9\r\n");
  h_.Type(kPush, Pub("$JS.API.CONSUMER.MSG.NEXT.S.C", "_INBOX.gone", R"({"batch":1,"expires":60000000000})"));
  h_.Type(kPush, "UNSUB 9\r\n");
  PublishOk("s.a", "m1");
  EXPECT_TRUE(Take(kPush).empty());
  Next("C", R"({"batch":1,"expires":5000000000})");
  const std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u) << "the message went to a request nobody listens to";
  EXPECT_EQ(Meta(got[0]).deliveries, 1u);
  EXPECT_EQ(Meta(got[0]).cseq, 1u);
}

TEST_F(JetStreamTest, NextOnPushConsumerIs409AndOnUnknownConsumerSilent) {
  AddStream("S");
  AddDurable("S", "P", {{"ack_policy", "explicit"}, {"deliver_subject", "dlv.p"}});
  Next("P", R"({"batch":1})");
  std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].StatusLine(), "NATS/1.0 409 Consumer is push based");
  Next("NOPE", R"({"batch":1})");
  EXPECT_TRUE(Take(kWorker).empty());
}

TEST_F(JetStreamTest, RequestBodiesAndConsumerRequestLimits) {
  AddStream("S");
  Json cfg = kPull;
  cfg["max_batch"] = 2;
  cfg["max_expires"] = kSecond;
  cfg["max_bytes"] = 100;
  AddDurable("S", "C", cfg);
  Next("C", R"({"batch":3})");
  std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].headers, "NATS/1.0 409 Exceeded MaxRequestBatch of 2\r\n\r\n");
  Next("C", R"({"batch":1,"expires":2000000000})");
  got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].StatusLine(), "NATS/1.0 409 Exceeded MaxRequestExpires of 1s");
  Next("C", R"({"batch":1,"max_bytes":101})");
  got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].StatusLine(), "NATS/1.0 409 Exceeded MaxRequestMaxBytes of 100");
  Next("C", R"({"batch":bad})");
  got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].Status(), 400);  // Node's consume stops on it
  EXPECT_EQ(ConsumerInfo("S", "C")["num_waiting"], 0);

  // A plain number is a batch that waits without expiry; batch 0 is 1.
  Next("C", "2");
  EXPECT_EQ(ConsumerInfo("S", "C")["num_waiting"], 1);
  for (const char* p : {"m1", "m2", "m3"}) PublishOk("s.a", p);
  got = Take(kWorker);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].payload, "m2");
  Next("C", R"({"batch":0,"no_wait":true})");
  got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "m3");
}

// The ack subject's last token is exact for a filtered consumer too: the
// matching messages still to deliver after this one.
TEST_F(JetStreamTest, FilteredConsumerPendingInAckSubjectsIsExact) {
  AddStream("S");
  for (const char* subject : {"s.a", "s.b", "s.a", "s.b", "s.a"}) PublishOk(subject, "x");
  Json cfg = kPull;
  cfg["filter_subject"] = "s.a";
  AddDurable("S", "C", cfg);
  EXPECT_EQ(ConsumerInfo("S", "C")["num_pending"], 3);
  Next("C", R"({"batch":1})");
  std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Meta(got[0]).sseq, 1u);
  EXPECT_EQ(Meta(got[0]).pending, 2u);
  PublishOk("s.b", "x");
  PublishOk("s.a", "x");
  Next("C", R"({"batch":3})");
  got = Take(kWorker);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(Meta(got[0]).sseq, 3u);
  EXPECT_EQ(Meta(got[0]).pending, 2u);
  EXPECT_EQ(Meta(got[1]).sseq, 5u);
  EXPECT_EQ(Meta(got[1]).pending, 1u);
  EXPECT_EQ(Meta(got[2]).sseq, 7u);
  EXPECT_EQ(Meta(got[2]).pending, 0u);
  EXPECT_EQ(Meta(got[2]).cseq, 4u);
}

TEST_F(JetStreamTest, DeletedConsumerAndStreamForgetTheirRequestsAndTimers) {
  AddStream("S");
  AddDurable("S", "C", kPull);
  Next("C", R"({"batch":1,"expires":1000000000,"idle_heartbeat":100000000})");
  EXPECT_EQ(Api("CONSUMER.DELETE.S.C")["success"], true);
  host_.Advance(Seconds(2));
  EXPECT_TRUE(Take(kWorker).empty());  // 2.9.10: no 409 Consumer Deleted, no heartbeat, no 408
  Next("C", R"({"batch":1})");
  EXPECT_TRUE(Take(kWorker).empty());  // no consumer: no answer at all

  AddDurable("S", "D", kPull);
  h_.Type(kPush, "SUB dlv.x 1\r\n");
  AddDurable("S", "P", {{"ack_policy", "explicit"}, {"deliver_subject", "dlv.x"}, {"idle_heartbeat", kSecond}});
  PublishOk("s.a", "m1");
  ASSERT_EQ(Take(kPush).size(), 1u);
  Next("D", R"({"batch":5,"expires":1000000000,"idle_heartbeat":100000000})");
  ASSERT_EQ(Take(kWorker).size(), 1u);
  EXPECT_EQ(Api("STREAM.DELETE.S")["success"], true);
  host_.Advance(Seconds(60));
  EXPECT_TRUE(Take(kWorker).empty());
  EXPECT_TRUE(Take(kPush).empty());
  EXPECT_EQ(host_.pending_timers(), 0u);
}

TEST_F(JetStreamTest, PushConsumerWithDeliverGroupGivesEachMessageToOneMember) {
  AddStream("S");
  h_.Type(kPush, "SUB dlv.g grp 1\r\n");
  h_.Type(kWorker, "SUB dlv.g grp 7\r\n");
  AddDurable("S", "G", {{"ack_policy", "none"}, {"deliver_subject", "dlv.g"}, {"deliver_group", "grp"}});
  for (int i = 0; i < 40; ++i) PublishOk("s.a", "m" + std::to_string(i));
  std::vector<Msg> a = Take(kPush), b = Take(kWorker);
  EXPECT_EQ(a.size() + b.size(), 40u) << "each message once across the group";
  std::set<std::string> payloads;
  for (const Msg& m : a) payloads.insert(m.payload);
  for (const Msg& m : b) payloads.insert(m.payload);
  EXPECT_EQ(payloads.size(), 40u);
  EXPECT_FALSE(a.empty());  // members are picked at random: both get some of 40
  EXPECT_FALSE(b.empty());
  EXPECT_EQ(ConsumerInfo("S", "G")["config"]["deliver_group"], "grp");
}

TEST_F(JetStreamTest, HeadersOnlyDeliversTheSizeInstead) {
  AddStream("S");
  Json cfg = kPull;
  cfg["headers_only"] = true;
  AddDurable("S", "C", cfg);
  PublishOk("s.a", "hello");
  PublishOk("s.b", "hi", Hdrs({{"X-K", "v"}}));
  Next("C", R"({"batch":2})");
  const std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].headers, "NATS/1.0\r\nNats-Msg-Size: 5\r\n\r\n");
  EXPECT_EQ(got[0].payload, "");
  EXPECT_EQ(got[1].Header("X-K"), "v");
  EXPECT_EQ(got[1].Header("Nats-Msg-Size"), "2");
  EXPECT_EQ(got[1].payload, "");
}

// ======================= acknowledgements =======================

TEST_F(JetStreamTest, RedeliveryExactlyAfterAckWait) {
  AddStream("S");
  Json cfg = kPull;
  cfg["ack_wait"] = 2 * kSecond;
  AddDurable("S", "C", cfg);
  PublishOk("s.a", "m1");
  Next("C", R"({"batch":1})");
  ASSERT_EQ(Take(kWorker).size(), 1u);
  Next("C", R"({"batch":1,"expires":10000000000})", "_INBOX.w.2");
  host_.Advance(Nanoseconds(2 * kSecond - 1));
  EXPECT_TRUE(Take(kWorker).empty());
  host_.Advance(Nanoseconds(1));
  const std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].subject, "s.a");
  const AckMeta a = Meta(got[0]);
  EXPECT_EQ(a.deliveries, 2u);
  EXPECT_EQ(a.sseq, 1u);
  EXPECT_EQ(a.cseq, 2u);
  const Json info = ConsumerInfo("S", "C");
  EXPECT_EQ(info["num_ack_pending"], 1);
  EXPECT_EQ(info["num_redelivered"], 1);
  EXPECT_EQ(info["delivered"]["consumer_seq"], 2);
  EXPECT_EQ(info["delivered"]["stream_seq"], 1);
}

// A pull consumer whose ack deadline passed while no request waits must
// not re-arm its timer at the same instant over and over (a busy loop in
// the daemon's event loop until the next request comes).
TEST_F(JetStreamTest, PassedAckDeadlineWithoutRequestsDoesNotSpin) {
  AddStream("S");
  Json cfg = kPull;
  cfg["ack_wait"] = kSecond;
  AddDurable("S", "C", cfg);
  PublishOk("s.a", "m1");
  Next("C", R"({"batch":1})");
  ASSERT_EQ(Take(kWorker).size(), 1u);
  const size_t fired = host_.Advance(Seconds(3));
  EXPECT_LE(fired, 10u);
  EXPECT_EQ(host_.spins(), 0);
  // The redelivery goes to the next request at once.
  Next("C", R"({"batch":1,"expires":5000000000})");
  const std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Meta(got[0]).deliveries, 2u);
}

// The same for a push consumer whose deliver subject lost its subscriber.
TEST_F(JetStreamTest, PassedAckDeadlineOfUnboundPushConsumerDoesNotSpin) {
  AddStream("S");
  h_.Type(kPush, "SUB dlv.u 1\r\n");
  AddDurable("S", "P", {{"ack_policy", "explicit"}, {"deliver_subject", "dlv.u"}, {"ack_wait", kSecond}});
  PublishOk("s.a", "m1");
  ASSERT_EQ(Take(kPush).size(), 1u);
  h_.Type(kPush, "UNSUB 1\r\n");
  host_.Advance(Seconds(3));
  EXPECT_EQ(host_.spins(), 0);
  h_.Type(kPush, "SUB dlv.u 2\r\n");
  host_.Advance(Milliseconds(100));
  const std::vector<Msg> got = Take(kPush);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Meta(got[0]).deliveries, 2u);
}

TEST_F(JetStreamTest, PushRedeliveryExactlyAfterAckWait) {
  AddStream("S");
  h_.Type(kPush, "SUB dlv.r 4\r\n");
  AddDurable("S", "P", {{"ack_policy", "explicit"}, {"deliver_subject", "dlv.r"}, {"ack_wait", 2 * kSecond}});
  PublishOk("s.a", "m1");
  ASSERT_EQ(Take(kPush).size(), 1u);
  host_.Advance(Nanoseconds(2 * kSecond - 1));
  EXPECT_TRUE(Take(kPush).empty());
  host_.Advance(Nanoseconds(1));
  std::vector<Msg> got = Take(kPush);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Meta(got[0]).deliveries, 2u);
  EXPECT_EQ(Meta(got[0]).cseq, 2u);
  Ack(got[0], "+ACK", "", kPush);
  host_.Advance(Seconds(10));
  EXPECT_TRUE(Take(kPush).empty());
}

TEST_F(JetStreamTest, NakRedeliversAtOnceOrAfterItsDelay) {
  AddStream("S");
  AddDurable("S", "C", kPull);
  PublishOk("s.a", "m1");
  Next("C", R"({"batch":1})");
  std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  Next("C", R"({"batch":1,"expires":10000000000})", "_INBOX.w.2");
  Ack(got[0], "-NAK");
  got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].subject, "s.a");
  EXPECT_EQ(Meta(got[0]).deliveries, 2u);

  Next("C", R"({"batch":1,"expires":10000000000})", "_INBOX.w.3");
  Ack(got[0], R"(-NAK {"delay":500000000})");
  host_.Advance(Nanoseconds(kSecond / 2 - 1));
  EXPECT_TRUE(Take(kWorker).empty());
  host_.Advance(Nanoseconds(1));
  got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Meta(got[0]).deliveries, 3u);
  EXPECT_EQ(Meta(got[0]).cseq, 3u);
}

TEST_F(JetStreamTest, InProgressRestartsTheAckWait) {
  AddStream("S");
  Json cfg = kPull;
  cfg["ack_wait"] = 2 * kSecond;
  AddDurable("S", "C", cfg);
  PublishOk("s.a", "m1");
  Next("C", R"({"batch":1})");
  std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  Next("C", R"({"batch":1,"expires":10000000000})", "_INBOX.w.2");
  host_.Advance(Milliseconds(1500));
  Ack(got[0], "+WPI");
  host_.Advance(Milliseconds(500));  // the first deadline
  EXPECT_TRUE(Take(kWorker).empty());
  host_.Advance(Nanoseconds(1500 * 1'000'000 - 1));
  EXPECT_TRUE(Take(kWorker).empty());
  host_.Advance(Nanoseconds(1));  // 2 s after the +WPI
  got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Meta(got[0]).deliveries, 2u);
  EXPECT_EQ(Elapsed(), int64_t{3500} * 1'000'000);
}

TEST_F(JetStreamTest, TermStopsRedelivery) {
  AddStream("S");
  Json cfg = kPull;
  cfg["ack_wait"] = kSecond;
  AddDurable("S", "C", cfg);
  PublishOk("s.a", "m1");
  PublishOk("s.a", "m2");
  Next("C", R"({"batch":1})");
  std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  Ack(got[0], "+TERM");
  host_.DrainPosts();
  Next("C", R"({"batch":5,"expires":10000000000})", "_INBOX.w.2");
  got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Meta(got[0]).sseq, 2u);
  Ack(got[0]);
  host_.Advance(Seconds(5));
  EXPECT_TRUE(Take(kWorker).empty());  // m1 is never redelivered
  const Json info = ConsumerInfo("S", "C");
  EXPECT_EQ(info["num_ack_pending"], 0);
  EXPECT_EQ(info["ack_floor"]["stream_seq"], 2);
}

TEST_F(JetStreamTest, NxtAcksAndDeliversToTheAckReply) {
  AddStream("S");
  AddDurable("S", "C", kPull);
  for (const char* p : {"m1", "m2", "m3"}) PublishOk("s.a", p);
  Next("C", R"({"batch":1})");
  std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  Ack(got[0], "+NXT", "_INBOX.w.nxt");
  got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].subject, "s.a");
  EXPECT_EQ(got[0].payload, "m2");
  EXPECT_EQ(Meta(got[0]).sseq, 2u);
  host_.DrainPosts();
  Json info = ConsumerInfo("S", "C");
  EXPECT_EQ(info["ack_floor"]["stream_seq"], 1);
  EXPECT_EQ(info["num_ack_pending"], 1);

  Ack(got[0], R"(+NXT {"batch":2})", "_INBOX.w.nxt2");
  got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "m3");
  host_.DrainPosts();
  EXPECT_TRUE(Take(kWorker).empty());  // +NXT is not an AckSync: no empty reply
  info = ConsumerInfo("S", "C");
  EXPECT_EQ(info["num_waiting"], 1);  // still wants one more
}

TEST_F(JetStreamTest, AckSyncReplyComesAfterTheCommit) {
  AddStream("S");
  AddDurable("S", "C", kPull);
  PublishOk("s.a", "m1");
  Next("C", R"({"batch":1})");
  std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  const Msg delivered = got[0];
  Ack(delivered, "+ACK", "_INBOX.w.sync");
  EXPECT_TRUE(Take(kWorker).empty());  // not before the consumer state is committed
  EXPECT_GE(host_.DrainPosts(), 1u);
  got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].subject, "_INBOX.w.sync");
  EXPECT_FALSE(got[0].hmsg);
  EXPECT_EQ(got[0].payload, "");
  // Every ack kind with a reply is answered, even a repeated or garbage one.
  for (const char* body : {"+ACK", "+WPI", "+TERM", "bogus"}) {
    Ack(delivered, body, "_INBOX.w.again");
    host_.DrainPosts();
    got = Take(kWorker);
    ASSERT_EQ(got.size(), 1u) << body;
    EXPECT_EQ(got[0].subject, "_INBOX.w.again");
    EXPECT_EQ(got[0].payload, "");
  }
  // What was committed survives a restart.
  RestartJs();
  const Json info = ConsumerInfo("S", "C");
  EXPECT_EQ(info["ack_floor"]["stream_seq"], 1);
  EXPECT_EQ(info["num_ack_pending"], 0);
}

TEST_F(JetStreamTest, MaxDeliverStopsRedelivery) {
  AddStream("S");
  Json cfg = kPull;
  cfg["ack_wait"] = kSecond;
  cfg["max_deliver"] = 2;
  AddDurable("S", "C", cfg);
  PublishOk("s.a", "m1");
  Next("C", R"({"batch":1})");
  ASSERT_EQ(Take(kWorker).size(), 1u);
  Next("C", R"({"batch":1,"expires":20000000000})", "_INBOX.w.2");
  host_.Advance(Seconds(1));
  std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Meta(got[0]).deliveries, 2u);
  Next("C", R"({"batch":1,"expires":20000000000})", "_INBOX.w.3");
  host_.Advance(Seconds(5));
  EXPECT_TRUE(Take(kWorker).empty());
  const Json info = ConsumerInfo("S", "C");
  EXPECT_EQ(info["num_ack_pending"], 0);
  EXPECT_EQ(info["num_pending"], 0);
  EXPECT_EQ(info["num_waiting"], 1);
}

TEST_F(JetStreamTest, MaxAckPendingBlocksUntilAnAck) {
  AddStream("S");
  Json cfg = kPull;
  cfg["max_ack_pending"] = 2;
  AddDurable("S", "C", cfg);
  for (const char* p : {"m1", "m2", "m3"}) PublishOk("s.a", p);
  Next("C", R"({"batch":3,"expires":10000000000})");
  std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 2u);
  host_.Advance(Seconds(1));
  EXPECT_TRUE(Take(kWorker).empty());
  EXPECT_EQ(ConsumerInfo("S", "C")["num_ack_pending"], 2);
  Ack(got[0]);
  std::vector<Msg> more = Take(kWorker);
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(more[0].payload, "m3");
  EXPECT_EQ(ConsumerInfo("S", "C")["num_ack_pending"], 2);
}

// ======================= push consumers =======================

TEST_F(JetStreamTest, PushDeliversOnlyWhileTheDeliverSubjectHasInterest) {
  AddStream("S");
  PublishOk("s.a", "m1");
  PublishOk("s.b", "m2");
  Json r = AddDurable("S", "P", {{"ack_policy", "explicit"}, {"deliver_subject", "dlv.p"}});
  EXPECT_FALSE(r.contains("push_bound")) << r.dump();
  host_.Advance(Seconds(1));
  for (ClientId id : {kApi, kWorker, kPush}) EXPECT_TRUE(Take(id).empty());
  EXPECT_EQ(ConsumerInfo("S", "P")["num_pending"], 2);

  h_.Type(kPush, "SUB dlv.p 7\r\n");
  host_.Advance(Milliseconds(100));
  std::vector<Msg> got = Take(kPush);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].subject, "s.a");
  EXPECT_EQ(got[0].sid, "7");
  EXPECT_EQ(Meta(got[0]).sseq, 1u);
  EXPECT_EQ(got[1].subject, "s.b");
  EXPECT_EQ(Meta(got[1]).pending, 0u);
  EXPECT_EQ(ConsumerInfo("S", "P")["push_bound"], true);
  for (const Msg& m : got) Ack(m, "+ACK", "", kPush);

  // Live: a new message goes out at once.
  PublishOk("s.c", "m3");
  got = Take(kPush);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "m3");
  Ack(got[0], "+ACK", "", kPush);

  h_.Type(kPush, "UNSUB 7\r\n");
  PublishOk("s.d", "m4");
  host_.Advance(Seconds(1));
  EXPECT_TRUE(Take(kPush).empty());
  const Json info = ConsumerInfo("S", "P");
  EXPECT_FALSE(info.contains("push_bound"));
  EXPECT_EQ(info["num_pending"], 1);
}

TEST_F(JetStreamTest, PushIdleHeartbeats) {
  AddStream("S");
  h_.Type(kPush, "SUB dlv.h 3\r\n");
  AddDurable("S", "H", {{"ack_policy", "explicit"}, {"deliver_subject", "dlv.h"}, {"idle_heartbeat", kSecond}});
  host_.Advance(Nanoseconds(kSecond - 1));
  EXPECT_TRUE(Take(kPush).empty());
  host_.Advance(Nanoseconds(1));
  std::vector<Msg> got = Take(kPush);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].hmsg);
  EXPECT_EQ(got[0].subject, "dlv.h");
  EXPECT_TRUE(got[0].reply.empty());
  EXPECT_EQ(got[0].headers, "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 0\r\nNats-Last-Stream: 0\r\n\r\n");
  EXPECT_EQ(got[0].payload, "");

  host_.Advance(Milliseconds(300));
  PublishOk("s.a", "m1");
  got = Take(kPush);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "m1");
  Ack(got[0], "+ACK", "", kPush);
  host_.Advance(Nanoseconds(kSecond - 1));  // the delivery restarted the interval
  EXPECT_TRUE(Take(kPush).empty());
  host_.Advance(Nanoseconds(1));
  got = Take(kPush);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].Status(), 100);
  EXPECT_EQ(got[0].Header("Nats-Last-Consumer"), "1");
  EXPECT_EQ(got[0].Header("Nats-Last-Stream"), "1");
  host_.Advance(Seconds(1));
  EXPECT_EQ(Take(kPush).size(), 1u);  // and on, every interval
}

TEST_F(JetStreamTest, PushFlowControlStallsUntilTheReply) {
  AddStream("S");
  constexpr size_t kSize = 64 << 10;
  constexpr int kCount = 48;  // 3 MiB
  for (int i = 0; i < kCount; ++i) PublishOk("s.big", std::string(kSize, static_cast<char>('a' + i % 26)));
  h_.Type(kPush, "SUB dlv.f 5\r\n");
  AddDurable("S", "F",
             {{"ack_policy", "none"}, {"deliver_subject", "dlv.f"}, {"flow_control", true}, {"idle_heartbeat", 5 * kSecond}});
  std::vector<Msg> got = Take(kPush);
  size_t data = 0, bytes_before_fc = 0;
  std::string fc;
  for (const Msg& m : got) {
    if (m.Status() == 100) {
      EXPECT_TRUE(fc.empty()) << "a second request before the first was answered";
      EXPECT_EQ(m.StatusLine(), "NATS/1.0 100 FlowControl Request");
      EXPECT_EQ(m.payload, "");
      fc = m.reply;
      bytes_before_fc = data * kSize;
      continue;
    }
    EXPECT_EQ(Meta(m).sseq, data + 1);
    ++data;
  }
  ASSERT_FALSE(fc.empty()) << "no flow control request after " << data * kSize << " bytes";
  EXPECT_TRUE(fc.rfind("$JS.FC.S.F.", 0) == 0) << fc;
  EXPECT_GE(bytes_before_fc, size_t{1} << 20);
  EXPECT_LT(bytes_before_fc, (size_t{1} << 20) + kSize);
  EXPECT_GE(data * kSize, size_t{2} << 20);  // went on to about 2 MiB, then stalled
  EXPECT_LT(data, static_cast<size_t>(kCount));
  const size_t stalled_at = data;

  host_.Advance(Seconds(1));
  EXPECT_TRUE(Take(kPush).empty());
  h_.Type(kPush, Pub("$JS.FC.S.F.999999", "", ""));  // not the outstanding one
  EXPECT_TRUE(Take(kPush).empty());
  // While stalled, the heartbeat names the request.
  host_.Advance(Seconds(4));
  got = Take(kPush);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].StatusLine(), "NATS/1.0 100 Idle Heartbeat");
  EXPECT_EQ(got[0].Header("Nats-Consumer-Stalled"), fc);
  EXPECT_EQ(got[0].Header("Nats-Last-Stream"), absl::StrCat(stalled_at));

  h_.Type(kPush, Pub(fc, "", ""));
  got = Take(kPush);
  for (const Msg& m : got) {
    if (m.Status() == 100) continue;
    EXPECT_EQ(Meta(m).sseq, data + 1);
    ++data;
  }
  EXPECT_EQ(data, static_cast<size_t>(kCount));
}

TEST_F(JetStreamTest, EphemeralPushConsumerGoesAfterInactiveThresholdWithoutInterest) {
  AddStream("S");
  const std::string name =
      AddEphemeral("S", {{"ack_policy", "explicit"}, {"deliver_subject", "dlv.e"}, {"inactive_threshold", kSecond}});
  ASSERT_FALSE(name.empty());
  host_.Advance(Nanoseconds(kSecond - 1));
  EXPECT_FALSE(ConsumerInfo("S", name).contains("error"));
  host_.Advance(Nanoseconds(1));
  ExpectApiError(ConsumerInfo("S", name), 404, 10014);
  EXPECT_EQ(StreamState("S")["consumer_count"], 0);

  // With interest it stays.
  h_.Type(kPush, "SUB dlv.b 1\r\n");
  const std::string bound =
      AddEphemeral("S", {{"ack_policy", "explicit"}, {"deliver_subject", "dlv.b"}, {"inactive_threshold", kSecond}});
  host_.Advance(Seconds(5));
  EXPECT_FALSE(ConsumerInfo("S", bound).contains("error"));
  // Interest gone: it goes a threshold later.
  h_.Type(kPush, "UNSUB 1\r\n");
  host_.Advance(Milliseconds(2500));
  ExpectApiError(ConsumerInfo("S", bound), 404, 10014);
}

TEST_F(JetStreamTest, EphemeralPullConsumerGoesAfterInactiveThresholdWithoutRequests) {
  AddStream("S");
  const std::string idle = AddEphemeral("S", {{"ack_policy", "explicit"}, {"inactive_threshold", kSecond}});
  host_.Advance(Nanoseconds(kSecond - 1));
  EXPECT_FALSE(ConsumerInfo("S", idle).contains("error"));
  host_.Advance(Nanoseconds(1));
  ExpectApiError(ConsumerInfo("S", idle), 404, 10014);

  // A waiting request keeps it.
  const std::string busy = AddEphemeral("S", {{"ack_policy", "explicit"}, {"inactive_threshold", kSecond}});
  Next(busy, R"({"batch":1,"expires":3000000000})");
  host_.Advance(Milliseconds(2500));
  EXPECT_FALSE(ConsumerInfo("S", busy).contains("error"));
  // Durables never go.
  AddDurable("S", "D", kPull);
  host_.Advance(Seconds(30));
  EXPECT_FALSE(ConsumerInfo("S", "D").contains("error"));
}

// ======================= retention =======================

TEST_F(JetStreamTest, WorkQueueRemovesAMessageOnceAcked) {
  AddStream("Q", {{"retention", "workqueue"}});
  AddDurable("Q", "W", kPull);
  for (const char* p : {"m1", "m2", "m3"}) PublishOk("q.a", p);
  EXPECT_EQ(StreamState("Q")["messages"], 3);
  Next("W", R"({"batch":3})", "_INBOX.w.1", "Q");
  std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 3u);
  Ack(got[1]);
  host_.DrainPosts();
  EXPECT_EQ(StreamState("Q")["messages"], 2);
  ExpectApiError(Api("STREAM.MSG.GET.Q", R"({"seq":2})"), 404, 10037);
  Ack(got[0]);
  Ack(got[2], "+TERM");  // done with it too
  host_.DrainPosts();
  const Json st = StreamState("Q");
  EXPECT_EQ(st["messages"], 0);
  EXPECT_EQ(st["last_seq"], 3);
}

TEST_F(JetStreamTest, WorkQueueRefusesOverlappingConsumersAndOtherAckPolicies) {
  AddStream("Q", {{"retention", "workqueue"}});
  Json a = kPull, b = kPull;
  a["filter_subject"] = "q.a";
  b["filter_subject"] = "q.b";
  EXPECT_FALSE(AddDurable("Q", "A", a).contains("error"));
  EXPECT_FALSE(AddDurable("Q", "B", b).contains("error"));
  EXPECT_FALSE(AddDurable("Q", "A", a).contains("error"));  // the same again
  Json wild = kPull;
  wild["filter_subject"] = "q.*";
  ExpectApiError(AddDurable("Q", "W", wild), 400, 10100);
  ExpectApiError(AddDurable("Q", "U", kPull), 400, 10099);
  Json all = kPull;
  all["ack_policy"] = "all";
  all["filter_subject"] = "q.c";
  ExpectApiError(AddDurable("Q", "L", all), 400, 10101);
  ExpectApiError(AddDurable("Q", "N", {{"ack_policy", "none"}, {"filter_subject", "q.d"}}), 400, 10084);
  ExpectApiError(
      AddDurable("Q", "P", {{"ack_policy", "none"}, {"deliver_subject", "dlv.q"}, {"filter_subject", "q.e"}}), 400,
      10101);

  AddStream("R", {{"retention", "workqueue"}});
  EXPECT_FALSE(AddDurable("R", "U1", kPull).contains("error"));
  ExpectApiError(AddDurable("R", "U2", kPull), 400, 10099);
  Json f = kPull;
  f["filter_subject"] = "r.a";
  ExpectApiError(AddDurable("R", "F", f), 400, 10099);
  EXPECT_EQ(StreamState("Q")["consumer_count"], 2);
  EXPECT_EQ(StreamState("R")["consumer_count"], 1);
}

TEST_F(JetStreamTest, InterestRetentionRemovesOnceEveryConsumerIsDone) {
  AddStream("I", {{"retention", "interest"}});
  AddDurable("I", "A", kPull);
  AddDurable("I", "B", kPull);
  Json only_x = kPull;
  only_x["filter_subject"] = "i.x";
  AddDurable("I", "X", only_x);  // does not want i.a: never holds it
  PublishOk("i.a", "m1");
  EXPECT_EQ(StreamState("I")["messages"], 1);
  Next("A", R"({"batch":1})", "_INBOX.w.a", "I");
  Next("B", R"({"batch":1})", "_INBOX.w.b", "I");
  const std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 2u);
  Ack(got[0]);
  host_.DrainPosts();
  EXPECT_EQ(StreamState("I")["messages"], 1);
  Ack(got[1]);
  host_.DrainPosts();
  EXPECT_EQ(StreamState("I")["messages"], 0);
}

TEST_F(JetStreamTest, InterestRetentionWithoutConsumersDropsAtOnce) {
  AddStream("I", {{"retention", "interest"}});
  const Json ack = Publish("i.a", "m1");
  EXPECT_FALSE(ack.contains("error"));
  EXPECT_EQ(ack["seq"], 1);
  host_.DrainPosts();
  EXPECT_EQ(StreamState("I")["messages"], 0);
  ExpectApiError(Api("STREAM.MSG.GET.I", R"({"seq":1})"), 404, 10037);
  // A consumer created afterwards has nothing to deliver.
  AddDurable("I", "A", kPull);
  EXPECT_EQ(ConsumerInfo("I", "A")["num_pending"], 0);
}

// nats-server 2.9.10 (consumer.go stopWithFlags): deleting a consumer of an
// interest stream removes the messages no remaining consumer needs.
TEST_F(JetStreamTest, InterestRetentionConsumerDeleteRemovesWhatNoOneElseNeeds) {
  AddStream("I", {{"retention", "interest"}});
  AddDurable("I", "A", kPull);
  AddDurable("I", "B", kPull);
  PublishOk("i.a", "m1");
  PublishOk("i.a", "m2");
  Next("A", R"({"batch":2})", "_INBOX.w.a", "I");
  std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 2u);
  Ack(got[0]);
  Ack(got[1]);
  host_.DrainPosts();
  EXPECT_EQ(StreamState("I")["messages"], 2);  // B still wants both
  EXPECT_EQ(Api("CONSUMER.DELETE.I.B")["success"], true);
  host_.DrainPosts();
  EXPECT_EQ(StreamState("I")["messages"], 0);
}

// nats-server 2.9.10 (consumer.go processAckMsg, AckAll): every message the
// ack covers counts as acknowledged for interest retention.
TEST_F(JetStreamTest, InterestRetentionAckAllRemovesEverythingItCovers) {
  AddStream("I", {{"retention", "interest"}});
  AddDurable("I", "A", {{"ack_policy", "all"}});
  for (const char* p : {"m1", "m2", "m3"}) PublishOk("i.a", p);
  Next("A", R"({"batch":3})", "_INBOX.w.a", "I");
  const std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 3u);
  Ack(got[2]);
  host_.DrainPosts();
  EXPECT_EQ(ConsumerInfo("I", "A")["num_ack_pending"], 0);
  EXPECT_EQ(StreamState("I")["messages"], 0);
}

// nats-server: messages removed at the head move first_seq past them; with
// none left first_seq is last_seq + 1 (/tmp/js-spec.md §8, and as after a
// purge). Tools read first_seq.
TEST_F(JetStreamTest, RemovedHeadMessagesMoveFirstSeq) {
  AddStream("I", {{"retention", "interest"}});
  PublishOk("i.a", "m1");
  PublishOk("i.a", "m2");
  host_.DrainPosts();
  Json st = StreamState("I");
  EXPECT_EQ(st["messages"], 0);
  EXPECT_EQ(st["last_seq"], 2);
  EXPECT_EQ(st["first_seq"], 3) << st.dump();

  AddStream("Q", {{"retention", "workqueue"}});
  AddDurable("Q", "W", kPull);
  PublishOk("q.a", "m1");
  PublishOk("q.a", "m2");
  Next("W", R"({"batch":1})", "_INBOX.w.1", "Q");
  std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  Ack(got[0]);
  host_.DrainPosts();
  st = StreamState("Q");
  EXPECT_EQ(st["messages"], 1);
  EXPECT_EQ(st["first_seq"], 2) << st.dump();
  EXPECT_FALSE(st.contains("num_deleted")) << "only gaps between first_seq and last_seq count";
}

TEST_F(JetStreamTest, MaxMsgsPerSubjectOneKeepsTheLastOfEachSubject) {
  AddStream("S", {{"max_msgs_per_subject", 1}});
  EXPECT_EQ(PublishOk("s.a", "a1"), 1u);
  EXPECT_EQ(PublishOk("s.b", "b1"), 2u);
  EXPECT_EQ(PublishOk("s.a", "a2"), 3u);
  EXPECT_EQ(PublishOk("s.a", "a3"), 4u);
  const Json st = StreamState("S");
  EXPECT_EQ(st["messages"], 2);
  EXPECT_EQ(st["last_seq"], 4);
  ExpectApiError(Api("STREAM.MSG.GET.S", R"({"seq":1})"), 404, 10037);
  ExpectApiError(Api("STREAM.MSG.GET.S", R"({"seq":3})"), 404, 10037);
  Json r = Api("STREAM.MSG.GET.S", R"({"last_by_subj":"s.a"})");
  EXPECT_EQ(r["message"]["seq"], 4);
  EXPECT_EQ(r["message"]["data"], absl::Base64Escape("a3"));
  AddDurable("S", "C", kPull);
  EXPECT_EQ(ConsumerInfo("S", "C")["num_pending"], 2);
  Next("C", R"({"batch":5,"no_wait":true})");
  const std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(Meta(got[0]).sseq, 2u);
  EXPECT_EQ(Meta(got[1]).sseq, 4u);
  EXPECT_EQ(got[2].Status(), 408);
}

TEST_F(JetStreamTest, DiscardNewRefusesPastMaxMsgs) {
  AddStream("S", {{"max_msgs", 2}, {"discard", "new"}});
  PublishOk("s.a", "m1");
  PublishOk("s.a", "m2");
  Publish("s.a", "m3", Hdrs({{"Nats-Msg-Id", "x"}}));
  EXPECT_EQ(last_ack_raw_,
            R"({"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"S","seq":0})");
  EXPECT_EQ(StreamState("S")["messages"], 2);
  // The refused Msg-Id was not recorded: once there is room it is stored.
  EXPECT_TRUE(Api("STREAM.PURGE.S")["success"]);
  const Json again = Publish("s.a", "m3", Hdrs({{"Nats-Msg-Id", "x"}}));
  EXPECT_EQ(again["seq"], 3);
  EXPECT_FALSE(again.contains("duplicate"));
}

TEST_F(JetStreamTest, MaxMsgSizeIs10054) {
  AddStream("S", {{"max_msg_size", 8}});
  const Json ack = Publish("s.a", "123456789");
  ExpectApiError(ack, 400, 10054);
  EXPECT_EQ(ack["seq"], 0);
  EXPECT_EQ(ack["stream"], "S");
  // Headers count: 20 bytes of them plus one of data is over 8.
  ExpectApiError(Publish("s.a", "1", Hdrs({{"X-Padding", "0123456789"}})), 400, 10054);
  EXPECT_EQ(StreamState("S")["messages"], 0);
}

// nats-server 2.9.10 (stream.go processJetStreamMsg): the limit is on
// len(hdr)+len(msg); the subject does not count.
TEST_F(JetStreamTest, MaxMsgSizeCountsHeadersAndDataNotTheSubject) {
  AddStream("S", {{"max_msg_size", 8}});
  const Json ack = Publish("s.a.long.subject", "12345678");
  EXPECT_FALSE(ack.contains("error")) << ack.dump();
  EXPECT_EQ(ack.value("seq", 0), 1);
}

TEST_F(JetStreamTest, DuplicateWindowSurvivesARestart) {
  AddStream("S", {{"duplicate_window", 10 * kSecond}});
  EXPECT_EQ(PublishOk("s.a", "m1", Hdrs({{"Nats-Msg-Id", "a"}})), 1u);
  Json ack = Publish("s.a", "m1", Hdrs({{"Nats-Msg-Id", "a"}}));
  EXPECT_EQ(last_ack_raw_, R"({"stream":"S", "seq":1,"duplicate": true})");
  // Stream-wide: any subject.
  ack = Publish("s.other", "m1", Hdrs({{"Nats-Msg-Id", "a"}}));
  EXPECT_EQ(ack["duplicate"], true);

  host_.Advance(Seconds(3));
  RestartJs();
  ack = Publish("s.a", "m1", Hdrs({{"Nats-Msg-Id", "a"}}));
  EXPECT_EQ(ack["seq"], 1);
  EXPECT_EQ(ack["duplicate"], true);
  ReopenStore();
  ack = Publish("s.a", "m1", Hdrs({{"Nats-Msg-Id", "a"}}));
  EXPECT_EQ(ack["seq"], 1);
  EXPECT_EQ(ack["duplicate"], true);
  EXPECT_EQ(StreamState("S")["messages"], 1);

  // Past the window it is a new message, restart or not.
  host_.Advance(Seconds(8));
  ReopenStore();
  ack = Publish("s.a", "m1", Hdrs({{"Nats-Msg-Id", "a"}}));
  EXPECT_EQ(ack["seq"], 2);
  EXPECT_FALSE(ack.contains("duplicate"));
}

TEST_F(JetStreamTest, ExpectedLastMsgId) {
  AddStream("S");
  PublishOk("s.a", "m1", Hdrs({{"Nats-Msg-Id", "a"}}));
  EXPECT_EQ(PublishOk("s.a", "m2", Hdrs({{"Nats-Expected-Last-Msg-Id", "a"}, {"Nats-Msg-Id", "b"}})), 2u);
  Json ack = Publish("s.a", "m3", Hdrs({{"Nats-Expected-Last-Msg-Id", "a"}}));
  ExpectApiError(ack, 400, 10070);
  EXPECT_EQ(ack["error"]["description"], "wrong last msg ID: b");
  PublishOk("s.a", "m3");  // no Msg-Id: the last one is ""
  ack = Publish("s.a", "m4", Hdrs({{"Nats-Expected-Last-Msg-Id", "b"}}));
  ExpectApiError(ack, 400, 10070);
  // A duplicate is answered as one before any expectation is checked.
  ack = Publish("s.a", "m2", Hdrs({{"Nats-Expected-Last-Msg-Id", "zzz"}, {"Nats-Msg-Id", "b"}}));
  EXPECT_EQ(ack["duplicate"], true);
  EXPECT_EQ(ack["seq"], 2);
  // Kept across a restart (within the duplicate window).
  PublishOk("s.a", "m5", Hdrs({{"Nats-Msg-Id", "c"}}));
  RestartJs();
  EXPECT_EQ(PublishOk("s.a", "m6", Hdrs({{"Nats-Expected-Last-Msg-Id", "c"}})), 5u);
  EXPECT_EQ(StreamState("S")["messages"], 5);
}

TEST_F(JetStreamTest, OverlappingStreamSubjectsAreRefused) {
  AddStream("A", {{"subjects", {"a.>"}}});
  ExpectApiError(Api("STREAM.CREATE.B", R"({"subjects":["a.b"]})"), 400, 10065);
  ExpectApiError(Api("STREAM.CREATE.B", R"({"subjects":["*.b"]})"), 400, 10065);
  ExpectApiError(Api("STREAM.CREATE.B", R"({"subjects":["b.>","b.x"]})"), 500, 10052);  // within itself
  AddStream("B", {{"subjects", {"b.>"}}});
  ExpectApiError(Api("STREAM.UPDATE.B", R"({"subjects":["b.>","a.c"]})"), 400, 10065);
  const Json names = Api("STREAM.NAMES");
  EXPECT_EQ(names["total"], 2);
  // Publishes land in the right stream.
  EXPECT_EQ(Publish("a.x", "1")["stream"], "A");
  EXPECT_EQ(Publish("b.x", "1")["stream"], "B");
}

TEST_F(JetStreamTest, StreamUpdateKeepsConsumersAndTheirState) {
  AddStream("S");
  AddDurable("S", "C", kPull);
  PublishOk("s.a", "m1");
  PublishOk("s.a", "m2");
  Next("C", R"({"batch":1})");
  std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  Ack(got[0]);
  host_.DrainPosts();

  const Json r = Api("STREAM.UPDATE.S", R"({"subjects":["s.>","t.>"],"max_msgs":100})");
  ASSERT_FALSE(r.contains("error")) << r.dump();
  EXPECT_EQ(r["type"], "io.nats.jetstream.api.v1.stream_update_response");
  EXPECT_EQ(r["config"]["subjects"], Json({"s.>", "t.>"}));
  EXPECT_EQ(r["config"]["max_msgs"], 100);
  EXPECT_EQ(r["config"]["segment_size"], 1 << 20);  // left out: kept
  EXPECT_EQ(r["state"]["consumer_count"], 1);
  Json info = ConsumerInfo("S", "C");
  EXPECT_EQ(info["ack_floor"]["stream_seq"], 1);
  EXPECT_EQ(info["num_pending"], 1);

  EXPECT_EQ(PublishOk("t.x", "m3"), 3u);
  Next("C", R"({"batch":2})");
  got = Take(kWorker);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(Meta(got[0]).sseq, 2u);
  EXPECT_EQ(got[1].subject, "t.x");
  ExpectApiError(Api("STREAM.UPDATE.S", R"({"subjects":["s.>"],"retention":"workqueue"})"), 500, 10052);
}

// ======================= purge =======================

class JetStreamPurgeTest : public JetStreamTest {
 protected:
  // P with p.a(1) p.b(2) p.a(3) p.b(4) p.a(5) p.b(6).
  void Fill() {
    AddStream("P");
    for (int i = 1; i <= 6; ++i) PublishOk(i % 2 ? "p.a" : "p.b", absl::StrCat("m", i));
  }
  Json Purge(const std::string& body) { return Api("STREAM.PURGE.P", body); }
  bool Has(uint64_t seq) { return !Api("STREAM.MSG.GET.P", absl::StrCat(R"({"seq":)", seq, "}")).contains("error"); }
};

TEST_F(JetStreamPurgeTest, Filter) {
  Fill();
  const Json r = Purge(R"({"filter":"p.a"})");
  EXPECT_EQ(r, Json::parse(R"({"type":"io.nats.jetstream.api.v1.stream_purge_response","success":true,"purged":3})"));
  EXPECT_EQ(StreamState("P")["messages"], 3);
  EXPECT_FALSE(Has(1));
  EXPECT_TRUE(Has(2));
  EXPECT_FALSE(Has(5));
}

TEST_F(JetStreamPurgeTest, FilterKeep) {
  Fill();
  EXPECT_EQ(Purge(R"({"filter":"p.a","keep":1})")["purged"], 2);
  EXPECT_FALSE(Has(1));
  EXPECT_FALSE(Has(3));
  EXPECT_TRUE(Has(5));
  EXPECT_EQ(StreamState("P")["messages"], 4);
}

TEST_F(JetStreamPurgeTest, FilterSeq) {
  Fill();
  EXPECT_EQ(Purge(R"({"filter":"p.b","seq":5})")["purged"], 2);
  EXPECT_TRUE(Has(1));
  EXPECT_FALSE(Has(2));
  EXPECT_FALSE(Has(4));
  EXPECT_TRUE(Has(6));
}

TEST_F(JetStreamPurgeTest, Seq) {
  Fill();
  EXPECT_EQ(Purge(R"({"seq":4})")["purged"], 3);
  const Json st = StreamState("P");
  EXPECT_EQ(st["messages"], 3);
  EXPECT_EQ(st["first_seq"], 4);
}

TEST_F(JetStreamPurgeTest, Keep) {
  Fill();
  EXPECT_EQ(Purge(R"({"keep":2})")["purged"], 4);
  EXPECT_EQ(StreamState("P")["first_seq"], 5);
  EXPECT_EQ(Purge(R"({"keep":10})")["purged"], 0);
  EXPECT_EQ(StreamState("P")["messages"], 2);
}

TEST_F(JetStreamPurgeTest, KeepSkipsDeletedMessages) {
  Fill();
  EXPECT_EQ(Api("STREAM.MSG.DELETE.P", R"({"seq":5})")["success"], true);
  EXPECT_EQ(Purge(R"({"keep":2})")["purged"], 3);  // keeps 4 and 6
  EXPECT_TRUE(Has(4));
  EXPECT_TRUE(Has(6));
  EXPECT_EQ(StreamState("P")["messages"], 2);
}

TEST_F(JetStreamPurgeTest, AllCountsOnlyWhatWasThere) {
  Fill();
  EXPECT_EQ(Api("STREAM.MSG.DELETE.P", R"({"seq":2})")["success"], true);
  EXPECT_EQ(Purge("")["purged"], 5);
  const Json st = StreamState("P");
  EXPECT_EQ(st["messages"], 0);
  EXPECT_EQ(st["first_seq"], 7);
  EXPECT_EQ(st["last_seq"], 6);
  EXPECT_EQ(PublishOk("p.a", "m7"), 7u);  // sequences are never reused
}

TEST_F(JetStreamPurgeTest, SeqAndKeepTogetherIsABadRequest) {
  Fill();
  const Json r = Purge(R"({"seq":2,"keep":1})");
  ExpectApiError(r, 400, 10003);
  EXPECT_EQ(r["purged"], 0);
  EXPECT_EQ(StreamState("P")["messages"], 6);
}

TEST_F(JetStreamPurgeTest, ConsumersCountTheirPendingAnew) {
  Fill();
  AddDurable("P", "C", kPull);
  EXPECT_EQ(ConsumerInfo("P", "C")["num_pending"], 6);
  Purge(R"({"filter":"p.a"})");
  EXPECT_EQ(ConsumerInfo("P", "C")["num_pending"], 3);
  Next("C", R"({"batch":1})", "_INBOX.w.1", "P");
  const std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Meta(got[0]).sseq, 2u);
  EXPECT_EQ(Meta(got[0]).pending, 2u);
}

// ======================= messages and names =======================

TEST_F(JetStreamTest, MsgGetLastBySubjectWithWildcards) {
  AddStream("S");
  PublishOk("s.a", "a1");
  PublishOk("s.b", "b1", Hdrs({{"X-K", "v"}}));
  PublishOk("s.a", "a2");
  PublishOk("s.c.d", "cd");
  Json r = Api("STREAM.MSG.GET.S", R"({"last_by_subj":"s.*"})");
  EXPECT_EQ(r["type"], "io.nats.jetstream.api.v1.stream_msg_get_response");
  EXPECT_EQ(r["message"]["seq"], 3);
  EXPECT_EQ(r["message"]["subject"], "s.a");
  EXPECT_EQ(r["message"]["data"], absl::Base64Escape("a2"));
  EXPECT_FALSE(r["message"].contains("hdrs"));
  EXPECT_EQ(Api("STREAM.MSG.GET.S", R"({"last_by_subj":"s.>"})")["message"]["seq"], 4);
  r = Api("STREAM.MSG.GET.S", R"({"last_by_subj":"s.b"})");
  EXPECT_EQ(r["message"]["seq"], 2);
  EXPECT_EQ(r["message"]["hdrs"], absl::Base64Escape("NATS/1.0\r\nX-K: v\r\n\r\n"));
  ExpectApiError(Api("STREAM.MSG.GET.S", R"({"last_by_subj":"x.*"})"), 404, 10037);
  ExpectApiError(Api("STREAM.MSG.GET.S", R"({"last_by_subj":"s.zz"})"), 404, 10037);
  EXPECT_TRUE(Api("STREAM.MSG.DELETE.S", R"({"seq":3})")["success"]);
  EXPECT_EQ(Api("STREAM.MSG.GET.S", R"({"last_by_subj":"s.*"})")["message"]["seq"], 2);
}

// nats-server answers last_by_subj from what the stream holds: once the
// newest message of a subject is deleted, the one before it.
TEST_F(JetStreamTest, MsgGetLastBySubjectAfterDeletingTheNewest) {
  AddStream("S");
  PublishOk("s.a", "a1");
  PublishOk("s.a", "a2");
  EXPECT_TRUE(Api("STREAM.MSG.DELETE.S", R"({"seq":2})")["success"]);
  const Json r = Api("STREAM.MSG.GET.S", R"({"last_by_subj":"s.a"})");
  ASSERT_FALSE(r.contains("error")) << r.dump();
  EXPECT_EQ(r["message"]["seq"], 1);
}

// The same stale "last of subject": Nats-Expected-Last-Subject-Sequence is
// checked against what the stream holds (nats-server LoadLastMsg).
TEST_F(JetStreamTest, ExpectedLastSubjectSequenceAfterDeletingTheNewest) {
  AddStream("S");
  PublishOk("s.a", "a1");
  PublishOk("s.a", "a2");
  EXPECT_TRUE(Api("STREAM.MSG.DELETE.S", R"({"seq":2})")["success"]);
  const Json ack = Publish("s.a", "a3", Hdrs({{"Nats-Expected-Last-Subject-Sequence", "1"}}));
  EXPECT_FALSE(ack.contains("error")) << ack.dump();
  EXPECT_EQ(ack.value("seq", 0), 3);
}

TEST_F(JetStreamTest, StreamNamesWithSubjectFilterAndPaging) {
  AddStream("A", {{"subjects", {"a.>"}}});
  AddStream("B", {{"subjects", {"b.*"}}});
  AddStream("C", {{"subjects", {"c.x"}}});
  AddStream("D", {{"subjects", {"d"}}});
  Json r = Api("STREAM.NAMES");
  EXPECT_EQ(r, Json::parse(R"({"type":"io.nats.jetstream.api.v1.stream_names_response","total":4,"offset":0,
                               "limit":1024,"streams":["A","B","C","D"]})"));
  r = Api("STREAM.NAMES", R"({"subject":"b.q"})");
  EXPECT_EQ(r["total"], 1);
  EXPECT_EQ(r["streams"], Json({"B"}));
  r = Api("STREAM.NAMES", R"({"subject":"*.x"})");
  EXPECT_EQ(r["streams"], Json({"A", "B", "C"}));
  r = Api("STREAM.NAMES", R"({"subject":"*.x","offset":1})");
  EXPECT_EQ(r["total"], 3);
  EXPECT_EQ(r["offset"], 1);
  EXPECT_EQ(r["streams"], Json({"B", "C"}));
  r = Api("STREAM.NAMES", R"({"subject":"zz"})");
  EXPECT_EQ(r["total"], 0);
  EXPECT_TRUE(r["streams"].is_null());
  r = Api("STREAM.NAMES", R"({"offset":2})");
  EXPECT_EQ(r["streams"], Json({"C", "D"}));
  r = Api("STREAM.NAMES", R"({"offset":9})");
  EXPECT_EQ(r["offset"], 4);
  EXPECT_TRUE(r["streams"].is_null());
}

// ======================= durability =======================

TEST_F(JetStreamTest, SyncAlwaysAcknowledgesOnlyWhatIsDurable) {
  AddStream("D", {{"sync", "always"}});
  constexpr int kCount = 20;
  std::string burst;
  for (int i = 1; i <= kCount; ++i) absl::StrAppend(&burst, Pub("d.a", absl::StrCat("_INBOX.ack.", i), "x"));
  h_.Type(kApi, burst);
  index::StoredStream* stored = store_->Find("D");
  ASSERT_NE(stored, nullptr);
  std::vector<uint64_t> acked;
  auto collect = [&] {
    for (const Msg& m : Take(kApi)) {
      const Json ack = Json::parse(m.payload);
      EXPECT_EQ(m.subject, absl::StrCat("_INBOX.ack.", ack["seq"].get<uint64_t>()));
      acked.push_back(ack["seq"].get<uint64_t>());
    }
  };
  collect();
  // Whatever was acknowledged in the handling of the publishes was durable
  // in the log then (durable_seq only grows): acknowledgements wait for the
  // log's sync, not the index's (docs/jetstream.md).
  const size_t immediate = acked.size();
  for (uint64_t seq : acked) EXPECT_LE(seq, stored->log().durable_seq());
  EXPECT_LT(immediate, static_cast<size_t>(kCount)) << "no acknowledgement waited for a sync";

  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (stored->log().durable_seq() < kCount && std::chrono::steady_clock::now() < limit) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(stored->log().durable_seq(), static_cast<uint64_t>(kCount));
  collect();
  EXPECT_EQ(acked.size(), immediate) << "an acknowledgement came without the durable callback";
  host_.DrainPosts();
  collect();
  ASSERT_EQ(acked.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) EXPECT_EQ(acked[i], static_cast<uint64_t>(i + 1));
}

TEST_F(JetStreamTest, SyncAlwaysAsksForOneSyncPerTurnOfTheLoop) {
  sync_on_append_ = false;  // as the daemon opens its store
  ReopenStore();
  AddStream("T", {{"sync", "always"}});
  index::StoredStream* stored = store_->Find("T");
  ASSERT_NE(stored, nullptr);
  host_.DrainPosts();
  const uint64_t syncs0 = stored->log().stats().syncs;
  constexpr int kCount = 50;
  std::string burst;
  for (int i = 1; i <= kCount; ++i) absl::StrAppend(&burst, Pub("t.a", absl::StrCat("_INBOX.ack.", i), "x"));
  h_.Type(kApi, burst);
  // The turn is not over: no sync was asked for, none ran, nothing is acknowledged.
  EXPECT_EQ(stored->log().stats().syncs, syncs0);
  EXPECT_TRUE(Take(kApi).empty());
  host_.DrainPosts();  // the end of the turn asks for one sync of the whole burst
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (stored->log().durable_seq() < kCount && std::chrono::steady_clock::now() < limit) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(stored->log().durable_seq(), static_cast<uint64_t>(kCount));
  EXPECT_EQ(stored->log().stats().syncs - syncs0, 1u);
  host_.DrainPosts();
  const std::vector<Msg> acks = Take(kApi);
  ASSERT_EQ(acks.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) EXPECT_EQ(Json::parse(acks[i].payload)["seq"], i + 1);
}

// As the daemon runs sync=always streams: a turn's appends are staged in the
// writer's buffer (engine::LogOptions::defer_publish) until the turn ends.
// Whatever reads the stream within the same turn must see them: an
// expected-last-sequence check, a message get, a pull request.
TEST_F(JetStreamTest, SyncAlwaysStagedAppendsAreReadableWithinTheTurn) {
  index::StoredStream* stored = AddStagedSyncAlwaysStream("T");
  ASSERT_NE(stored, nullptr);
  host_.DrainPosts();
  h_.Type(kApi, Pub("t.a", "_INBOX.ack.1", "one"));
  // Staged: not readable yet, and the turn is not over.
  EXPECT_EQ(stored->log().last_seq(), 0u);
  EXPECT_EQ(stored->log().next_seq(), 2u);
  // Same turn: an expectation on the staged message, one more staged, and a get of it.
  h_.Type(kApi, HPub("t.a", "_INBOX.ack.2", Hdrs({{"Nats-Expected-Last-Sequence", "1"}}), "two") +
                    Pub("t.a", "_INBOX.ack.3", "three") +
                    Pub("$JS.API.STREAM.MSG.GET.T", "_INBOX.api", R"({"seq":3})"));
  std::vector<Msg> api = Take(kApi);
  ASSERT_EQ(api.size(), 1u);  // the get; the acknowledgements wait for the sync
  const Json got = Json::parse(api[0].payload);
  ASSERT_FALSE(got.contains("error")) << got.dump();
  EXPECT_EQ(got["message"]["seq"], 3);
  host_.DrainPosts();  // the end of the turn: publish what is left, ask for the sync
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (stored->log().durable_seq() < 3 && std::chrono::steady_clock::now() < limit) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(stored->log().durable_seq(), 3u);
  host_.DrainPosts();
  const std::vector<Msg> acks = Take(kApi);
  ASSERT_EQ(acks.size(), 3u);
  for (size_t i = 0; i < acks.size(); ++i) {
    const Json ack = Json::parse(acks[i].payload);
    EXPECT_FALSE(ack.contains("error")) << ack.dump();
    EXPECT_EQ(ack["seq"], i + 1);
  }
  // With a consumer, an append is readable at once: a pull request in the
  // same turn gets it.
  ASSERT_FALSE(AddDurable("T", "C", kPull).contains("error"));
  h_.Type(kApi, Pub("t.b", "_INBOX.ack.4", "four"));
  Next("C", R"({"batch":4,"no_wait":true})", "_INBOX.w.1", "T");
  const std::vector<Msg> pulled = Take(kWorker);
  ASSERT_GE(pulled.size(), 4u);
  EXPECT_EQ(pulled[3].payload, "four");
}

// Under sync=always a push consumer gets the turn's appends at its end,
// written once for the turn, not one write per append to serve each at
// once.
TEST_F(JetStreamTest, SyncAlwaysPushDeliveryWaitsForTheEndOfTheTurn) {
  index::StoredStream* stored = AddStagedSyncAlwaysStream("T");
  ASSERT_NE(stored, nullptr);
  h_.Type(kPush, "SUB dlv.t 1\r\n");
  ASSERT_FALSE(AddDurable("T", "P", {{"ack_policy", "explicit"}, {"deliver_subject", "dlv.t"}}).contains("error"));
  host_.DrainPosts();
  EXPECT_TRUE(Take(kPush).empty());
  h_.Type(kApi, Pub("t.a", "", "one") + Pub("t.b", "", "two") + Pub("t.c", "", "three"));
  EXPECT_EQ(stored->log().last_seq(), 0u);  // still staged: nothing was written for the consumer
  EXPECT_TRUE(Take(kPush).empty());
  host_.DrainPosts();  // the end of the turn
  EXPECT_EQ(stored->log().last_seq(), 3u);
  const std::vector<Msg> got = Take(kPush);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].payload, "one");
  EXPECT_EQ(got[1].payload, "two");
  EXPECT_EQ(got[2].payload, "three");
}

// Found by fuzz/jetstream_api_fuzzer: a name or subject that is not UTF-8
// made nlohmann::json::dump throw while the answer was written, and the
// uncaught exception ended the daemon. Such bytes are answered as U+FFFD,
// as nats-server (Go's encoding/json) writes them.
TEST_F(JetStreamTest, InvalidUtf8InNamesAndSubjectsIsAnsweredAsReplacementCharacters) {
  const std::string kReplacement = "\xEF\xBF\xBD";
  Json r = Api("STREAM.CREATE.S\xFE", R"({"subjects":["bad.>"]})");
  ExpectApiError(r, 500, 10052);
  EXPECT_NE(r["error"]["description"].get<std::string>().find("S" + kReplacement), std::string::npos) << r.dump();

  AddStream("S");
  EXPECT_EQ(PublishOk("s.\xFF\xFE", "hello"), 1u);
  r = Api("STREAM.MSG.GET.S", R"({"seq":1})");
  ASSERT_TRUE(r.contains("message")) << r.dump();
  EXPECT_EQ(r["message"]["subject"], "s." + kReplacement + kReplacement);

  r = Api("CONSUMER.CREATE.S.c\xFF", R"({"config":{}})");
  ExpectApiError(r, 400, 10003);
  EXPECT_NE(r["error"]["description"].get<std::string>().find("c" + kReplacement), std::string::npos) << r.dump();
  EXPECT_EQ(StreamState("S")["messages"], 1);
}

// Found by fuzz/jetstream_api_fuzzer (UBSan): nlohmann's get<int64_t>() of
// a float out of range (1e300) is undefined behaviour. Such a number is a
// wrong value, refused as any wrong type is; an integral float in range is
// taken (1e3 is 1000).
TEST_F(JetStreamTest, FloatsOutOfAnIntegerFieldsRangeAreRefused) {
  Json r = Api("STREAM.CREATE.F", R"({"subjects":["f.>"],"max_msgs":1e300})");
  ExpectApiError(r, 400, 10003);
  EXPECT_EQ(r["error"]["description"], "invalid value of field max_msgs") << r.dump();
  ExpectApiError(Api("STREAM.CREATE.F", R"({"subjects":["f.>"],"max_age":-1e300})"), 400, 10003);
  ExpectApiError(Api("STREAM.CREATE.F", R"({"subjects":["f.>"],"max_msgs":1.5})"), 400, 10003);
  r = Api("STREAM.CREATE.F", R"({"subjects":["f.>"],"max_msgs":1e3,"segment_size":1048576})");
  ASSERT_FALSE(r.contains("error")) << r.dump();
  EXPECT_EQ(r["config"]["max_msgs"], 1000);

  AddStream("S");
  PublishOk("s.1", "one");
  ExpectApiError(Api("STREAM.MSG.GET.S", R"({"seq":1e300})"), 400, 10025);
  ExpectApiError(Api("STREAM.NAMES", R"({"offset":-1e300})"), 400, 10025);
  EXPECT_FALSE(AddDurable("S", "d", Json::parse(R"({"ack_wait":1e300})")).contains("config"));
  ASSERT_FALSE(AddDurable("S", "e", Json::object()).contains("error"));
  Next("e", R"({"batch":1e300})");
  std::vector<Msg> got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].StatusLine(), "NATS/1.0 400 Bad Request - invalid JSON");
  Next("e", R"({"batch":1e0})");
  got = Take(kWorker);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "one");
}

}  // namespace
}  // namespace shortbus::server
