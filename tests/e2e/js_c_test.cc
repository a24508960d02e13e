// End-to-end JetStream tests with the official NATS C client's `js_*` API
// (libnats) against the server named by E2E_SERVER_KIND / E2E_SERVER_BIN,
// with JetStream on (see meson.build): nats-server -js proves the tests test
// the right thing; shortbusd must pass them unchanged.
//
// Only what JetStream clients rely on is asserted: API shapes, sequences,
// counts, the documented numeric error codes (jsErrCode). Never description
// texts or server-generated names.
//
// Each test on the shared server owns the stream named after the test and
// the subjects `<TestName>.>` (CreateStream owns `orders.>`), so tests do not
// see each other's messages; the stream is deleted when the test ends.
#include <gtest/gtest.h>
#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/e2e/nats_c_util.h"
#include "tests/e2e/server_launcher.h"

namespace shortbus::e2e {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr int64_t kNanosPerMilli = 1'000'000;

// The server under test with JetStream on (see StartServerFromEnv).
std::unique_ptr<ServerProcess> StartServer(std::string* error, ServerOptions options = {}) {
  options.jetstream = true;
  return StartServerFromEnv(error, std::move(options));
}

// True once `done` holds, polled until `limit` passes.
bool Eventually(const std::function<bool()>& done, milliseconds limit = milliseconds(5000)) {
  const auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

// What the JetStream reply subject of a delivered message says.
struct Meta {
  uint64_t stream_seq = 0;
  uint64_t consumer_seq = 0;
  uint64_t delivered = 0;
  uint64_t pending = 0;
  std::string stream;
  std::string consumer;
};

Meta MetaOf(natsMsg* m) {
  jsMsgMetaData* raw = nullptr;
  Meta meta;
  if (natsMsg_GetMetaData(&raw, m) != NATS_OK) {
    ADD_FAILURE() << "no JetStream metadata in reply subject '"
                  << (natsMsg_GetReply(m) ? natsMsg_GetReply(m) : "") << "'";
    return meta;
  }
  Owned<jsMsgMetaData> owned(raw);
  meta.stream_seq = raw->Sequence.Stream;
  meta.consumer_seq = raw->Sequence.Consumer;
  meta.delivered = raw->NumDelivered;
  meta.pending = raw->NumPending;
  meta.stream = raw->Stream ? raw->Stream : "";
  meta.consumer = raw->Consumer ? raw->Consumer : "";
  return meta;
}

using Msgs = std::vector<Owned<natsMsg>>;

// Up to n messages from a pull subscription, fetching until n have come or
// `limit` has passed (then fewer). A fetch that ends in an error other than
// a timeout fails the test.
Msgs FetchN(natsSubscription* sub, int n, milliseconds limit = milliseconds(5000)) {
  Msgs got;
  const auto deadline = Clock::now() + limit;
  while (static_cast<int>(got.size()) < n) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    natsMsgList list{};
    jsErrCode err = static_cast<jsErrCode>(0);
    const natsStatus s =
        natsSubscription_Fetch(&list, sub, n - static_cast<int>(got.size()), left, &err);
    for (int i = 0; i < list.Count; ++i) {
      got.emplace_back(list.Msgs[i]);
      list.Msgs[i] = nullptr;
    }
    natsMsgList_Destroy(&list);
    if (s != NATS_OK && s != NATS_TIMEOUT) {
      ADD_FAILURE() << "fetch: " << natsStatus_GetText(s) << " (js error " << err << ") "
                    << nats_GetLastError(nullptr);
      break;
    }
  }
  return got;
}

// Asserts that a fetch of one message for `wait` returns nothing: a
// timeout, no message.
void ExpectNothingToFetch(natsSubscription* sub, milliseconds wait) {
  natsMsgList list{};
  const natsStatus s = natsSubscription_Fetch(&list, sub, 1, wait.count(), nullptr);
  EXPECT_EQ(s, NATS_TIMEOUT) << natsStatus_GetText(s);
  EXPECT_EQ(list.Count, 0);
  for (int i = 0; i < list.Count; ++i) {
    ADD_FAILURE() << "unexpected message on " << natsMsg_GetSubject(list.Msgs[i]) << ": "
                  << Data(list.Msgs[i]);
  }
  natsMsgList_Destroy(&list);
}

std::vector<std::string> Payloads(const Msgs& msgs) {
  std::vector<std::string> out;
  for (const auto& m : msgs) out.push_back(Data(m.get()));
  return out;
}

class JsC : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = StartServer(&start_error_).release(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    ASSERT_EQ(start_error_, "");
    name_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_NO_FATAL_FAILURE(Open(server_->url()));
  }
  void TearDown() override {
    if (js_ == nullptr) return;
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = 2000;
    for (const auto& s : streams_) js_DeleteStream(js_.get(), s.c_str(), &o, nullptr);
  }

  // Connects nc_ and js_ to url (after closing what was open).
  void Open(const std::string& url) {
    Close();
    ASSERT_EQ(Connect(&nc_, url), NATS_OK) << nats_GetLastError(nullptr);
    jsCtx* js = nullptr;
    ASSERT_EQ(natsConnection_JetStream(&js, nc_.get(), nullptr), NATS_OK);
    js_.reset(js);
  }
  void Close() {
    js_.reset();
    nc_.reset();
  }

  // `<test name>.<suffix>`: a subject of the test's own stream.
  std::string Subj(const std::string& suffix) const { return name_ + "." + suffix; }

  // Creates stream `name` (default: the test's name, on `<name>.>`); `tweak`
  // adjusts the rest of the configuration. The test fails when it is refused.
  Owned<jsStreamInfo> AddStream(const std::function<void(jsStreamConfig*)>& tweak = nullptr,
                                std::string name = "", std::vector<std::string> subjects = {}) {
    if (name.empty()) name = name_;
    if (subjects.empty()) subjects = {name + ".>"};
    std::vector<const char*> subject_ptrs;
    for (const auto& s : subjects) subject_ptrs.push_back(s.c_str());
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = name.c_str();
    cfg.Subjects = subject_ptrs.data();
    cfg.SubjectsLen = static_cast<int>(subject_ptrs.size());
    cfg.Storage = js_FileStorage;
    if (tweak) tweak(&cfg);
    jsStreamInfo* si = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    const natsStatus s = js_AddStream(&si, js_.get(), &cfg, nullptr, &err);
    EXPECT_EQ(s, NATS_OK) << "add stream " << name << ": js error " << err << " "
                          << nats_GetLastError(nullptr);
    if (s == NATS_OK) streams_.push_back(name);
    return Owned<jsStreamInfo>(si);
  }

  Owned<jsStreamInfo> StreamInfo(const std::string& stream = "") {
    jsStreamInfo* si = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    const natsStatus s =
        js_GetStreamInfo(&si, js_.get(), (stream.empty() ? name_ : stream).c_str(), nullptr, &err);
    EXPECT_EQ(s, NATS_OK) << "stream info: js error " << err << " " << nats_GetLastError(nullptr);
    return Owned<jsStreamInfo>(si);
  }

  // Publishes and waits for the acknowledgement; null (and *status, *err
  // set) when refused.
  Owned<jsPubAck> Publish(const std::string& subject, const std::string& data,
                          jsPubOptions* opts = nullptr, natsStatus* status = nullptr,
                          jsErrCode* err = nullptr) {
    jsPubAck* pa = nullptr;
    jsErrCode e = static_cast<jsErrCode>(0);
    const natsStatus s = js_Publish(&pa, js_.get(), subject.c_str(), data.data(),
                                    static_cast<int>(data.size()), opts, &e);
    if (status != nullptr) *status = s;
    if (err != nullptr) *err = e;
    return Owned<jsPubAck>(pa);
  }
  // Publishes and expects an acknowledgement with sequence `seq`.
  void PublishOk(const std::string& subject, const std::string& data, uint64_t seq) {
    natsStatus s = NATS_OK;
    jsErrCode err = static_cast<jsErrCode>(0);
    auto pa = Publish(subject, data, nullptr, &s, &err);
    ASSERT_EQ(s, NATS_OK) << "publish on " << subject << ": js error " << err << " "
                          << nats_GetLastError(nullptr);
    ASSERT_TRUE(pa);
    EXPECT_EQ(pa->Sequence, seq) << subject << " " << data;
  }

  // Creates the durable pull consumer `durable` on the test's stream,
  // explicit acks, filtered on `filter`; `tweak` adjusts the rest.
  void AddPullConsumer(const std::string& durable, const std::string& filter,
                       const std::function<void(jsConsumerConfig*)>& tweak = nullptr,
                       jsErrCode* err_out = nullptr, natsStatus* status_out = nullptr) {
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = durable.c_str();
    cc.AckPolicy = js_AckExplicit;
    cc.FilterSubject = filter.empty() ? nullptr : filter.c_str();
    if (tweak) tweak(&cc);
    jsConsumerInfo* ci = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    const natsStatus s = js_AddConsumer(&ci, js_.get(), name_.c_str(), &cc, nullptr, &err);
    Owned<jsConsumerInfo> owned(ci);
    if (err_out != nullptr || status_out != nullptr) {
      if (err_out != nullptr) *err_out = err;
      if (status_out != nullptr) *status_out = s;
      return;
    }
    ASSERT_EQ(s, NATS_OK) << "add consumer " << durable << ": js error " << err << " "
                          << nats_GetLastError(nullptr);
    ASSERT_TRUE(ci);
    EXPECT_EQ(std::string(ci->Stream), name_);
    EXPECT_EQ(std::string(ci->Name), durable);
  }

  // A pull subscription bound to the existing consumer `durable` of the
  // test's stream, whose filter is `filter`.
  Owned<natsSubscription> PullSubscribe(const std::string& durable, const std::string& filter) {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = name_.c_str();
    so.Consumer = durable.c_str();
    natsSubscription* sub = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    const natsStatus s =
        js_PullSubscribe(&sub, js_.get(), filter.c_str(), durable.c_str(), nullptr, &so, &err);
    EXPECT_EQ(s, NATS_OK) << "pull subscribe " << durable << ": js error " << err << " "
                          << nats_GetLastError(nullptr);
    return Owned<natsSubscription>(sub);
  }

  // AddPullConsumer then PullSubscribe.
  Owned<natsSubscription> PullConsumer(
      const std::string& durable, const std::string& filter,
      const std::function<void(jsConsumerConfig*)>& tweak = nullptr) {
    AddPullConsumer(durable, filter, tweak);
    return PullSubscribe(durable, filter);
  }

  Owned<jsConsumerInfo> ConsumerInfo(const std::string& durable) {
    jsConsumerInfo* ci = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    const natsStatus s =
        js_GetConsumerInfo(&ci, js_.get(), name_.c_str(), durable.c_str(), nullptr, &err);
    EXPECT_EQ(s, NATS_OK) << "consumer info: js error " << err << " "
                          << nats_GetLastError(nullptr);
    return Owned<jsConsumerInfo>(ci);
  }

  // Acknowledges and waits for the server to confirm: what follows on any
  // connection sees the acknowledgement.
  static void AckSync(natsMsg* m) {
    jsErrCode err = static_cast<jsErrCode>(0);
    EXPECT_EQ(natsMsg_AckSync(m, nullptr, &err), NATS_OK)
        << "ack: js error " << err << " " << nats_GetLastError(nullptr);
  }

  static ServerProcess* server_;
  static std::string start_error_;
  // A server of the test's own (restart, kill), when it needs one; declared
  // before nc_ and js_ so that it outlives them and TearDown.
  std::unique_ptr<ServerProcess> own_;
  std::string name_;
  std::vector<std::string> streams_;  // created by this test: deleted at its end
  Owned<natsConnection> nc_;
  Owned<jsCtx> js_;  // after nc_: destroyed first
};
ServerProcess* JsC::server_ = nullptr;
std::string JsC::start_error_;

TEST_F(JsC, CreateStreamInfoShowsConfigAndState) {
  auto created = AddStream(
      [](jsStreamConfig* c) {
        c->MaxMsgs = 1000;
        c->Duplicates = 60'000 * kNanosPerMilli;
      },
      "ORDERS", {"orders.>"});
  ASSERT_TRUE(created);
  ASSERT_NE(created->Config, nullptr);
  EXPECT_STREQ(created->Config->Name, "ORDERS");
  ASSERT_EQ(created->Config->SubjectsLen, 1);
  EXPECT_STREQ(created->Config->Subjects[0], "orders.>");
  EXPECT_EQ(created->Config->Retention, js_LimitsPolicy);
  EXPECT_EQ(created->Config->Storage, js_FileStorage);
  EXPECT_EQ(created->Config->MaxMsgs, 1000);
  EXPECT_EQ(created->Config->Duplicates, 60'000 * kNanosPerMilli);
  EXPECT_EQ(created->State.Msgs, 0u);
  EXPECT_EQ(created->State.LastSeq, 0u);
  EXPECT_GT(created->Created, 0);

  ASSERT_NO_FATAL_FAILURE(PublishOk("orders.eu.1", "first", 1));
  ASSERT_NO_FATAL_FAILURE(PublishOk("orders.us.7", "second!", 2));
  auto si = StreamInfo("ORDERS");
  ASSERT_TRUE(si);
  EXPECT_STREQ(si->Config->Name, "ORDERS");
  EXPECT_STREQ(si->Config->Subjects[0], "orders.>");
  EXPECT_EQ(si->State.Msgs, 2u);
  EXPECT_GT(si->State.Bytes, 0u);
  EXPECT_EQ(si->State.FirstSeq, 1u);
  EXPECT_EQ(si->State.LastSeq, 2u);
  EXPECT_GT(si->State.FirstTime, 0);
  EXPECT_GE(si->State.LastTime, si->State.FirstTime);

  // Subjects of two streams must not overlap.
  std::vector<const char*> overlapping = {"orders.eu.>"};
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = "ORDERS_EU";
  cfg.Subjects = overlapping.data();
  cfg.SubjectsLen = 1;
  jsErrCode err = static_cast<jsErrCode>(0);
  EXPECT_NE(js_AddStream(nullptr, js_.get(), &cfg, nullptr, &err), NATS_OK);
  EXPECT_EQ(err, JSStreamSubjectOverlapErr);
  // Nor can a stream be created again under the same name with another
  // configuration.
  std::vector<const char*> other = {"elsewhere.>"};
  cfg.Name = "ORDERS";
  cfg.Subjects = other.data();
  err = static_cast<jsErrCode>(0);
  EXPECT_NE(js_AddStream(nullptr, js_.get(), &cfg, nullptr, &err), NATS_OK);
  EXPECT_EQ(err, JSStreamNameExistErr);
  // Neither refusal touched the stream.
  si = StreamInfo("ORDERS");
  ASSERT_TRUE(si);
  EXPECT_STREQ(si->Config->Subjects[0], "orders.>");
  EXPECT_EQ(si->State.Msgs, 2u);
}

TEST_F(JsC, PublishIsAcknowledgedWithStreamAndSequence) {
  ASSERT_TRUE(AddStream());
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    auto pa = Publish(Subj("x"), "m" + std::to_string(seq));
    ASSERT_TRUE(pa) << nats_GetLastError(nullptr);
    EXPECT_EQ(std::string(pa->Stream), name_);
    EXPECT_EQ(pa->Sequence, seq);
    EXPECT_FALSE(pa->Duplicate);
  }
  auto si = StreamInfo();
  ASSERT_TRUE(si);
  EXPECT_EQ(si->State.Msgs, 5u);
  EXPECT_EQ(si->State.LastSeq, 5u);
  // A subject no stream captures has no responder: the client fails at once.
  natsStatus s = NATS_OK;
  const auto start = Clock::now();
  EXPECT_FALSE(Publish("nostream.captures.this", "lost", nullptr, &s));
  EXPECT_EQ(s, NATS_NO_RESPONDERS) << natsStatus_GetText(s);
  EXPECT_LT(Clock::now() - start, milliseconds(2000));
}

TEST_F(JsC, DuplicateMsgIdIsAcknowledgedButNotStoredTwice) {
  ASSERT_TRUE(AddStream([](jsStreamConfig* c) { c->Duplicates = 60'000 * kNanosPerMilli; }));
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MsgId = "order-42";
  auto first = Publish(Subj("o"), "created", &po);
  ASSERT_TRUE(first) << nats_GetLastError(nullptr);
  EXPECT_EQ(first->Sequence, 1u);
  EXPECT_FALSE(first->Duplicate);
  auto again = Publish(Subj("o"), "created (retry)", &po);
  ASSERT_TRUE(again) << nats_GetLastError(nullptr);
  EXPECT_TRUE(again->Duplicate);
  EXPECT_EQ(again->Sequence, 1u) << "a duplicate is acknowledged with the original's sequence";
  EXPECT_EQ(std::string(again->Stream), name_);
  auto si = StreamInfo();
  ASSERT_TRUE(si);
  EXPECT_EQ(si->State.Msgs, 1u);
  EXPECT_EQ(si->State.LastSeq, 1u);

  po.MsgId = "order-43";
  auto other = Publish(Subj("o"), "another", &po);
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->Duplicate);
  EXPECT_EQ(other->Sequence, 2u);
  // Without an id, nothing is de-duplicated.
  ASSERT_NO_FATAL_FAILURE(PublishOk(Subj("o"), "another", 3));
  ASSERT_NO_FATAL_FAILURE(PublishOk(Subj("o"), "another", 4));
}

TEST_F(JsC, ExpectedLastSequenceAndSubjectSequenceAndStream) {
  ASSERT_TRUE(AddStream());
  ASSERT_NO_FATAL_FAILURE(PublishOk(Subj("a"), "a1", 1));
  ASSERT_NO_FATAL_FAILURE(PublishOk(Subj("b"), "b1", 2));

  jsPubOptions po;
  natsStatus s = NATS_OK;
  jsErrCode err = static_cast<jsErrCode>(0);
  // Expected last sequence of the stream.
  jsPubOptions_Init(&po);
  po.ExpectLastSeq = 1;
  EXPECT_FALSE(Publish(Subj("a"), "stale", &po, &s, &err));
  EXPECT_NE(s, NATS_OK);
  EXPECT_EQ(err, JSStreamWrongLastSequenceErr);
  po.ExpectLastSeq = 2;
  auto pa = Publish(Subj("a"), "a2", &po, &s, &err);
  ASSERT_TRUE(pa) << "js error " << err;
  EXPECT_EQ(pa->Sequence, 3u);

  // Expected last sequence of the subject (optimistic concurrency per
  // aggregate): b's last is 2 although the stream's is 3.
  jsPubOptions_Init(&po);
  po.ExpectLastSubjectSeq = 1;
  EXPECT_FALSE(Publish(Subj("b"), "stale", &po, &s, &err));
  EXPECT_NE(s, NATS_OK);
  EXPECT_EQ(err, JSStreamWrongLastSequenceErr);
  po.ExpectLastSubjectSeq = 2;
  pa = Publish(Subj("b"), "b2", &po, &s, &err);
  ASSERT_TRUE(pa) << "js error " << err;
  EXPECT_EQ(pa->Sequence, 4u);

  // Expected stream.
  jsPubOptions_Init(&po);
  po.ExpectStream = "SomeOtherStream";
  EXPECT_FALSE(Publish(Subj("a"), "wrong stream", &po, &s, &err));
  EXPECT_NE(s, NATS_OK);
  EXPECT_EQ(err, JSStreamNotMatchErr);
  po.ExpectStream = name_.c_str();
  pa = Publish(Subj("a"), "a3", &po, &s, &err);
  ASSERT_TRUE(pa) << "js error " << err;
  EXPECT_EQ(pa->Sequence, 5u);

  // Expected last message id.
  jsPubOptions_Init(&po);
  po.MsgId = "id-6";
  ASSERT_TRUE(Publish(Subj("a"), "a4", &po));
  jsPubOptions_Init(&po);
  po.ExpectLastMsgId = "id-5";
  EXPECT_FALSE(Publish(Subj("a"), "stale", &po, &s, &err));
  EXPECT_NE(s, NATS_OK);
  EXPECT_EQ(err, JSStreamWrongLastMsgIDErr);
  po.ExpectLastMsgId = "id-6";
  pa = Publish(Subj("a"), "a5", &po, &s, &err);
  ASSERT_TRUE(pa) << "js error " << err;
  EXPECT_EQ(pa->Sequence, 7u);

  // The refused publishes stored nothing.
  auto si = StreamInfo();
  ASSERT_TRUE(si);
  EXPECT_EQ(si->State.Msgs, 7u);
  EXPECT_EQ(si->State.LastSeq, 7u);
}

// Async publish results, recorded by libnats' ack handler thread.
struct AsyncAcks {
  std::mutex mu;
  std::vector<uint64_t> seq_of;  // by payload index; 0 = no ack
  int acks = 0;
  int errors = 0;
  int wrong_stream = 0;
  std::string stream;
};

void OnAsyncAck(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  auto* r = static_cast<AsyncAcks*>(closure);
  const size_t index = std::stoul(Data(msg));
  {
    std::lock_guard<std::mutex> l(r->mu);
    if (pa != nullptr && index < r->seq_of.size()) {
      r->seq_of[index] = pa->Sequence;
      ++r->acks;
      if (pa->Stream == nullptr || r->stream != pa->Stream) ++r->wrong_stream;
    }
    if (pae != nullptr) ++r->errors;
  }
  natsMsg_Destroy(msg);
}

TEST_F(JsC, PipelinedAsyncPublishIsAllAcknowledgedInOrder) {
  constexpr int kMessages = 10'000;
  ASSERT_TRUE(AddStream());
  AsyncAcks acks;
  acks.seq_of.assign(kMessages, 0);
  acks.stream = name_;
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.AckHandler = OnAsyncAck;
  jo.PublishAsync.AckHandlerClosure = &acks;
  jo.PublishAsync.MaxPending = 2000;
  jsCtx* raw = nullptr;
  ASSERT_EQ(natsConnection_JetStream(&raw, nc_.get(), &jo), NATS_OK);
  Owned<jsCtx> js(raw);
  const std::string subject = Subj("async");
  for (int i = 0; i < kMessages; ++i) {
    const std::string payload = std::to_string(i);
    ASSERT_EQ(js_PublishAsync(js.get(), subject.c_str(), payload.data(),
                              static_cast<int>(payload.size()), nullptr),
              NATS_OK)
        << i << ": " << nats_GetLastError(nullptr);
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 30'000;
  ASSERT_EQ(js_PublishAsyncComplete(js.get(), &po), NATS_OK) << nats_GetLastError(nullptr);
  {
    std::lock_guard<std::mutex> l(acks.mu);
    EXPECT_EQ(acks.acks, kMessages);
    EXPECT_EQ(acks.errors, 0);
    EXPECT_EQ(acks.wrong_stream, 0);
    // One publisher on one connection: stored in publish order, sequences
    // contiguous from 1.
    int misplaced = 0;
    for (int i = 0; i < kMessages; ++i) {
      if (acks.seq_of[i] != static_cast<uint64_t>(i) + 1 && misplaced++ < 5) {
        ADD_FAILURE() << "message " << i << " acknowledged with sequence " << acks.seq_of[i];
      }
    }
    EXPECT_EQ(misplaced, 0);
  }
  auto si = StreamInfo();
  ASSERT_TRUE(si);
  EXPECT_EQ(si->State.Msgs, static_cast<uint64_t>(kMessages));
  EXPECT_EQ(si->State.LastSeq, static_cast<uint64_t>(kMessages));
}

TEST_F(JsC, PullFetchWithFilterSubjectAndAck) {
  ASSERT_TRUE(AddStream());
  const char* order[][2] = {{"a", "a1"}, {"b", "b1"}, {"a", "a2"}, {"b", "b2"}, {"a", "a3"}};
  uint64_t seq = 0;
  for (const auto& [suffix, data] : order) ASSERT_NO_FATAL_FAILURE(PublishOk(Subj(suffix), data, ++seq));
  auto sub = PullConsumer("worker", Subj("a"));
  ASSERT_TRUE(sub);

  // A batch larger than what matches returns what there is without waiting
  // out the timeout (the no_wait request ends with a 404 status).
  natsMsgList list{};
  const auto start = Clock::now();
  ASSERT_EQ(natsSubscription_Fetch(&list, sub.get(), 10, 5000, nullptr), NATS_OK)
      << nats_GetLastError(nullptr);
  const auto took = Clock::now() - start;
  Msgs got;
  for (int i = 0; i < list.Count; ++i) {
    got.emplace_back(list.Msgs[i]);
    list.Msgs[i] = nullptr;
  }
  natsMsgList_Destroy(&list);
  EXPECT_LT(took, milliseconds(2000)) << "the fetch waited for a full batch";
  ASSERT_EQ(Payloads(got), (std::vector<std::string>{"a1", "a2", "a3"}));
  const uint64_t stream_seqs[] = {1, 3, 5};
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(std::string(natsMsg_GetSubject(got[i].get())), Subj("a"));
    Meta meta = MetaOf(got[i].get());
    EXPECT_EQ(meta.stream, name_);
    EXPECT_EQ(meta.consumer, "worker");
    EXPECT_EQ(meta.stream_seq, stream_seqs[i]);
    EXPECT_EQ(meta.consumer_seq, i + 1);
    EXPECT_EQ(meta.delivered, 1u);
    EXPECT_EQ(meta.pending, 2 - i) << "matching messages left after this one";
  }
  ExpectNothingToFetch(sub.get(), milliseconds(300));

  auto ci = ConsumerInfo("worker");
  ASSERT_TRUE(ci);
  EXPECT_EQ(ci->NumAckPending, 3);
  EXPECT_EQ(ci->NumPending, 0u);
  EXPECT_EQ(ci->Delivered.Stream, 5u);
  EXPECT_EQ(ci->Delivered.Consumer, 3u);
  for (auto& m : got) AckSync(m.get());
  ci = ConsumerInfo("worker");
  ASSERT_TRUE(ci);
  EXPECT_EQ(ci->NumAckPending, 0);
  EXPECT_EQ(ci->AckFloor.Stream, 5u);
  EXPECT_EQ(ci->AckFloor.Consumer, 3u);
  ASSERT_NE(ci->Config, nullptr);
  EXPECT_STREQ(ci->Config->FilterSubject, Subj("a").c_str());

  // Live: the next matching message is fetched; others are not.
  ASSERT_NO_FATAL_FAILURE(PublishOk(Subj("b"), "b3", 6));
  ASSERT_NO_FATAL_FAILURE(PublishOk(Subj("a"), "a4", 7));
  got = FetchN(sub.get(), 1);
  ASSERT_EQ(Payloads(got), (std::vector<std::string>{"a4"}));
  EXPECT_EQ(MetaOf(got[0].get()).stream_seq, 7u);
  AckSync(got[0].get());
}

TEST_F(JsC, NakRedeliversAtOnce) {
  ASSERT_TRUE(AddStream());
  ASSERT_NO_FATAL_FAILURE(PublishOk(Subj("job"), "job-1", 1));
  auto sub = PullConsumer("naker", Subj("job"),
                          [](jsConsumerConfig* c) { c->AckWait = 30'000 * kNanosPerMilli; });
  ASSERT_TRUE(sub);
  Msgs got = FetchN(sub.get(), 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(MetaOf(got[0].get()).delivered, 1u);
  ASSERT_EQ(natsMsg_Nak(got[0].get(), nullptr), NATS_OK);
  // Well before the 30 s ack wait.
  Msgs again = FetchN(sub.get(), 1);
  ASSERT_EQ(again.size(), 1u) << "a nak'd message must be redelivered";
  EXPECT_EQ(Data(again[0].get()), "job-1");
  Meta meta = MetaOf(again[0].get());
  EXPECT_EQ(meta.stream_seq, 1u);
  EXPECT_EQ(meta.delivered, 2u);
  AckSync(again[0].get());
  auto ci = ConsumerInfo("naker");
  ASSERT_TRUE(ci);
  EXPECT_EQ(ci->NumAckPending, 0);
  EXPECT_EQ(ci->AckFloor.Stream, 1u);
  ExpectNothingToFetch(sub.get(), milliseconds(300));
}

TEST_F(JsC, UnackedMessageIsRedeliveredAfterAckWait) {
  constexpr int64_t kAckWaitMs = 500;
  ASSERT_TRUE(AddStream());
  ASSERT_NO_FATAL_FAILURE(PublishOk(Subj("job"), "job-1", 1));
  auto sub = PullConsumer("slow", Subj("job"),
                          [](jsConsumerConfig* c) { c->AckWait = kAckWaitMs * kNanosPerMilli; });
  ASSERT_TRUE(sub);
  auto ci = ConsumerInfo("slow");
  ASSERT_TRUE(ci);
  EXPECT_EQ(ci->Config->AckWait, kAckWaitMs * kNanosPerMilli);

  // The server cannot deliver before it is asked: the ack wait starts after
  // `asked`.
  const auto asked = Clock::now();
  Msgs got = FetchN(sub.get(), 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(MetaOf(got[0].get()).delivered, 1u);
  // Not acknowledged: the fetch below waits (bounded) for the redelivery.
  Msgs again = FetchN(sub.get(), 1, milliseconds(10'000));
  ASSERT_EQ(again.size(), 1u) << "no redelivery after the ack wait";
  const auto waited = std::chrono::duration_cast<milliseconds>(Clock::now() - asked);
  EXPECT_GE(waited.count(), kAckWaitMs * 9 / 10) << "redelivered before the ack wait";
  Meta meta = MetaOf(again[0].get());
  EXPECT_EQ(meta.stream_seq, 1u);
  EXPECT_EQ(meta.delivered, 2u);
  EXPECT_EQ(Data(again[0].get()), "job-1");
  AckSync(again[0].get());
  ci = ConsumerInfo("slow");
  ASSERT_TRUE(ci);
  EXPECT_EQ(ci->NumAckPending, 0);
}

TEST_F(JsC, TermStopsRedelivery) {
  constexpr int64_t kAckWaitMs = 300;
  ASSERT_TRUE(AddStream());
  ASSERT_NO_FATAL_FAILURE(PublishOk(Subj("job"), "poison", 1));
  ASSERT_NO_FATAL_FAILURE(PublishOk(Subj("job"), "fine", 2));
  auto sub = PullConsumer("terminator", Subj("job"),
                          [](jsConsumerConfig* c) { c->AckWait = kAckWaitMs * kNanosPerMilli; });
  ASSERT_TRUE(sub);
  Msgs got = FetchN(sub.get(), 1);
  ASSERT_EQ(Payloads(got), (std::vector<std::string>{"poison"}));
  ASSERT_EQ(natsMsg_Term(got[0].get(), nullptr), NATS_OK);
  got = FetchN(sub.get(), 1);
  ASSERT_EQ(Payloads(got), (std::vector<std::string>{"fine"}));
  EXPECT_EQ(MetaOf(got[0].get()).delivered, 1u);
  AckSync(got[0].get());
  // Over three ack waits: the terminated message does not come back.
  ExpectNothingToFetch(sub.get(), milliseconds(3 * kAckWaitMs + 200));
  auto ci = ConsumerInfo("terminator");
  ASSERT_TRUE(ci);
  EXPECT_EQ(ci->NumAckPending, 0);
  EXPECT_EQ(ci->NumPending, 0u);
}

TEST_F(JsC, MaxDeliverLimitsRedeliveries) {
  ASSERT_TRUE(AddStream());
  ASSERT_NO_FATAL_FAILURE(PublishOk(Subj("job"), "flaky", 1));
  auto sub = PullConsumer("limited", Subj("job"), [](jsConsumerConfig* c) {
    c->AckWait = 30'000 * kNanosPerMilli;
    c->MaxDeliver = 2;
  });
  ASSERT_TRUE(sub);
  for (uint64_t delivery = 1; delivery <= 2; ++delivery) {
    Msgs got = FetchN(sub.get(), 1);
    ASSERT_EQ(Payloads(got), (std::vector<std::string>{"flaky"})) << "delivery " << delivery;
    EXPECT_EQ(MetaOf(got[0].get()).delivered, delivery);
    ASSERT_EQ(natsMsg_Nak(got[0].get(), nullptr), NATS_OK);
  }
  ExpectNothingToFetch(sub.get(), milliseconds(500));
  // The consumer goes on with the next message.
  ASSERT_NO_FATAL_FAILURE(PublishOk(Subj("job"), "next", 2));
  Msgs got = FetchN(sub.get(), 1);
  ASSERT_EQ(Payloads(got), (std::vector<std::string>{"next"}));
  EXPECT_EQ(MetaOf(got[0].get()).stream_seq, 2u);
  EXPECT_EQ(MetaOf(got[0].get()).delivered, 1u);
  AckSync(got[0].get());
}

TEST_F(JsC, WorkQueueRemovesAcknowledgedMessages) {
  ASSERT_TRUE(AddStream([](jsStreamConfig* c) { c->Retention = js_WorkQueuePolicy; }));
  for (uint64_t i = 1; i <= 3; ++i) {
    ASSERT_NO_FATAL_FAILURE(PublishOk(Subj("task"), "t" + std::to_string(i), i));
  }
  auto sub = PullConsumer("workers", name_ + ".>");
  ASSERT_TRUE(sub);
  // A work queue delivers each message to one consumer: a second one whose
  // filter overlaps the first's is refused.
  jsErrCode err = static_cast<jsErrCode>(0);
  natsStatus s = NATS_OK;
  AddPullConsumer("rivals", Subj("task"), nullptr, &err, &s);
  EXPECT_NE(s, NATS_OK);
  EXPECT_EQ(err, JSConsumerWQConsumerNotUniqueErr);

  Msgs got = FetchN(sub.get(), 1);
  ASSERT_EQ(Payloads(got), (std::vector<std::string>{"t1"}));
  // Delivered but not acknowledged: still stored.
  auto si = StreamInfo();
  ASSERT_TRUE(si);
  EXPECT_EQ(si->State.Msgs, 3u);
  AckSync(got[0].get());
  uint64_t msgs = 0;
  EXPECT_TRUE(Eventually([&] {
    auto info = StreamInfo();
    msgs = info ? info->State.Msgs : 0;
    return msgs == 2;
  })) << "stream holds " << msgs << " messages after the ack, not 2";
  natsMsg* raw = nullptr;
  err = static_cast<jsErrCode>(0);
  EXPECT_EQ(js_GetMsg(&raw, js_.get(), name_.c_str(), 1, nullptr, &err), NATS_NOT_FOUND);
  Owned<natsMsg> gone(raw);
  EXPECT_EQ(err, JSNoMessageFoundErr);

  got = FetchN(sub.get(), 2);
  ASSERT_EQ(Payloads(got), (std::vector<std::string>{"t2", "t3"}));
  for (auto& m : got) AckSync(m.get());
  EXPECT_TRUE(Eventually([&] {
    auto info = StreamInfo();
    msgs = info ? info->State.Msgs : 0;
    return msgs == 0;
  })) << "stream holds " << msgs << " messages after all acks";
  si = StreamInfo();
  ASSERT_TRUE(si);
  EXPECT_EQ(si->State.LastSeq, 3u) << "sequences are never reused";
}

TEST_F(JsC, GetMessageBySequenceAndLastBySubjectAndDelete) {
  ASSERT_TRUE(AddStream());
  ASSERT_NO_FATAL_FAILURE(PublishOk(Subj("a"), "a-one", 1));
  ASSERT_NO_FATAL_FAILURE(PublishOk(Subj("b"), "b-one", 2));
  natsMsg* raw = nullptr;
  ASSERT_EQ(natsMsg_Create(&raw, Subj("a").c_str(), nullptr, "a-two", 5), NATS_OK);
  Owned<natsMsg> with_header(raw);
  ASSERT_EQ(natsMsgHeader_Set(with_header.get(), "X-Trace", "t-99"), NATS_OK);
  jsPubAck* pa = nullptr;
  ASSERT_EQ(js_PublishMsg(&pa, js_.get(), with_header.get(), nullptr, nullptr), NATS_OK);
  Owned<jsPubAck> owned_pa(pa);
  EXPECT_EQ(pa->Sequence, 3u);

  auto get = [&](uint64_t seq, jsErrCode* err) {
    natsMsg* m = nullptr;
    const natsStatus s = js_GetMsg(&m, js_.get(), name_.c_str(), seq, nullptr, err);
    Owned<natsMsg> owned(m);
    if (s != NATS_OK) owned.reset();
    return owned;
  };
  auto get_last = [&](const std::string& subject, jsErrCode* err) {
    natsMsg* m = nullptr;
    const natsStatus s = js_GetLastMsg(&m, js_.get(), name_.c_str(), subject.c_str(), nullptr, err);
    Owned<natsMsg> owned(m);
    if (s != NATS_OK) owned.reset();
    return owned;
  };
  jsErrCode err = static_cast<jsErrCode>(0);
  auto m = get(2, &err);
  ASSERT_TRUE(m) << "js error " << err;
  EXPECT_EQ(std::string(natsMsg_GetSubject(m.get())), Subj("b"));
  EXPECT_EQ(Data(m.get()), "b-one");
  EXPECT_EQ(natsMsg_GetSequence(m.get()), 2u);
  EXPECT_GT(natsMsg_GetTime(m.get()), 0);

  m = get(3, &err);
  ASSERT_TRUE(m) << "js error " << err;
  EXPECT_EQ(Data(m.get()), "a-two");
  const char* value = nullptr;
  ASSERT_EQ(natsMsgHeader_Get(m.get(), "X-Trace", &value), NATS_OK) << "stored headers are kept";
  EXPECT_STREQ(value, "t-99");

  m = get_last(Subj("a"), &err);
  ASSERT_TRUE(m) << "js error " << err;
  EXPECT_EQ(Data(m.get()), "a-two");
  EXPECT_EQ(natsMsg_GetSequence(m.get()), 3u);
  m = get_last(Subj("b"), &err);
  ASSERT_TRUE(m) << "js error " << err;
  EXPECT_EQ(Data(m.get()), "b-one");
  EXPECT_EQ(natsMsg_GetSequence(m.get()), 2u);

  err = static_cast<jsErrCode>(0);
  EXPECT_FALSE(get(99, &err));
  EXPECT_EQ(err, JSNoMessageFoundErr);
  err = static_cast<jsErrCode>(0);
  EXPECT_FALSE(get_last(Subj("never"), &err));
  EXPECT_EQ(err, JSNoMessageFoundErr);

  // Delete a message: gone from get, last-by-subject and the count.
  ASSERT_EQ(js_DeleteMsg(js_.get(), name_.c_str(), 2, nullptr, &err), NATS_OK)
      << "js error " << err;
  err = static_cast<jsErrCode>(0);
  EXPECT_FALSE(get(2, &err));
  EXPECT_EQ(err, JSNoMessageFoundErr);
  err = static_cast<jsErrCode>(0);
  EXPECT_FALSE(get_last(Subj("b"), &err));
  EXPECT_EQ(err, JSNoMessageFoundErr);
  EXPECT_NE(js_DeleteMsg(js_.get(), name_.c_str(), 2, nullptr, nullptr), NATS_OK)
      << "deleting a deleted message";
  auto si = StreamInfo();
  ASSERT_TRUE(si);
  EXPECT_EQ(si->State.Msgs, 2u);
  EXPECT_EQ(si->State.FirstSeq, 1u);
  EXPECT_EQ(si->State.LastSeq, 3u);
  EXPECT_TRUE(get(1, &err)) << "its neighbours stay";
  EXPECT_TRUE(get(3, &err));
}

TEST_F(JsC, PurgeWholeBySubjectAndUpToSequence) {
  ASSERT_TRUE(AddStream());
  // seq: 1 a, 2 b, 3 a, 4 b, 5 a, 6 c
  const char* subjects[] = {"a", "b", "a", "b", "a", "c"};
  uint64_t seq = 0;
  for (const char* s : subjects) ASSERT_NO_FATAL_FAILURE(PublishOk(Subj(s), s, ++seq));

  jsOptions o;
  jsErrCode err = static_cast<jsErrCode>(0);
  // Up to (not including) sequence 3.
  jsOptions_Init(&o);
  o.Stream.Purge.Sequence = 3;
  ASSERT_EQ(js_PurgeStream(js_.get(), name_.c_str(), &o, &err), NATS_OK) << "js error " << err;
  auto si = StreamInfo();
  ASSERT_TRUE(si);
  EXPECT_EQ(si->State.Msgs, 4u);
  EXPECT_EQ(si->State.FirstSeq, 3u);
  EXPECT_EQ(si->State.LastSeq, 6u);

  // By subject: a's 3 and 5 go; b's 4 and c's 6 stay.
  jsOptions_Init(&o);
  const std::string a = Subj("a");
  o.Stream.Purge.Subject = a.c_str();
  ASSERT_EQ(js_PurgeStream(js_.get(), name_.c_str(), &o, &err), NATS_OK) << "js error " << err;
  si = StreamInfo();
  ASSERT_TRUE(si);
  EXPECT_EQ(si->State.Msgs, 2u);
  natsMsg* raw = nullptr;
  err = static_cast<jsErrCode>(0);
  EXPECT_EQ(js_GetLastMsg(&raw, js_.get(), name_.c_str(), a.c_str(), nullptr, &err),
            NATS_NOT_FOUND);
  natsMsg_Destroy(raw);
  raw = nullptr;
  EXPECT_EQ(err, JSNoMessageFoundErr);
  ASSERT_EQ(js_GetLastMsg(&raw, js_.get(), name_.c_str(), Subj("b").c_str(), nullptr, &err),
            NATS_OK);
  EXPECT_EQ(natsMsg_GetSequence(raw), 4u);
  natsMsg_Destroy(raw);

  // Whole stream.
  ASSERT_EQ(js_PurgeStream(js_.get(), name_.c_str(), nullptr, &err), NATS_OK)
      << "js error " << err;
  si = StreamInfo();
  ASSERT_TRUE(si);
  EXPECT_EQ(si->State.Msgs, 0u);
  EXPECT_EQ(si->State.Bytes, 0u);
  EXPECT_EQ(si->State.LastSeq, 6u);
  // Sequences are never reused.
  ASSERT_NO_FATAL_FAILURE(PublishOk(Subj("a"), "after purge", 7));
}

TEST_F(JsC, StreamNamesListAndDelete) {
  const std::string a = name_ + "A", b = name_ + "B";
  ASSERT_TRUE(AddStream(nullptr, a, {a + ".>"}));
  ASSERT_TRUE(AddStream(nullptr, b, {b + ".>"}));
  ASSERT_NO_FATAL_FAILURE(PublishOk(a + ".x", "in A", 1));

  auto names = [&] {
    jsStreamNamesList* raw = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    EXPECT_EQ(js_StreamNames(&raw, js_.get(), nullptr, &err), NATS_OK) << "js error " << err;
    Owned<jsStreamNamesList> list(raw);
    std::set<std::string> out;
    for (int i = 0; list && i < list->Count; ++i) out.insert(list->List[i]);
    return out;
  };
  auto all = names();
  EXPECT_TRUE(all.count(a)) << a;
  EXPECT_TRUE(all.count(b)) << b;

  jsStreamInfoList* raw = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  ASSERT_EQ(js_Streams(&raw, js_.get(), nullptr, &err), NATS_OK) << "js error " << err;
  Owned<jsStreamInfoList> list(raw);
  int seen = 0;
  for (int i = 0; i < list->Count; ++i) {
    const jsStreamInfo* si = list->List[i];
    ASSERT_NE(si->Config, nullptr);
    if (a == si->Config->Name) {
      ++seen;
      ASSERT_EQ(si->Config->SubjectsLen, 1);
      EXPECT_EQ(std::string(si->Config->Subjects[0]), a + ".>");
      EXPECT_EQ(si->State.Msgs, 1u);
    } else if (b == si->Config->Name) {
      ++seen;
      EXPECT_EQ(si->State.Msgs, 0u);
    }
  }
  EXPECT_EQ(seen, 2);

  ASSERT_EQ(js_DeleteStream(js_.get(), b.c_str(), nullptr, &err), NATS_OK) << "js error " << err;
  all = names();
  EXPECT_TRUE(all.count(a));
  EXPECT_FALSE(all.count(b)) << "deleted stream still listed";
  jsStreamInfo* si = nullptr;
  err = static_cast<jsErrCode>(0);
  EXPECT_EQ(js_GetStreamInfo(&si, js_.get(), b.c_str(), nullptr, &err), NATS_NOT_FOUND);
  jsStreamInfo_Destroy(si);
  EXPECT_EQ(err, JSStreamNotFoundErr);
  err = static_cast<jsErrCode>(0);
  EXPECT_NE(js_DeleteStream(js_.get(), b.c_str(), nullptr, &err), NATS_OK);
  EXPECT_EQ(err, JSStreamNotFoundErr);
  // Its subjects are free again: publishing there has no responder.
  natsStatus s = NATS_OK;
  EXPECT_FALSE(Publish(b + ".x", "nobody", nullptr, &s));
  EXPECT_EQ(s, NATS_NO_RESPONDERS) << natsStatus_GetText(s);
}

TEST_F(JsC, ConsumerInfoCountsPendingAndAckPending) {
  ASSERT_TRUE(AddStream());
  for (uint64_t i = 1; i <= 5; ++i) ASSERT_NO_FATAL_FAILURE(PublishOk(Subj("e"), "e", i));
  auto sub = PullConsumer("counter", Subj("e"));
  ASSERT_TRUE(sub);
  auto ci = ConsumerInfo("counter");
  ASSERT_TRUE(ci);
  EXPECT_EQ(std::string(ci->Stream), name_);
  EXPECT_EQ(std::string(ci->Name), "counter");
  EXPECT_EQ(ci->NumPending, 5u);
  EXPECT_EQ(ci->NumAckPending, 0);
  EXPECT_EQ(ci->Delivered.Stream, 0u);
  EXPECT_EQ(ci->AckFloor.Stream, 0u);
  ASSERT_NE(ci->Config, nullptr);
  EXPECT_STREQ(ci->Config->Durable, "counter");
  EXPECT_EQ(ci->Config->AckPolicy, js_AckExplicit);

  Msgs got = FetchN(sub.get(), 2);
  ASSERT_EQ(got.size(), 2u);
  ci = ConsumerInfo("counter");
  ASSERT_TRUE(ci);
  EXPECT_EQ(ci->NumPending, 3u);
  EXPECT_EQ(ci->NumAckPending, 2);
  EXPECT_EQ(ci->Delivered.Stream, 2u);
  EXPECT_EQ(ci->Delivered.Consumer, 2u);
  // The second acknowledged first: the floor stays below the gap.
  AckSync(got[1].get());
  ci = ConsumerInfo("counter");
  ASSERT_TRUE(ci);
  EXPECT_EQ(ci->NumAckPending, 1);
  EXPECT_EQ(ci->AckFloor.Stream, 0u);
  AckSync(got[0].get());
  ci = ConsumerInfo("counter");
  ASSERT_TRUE(ci);
  EXPECT_EQ(ci->NumAckPending, 0);
  EXPECT_EQ(ci->AckFloor.Stream, 2u);
  EXPECT_EQ(ci->AckFloor.Consumer, 2u);
  EXPECT_EQ(ci->NumPending, 3u);

  jsConsumerNamesList* raw = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  ASSERT_EQ(js_ConsumerNames(&raw, js_.get(), name_.c_str(), nullptr, &err), NATS_OK)
      << "js error " << err;
  Owned<jsConsumerNamesList> names(raw);
  ASSERT_EQ(names->Count, 1);
  EXPECT_STREQ(names->List[0], "counter");
  auto info = StreamInfo();
  ASSERT_TRUE(info);
  EXPECT_EQ(info->State.Consumers, 1);

  sub.reset();
  ASSERT_EQ(js_DeleteConsumer(js_.get(), name_.c_str(), "counter", nullptr, &err), NATS_OK)
      << "js error " << err;
  jsConsumerInfo* gone = nullptr;
  err = static_cast<jsErrCode>(0);
  EXPECT_EQ(js_GetConsumerInfo(&gone, js_.get(), name_.c_str(), "counter", nullptr, &err),
            NATS_NOT_FOUND);
  jsConsumerInfo_Destroy(gone);
  EXPECT_EQ(err, JSConsumerNotFoundErr);
}

// Push deliveries, recorded by libnats' delivery thread and acknowledged
// by hand.
struct Pushed {
  std::mutex mu;
  std::vector<std::string> payloads;
  std::vector<uint64_t> stream_seqs;
  int ack_failures = 0;
  Event arrived;
};

void OnPushed(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* p = static_cast<Pushed*>(closure);
  jsMsgMetaData* meta = nullptr;
  uint64_t seq = 0;
  if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) seq = meta->Sequence.Stream;
  jsMsgMetaData_Destroy(meta);
  const bool acked = natsMsg_Ack(msg, nullptr) == NATS_OK;
  {
    std::lock_guard<std::mutex> l(p->mu);
    p->payloads.push_back(Data(msg));
    p->stream_seqs.push_back(seq);
    if (!acked) ++p->ack_failures;
  }
  natsMsg_Destroy(msg);
  p->arrived.Notify();
}

TEST_F(JsC, PushConsumerReceivesStoredThenLiveMessages) {
  ASSERT_TRUE(AddStream());
  for (uint64_t i = 1; i <= 3; ++i) {
    ASSERT_NO_FATAL_FAILURE(PublishOk(Subj("p"), "stored-" + std::to_string(i), i));
  }
  Pushed pushed;
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.ManualAck = true;
  so.Config.Durable = "pusher";
  so.Config.AckPolicy = js_AckExplicit;
  natsSubscription* raw = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  // No stream named: the client finds it by subject.
  const std::string filter = name_ + ".>";
  ASSERT_EQ(js_Subscribe(&raw, js_.get(), filter.c_str(), OnPushed, &pushed, nullptr, &so, &err),
            NATS_OK)
      << "js error " << err << " " << nats_GetLastError(nullptr);
  Owned<natsSubscription> sub(raw);
  ASSERT_TRUE(pushed.arrived.WaitFor(3, milliseconds(5000))) << "stored messages not pushed";
  for (uint64_t i = 4; i <= 5; ++i) {
    ASSERT_NO_FATAL_FAILURE(PublishOk(Subj("p"), "live-" + std::to_string(i), i));
  }
  ASSERT_TRUE(pushed.arrived.WaitFor(5, milliseconds(5000))) << "live messages not pushed";
  {
    std::lock_guard<std::mutex> l(pushed.mu);
    EXPECT_EQ(pushed.payloads, (std::vector<std::string>{"stored-1", "stored-2", "stored-3",
                                                         "live-4", "live-5"}));
    EXPECT_EQ(pushed.stream_seqs, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
    EXPECT_EQ(pushed.ack_failures, 0);
  }
  // The manual acks reach the server; nothing is redelivered.
  int64_t ack_pending = -1;
  EXPECT_TRUE(Eventually([&] {
    auto ci = ConsumerInfo("pusher");
    ack_pending = ci ? ci->NumAckPending : -1;
    return ci && ci->NumAckPending == 0 && ci->AckFloor.Stream == 5;
  })) << "ack pending " << ack_pending;
  ASSERT_EQ(natsSubscription_Unsubscribe(sub.get()), NATS_OK);
  std::lock_guard<std::mutex> l(pushed.mu);
  EXPECT_EQ(pushed.payloads.size(), 5u);
}

TEST_F(JsC, EphemeralConsumersPushAndPull) {
  ASSERT_TRUE(AddStream());
  for (uint64_t i = 1; i <= 3; ++i) {
    ASSERT_NO_FATAL_FAILURE(PublishOk(Subj("x"), "m" + std::to_string(i), i));
  }
  const std::string filter = name_ + ".>";
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = name_.c_str();
  jsErrCode err = static_cast<jsErrCode>(0);

  // Push, synchronous: no durable name, the server names the consumer.
  natsSubscription* raw = nullptr;
  ASSERT_EQ(js_SubscribeSync(&raw, js_.get(), filter.c_str(), nullptr, &so, &err), NATS_OK)
      << "js error " << err << " " << nats_GetLastError(nullptr);
  Owned<natsSubscription> push(raw);
  for (uint64_t i = 1; i <= 3; ++i) {
    auto m = Next(push.get(), 5000);
    ASSERT_TRUE(m) << "push message " << i;
    EXPECT_EQ(Data(m.get()), "m" + std::to_string(i));
    Meta meta = MetaOf(m.get());
    EXPECT_EQ(meta.stream_seq, i);
    EXPECT_FALSE(meta.consumer.empty());
    AckSync(m.get());
  }

  // Pull.
  raw = nullptr;
  ASSERT_EQ(js_PullSubscribe(&raw, js_.get(), filter.c_str(), nullptr, nullptr, &so, &err),
            NATS_OK)
      << "js error " << err << " " << nats_GetLastError(nullptr);
  Owned<natsSubscription> pull(raw);
  Msgs got = FetchN(pull.get(), 3);
  ASSERT_EQ(Payloads(got), (std::vector<std::string>{"m1", "m2", "m3"}));
  for (auto& m : got) AckSync(m.get());

  auto info = StreamInfo();
  ASSERT_TRUE(info);
  EXPECT_EQ(info->State.Consumers, 2);
  // Unsubscribing removes the consumers the client created.
  ASSERT_EQ(natsSubscription_Unsubscribe(push.get()), NATS_OK);
  ASSERT_EQ(natsSubscription_Unsubscribe(pull.get()), NATS_OK);
  int64_t consumers = -1;
  EXPECT_TRUE(Eventually([&] {
    auto si = StreamInfo();
    consumers = si ? si->State.Consumers : -1;
    return consumers == 0;
  })) << consumers << " consumers left";
}

TEST_F(JsC, FetchOnEmptyStreamTimesOutCleanly) {
  ASSERT_TRUE(AddStream());
  // Two consumers, so that a status message arriving after one fetch has
  // given up cannot end the other's early.
  auto batch = PullConsumer("batch", Subj("none"));
  auto single = PullConsumer("single", Subj("none"));
  ASSERT_TRUE(batch);
  ASSERT_TRUE(single);

  // libnats asks for a batch of more than one with no_wait first (the
  // server answers "nothing" at once, a 404 status), then again with
  // expires; a batch of one only with expires (the server ends it with a
  // 408 status when it expires). Either way the client sees a timeout
  // after its own timeout, no message, no error.
  for (natsSubscription* sub : {batch.get(), single.get()}) {
    natsMsgList list{};
    jsErrCode err = static_cast<jsErrCode>(0);
    const auto start = Clock::now();
    const natsStatus s = natsSubscription_Fetch(&list, sub, sub == batch.get() ? 5 : 1, 500, &err);
    const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
    EXPECT_EQ(s, NATS_TIMEOUT) << natsStatus_GetText(s) << " js error " << err;
    EXPECT_EQ(list.Count, 0);
    natsMsgList_Destroy(&list);
    EXPECT_GE(took, 400);
    EXPECT_LT(took, 3000);
  }

  // The expired requests left nothing behind: a new message goes to the
  // next fetch of each consumer, once.
  ASSERT_NO_FATAL_FAILURE(PublishOk(Subj("none"), "at last", 1));
  for (const char* durable : {"batch", "single"}) {
    natsSubscription* sub = durable == std::string("batch") ? batch.get() : single.get();
    Msgs got = FetchN(sub, 1);
    ASSERT_EQ(Payloads(got), (std::vector<std::string>{"at last"})) << durable;
    EXPECT_EQ(MetaOf(got[0].get()).delivered, 1u);
    AckSync(got[0].get());
    auto ci = ConsumerInfo(durable);
    ASSERT_TRUE(ci);
    EXPECT_EQ(ci->Delivered.Consumer, 1u) << durable;
    EXPECT_EQ(ci->NumAckPending, 0) << durable;
  }
}

// --- tests with a server of their own ---

TEST_F(JsC, DurableConsumerResumesAfterRestart) {
  std::string error;
  own_ = StartServer(&error);
  ASSERT_EQ(error, "");
  ASSERT_NO_FATAL_FAILURE(Open(own_->url()));
  ASSERT_TRUE(AddStream());
  for (uint64_t i = 1; i <= 10; ++i) {
    ASSERT_NO_FATAL_FAILURE(PublishOk(Subj("e"), "e" + std::to_string(i), i));
  }
  {
    auto sub = PullConsumer("durable", Subj("e"));
    ASSERT_TRUE(sub);
    Msgs got = FetchN(sub.get(), 5);
    ASSERT_EQ(Payloads(got), (std::vector<std::string>{"e1", "e2", "e3", "e4", "e5"}));
    for (auto& m : got) AckSync(m.get());
  }
  Close();
  ASSERT_EQ(own_->Restart(), "");
  ASSERT_NO_FATAL_FAILURE(Open(own_->url()));

  auto si = StreamInfo();
  ASSERT_TRUE(si);
  EXPECT_EQ(si->State.Msgs, 10u);
  EXPECT_EQ(si->State.LastSeq, 10u);
  auto ci = ConsumerInfo("durable");
  ASSERT_TRUE(ci) << "durable consumer lost across the restart";
  EXPECT_EQ(ci->AckFloor.Stream, 5u);
  EXPECT_EQ(ci->AckFloor.Consumer, 5u);
  EXPECT_EQ(ci->NumPending, 5u);
  EXPECT_EQ(ci->NumAckPending, 0);

  auto sub = PullSubscribe("durable", Subj("e"));
  ASSERT_TRUE(sub);
  Msgs got = FetchN(sub.get(), 5);
  ASSERT_EQ(Payloads(got), (std::vector<std::string>{"e6", "e7", "e8", "e9", "e10"}));
  EXPECT_EQ(MetaOf(got[0].get()).stream_seq, 6u);
  EXPECT_EQ(MetaOf(got[0].get()).delivered, 1u);
  for (auto& m : got) AckSync(m.get());
  ExpectNothingToFetch(sub.get(), milliseconds(300));
  ci = ConsumerInfo("durable");
  ASSERT_TRUE(ci);
  EXPECT_EQ(ci->AckFloor.Stream, 10u);
  EXPECT_EQ(ci->NumPending, 0u);
}

// Acknowledged publishes of the crash test, as (sequence, payload).
struct Acked {
  std::mutex mu;
  std::vector<std::pair<uint64_t, std::string>> acks;
  int errors = 0;
  Event arrived;
};

void OnCrashAck(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  auto* a = static_cast<Acked*>(closure);
  if (pa != nullptr) {
    {
      std::lock_guard<std::mutex> l(a->mu);
      a->acks.emplace_back(pa->Sequence, Data(msg));
    }
    a->arrived.Notify();
  } else if (pae != nullptr) {
    std::lock_guard<std::mutex> l(a->mu);
    ++a->errors;
  }
  natsMsg_Destroy(msg);
}

TEST_F(JsC, AcknowledgedPublishesSurviveKill9WithSyncAlways) {
  if (TargetFromEnv().kind == "nats-server") {
    GTEST_SKIP() << "nats-server 2.9.10 has no sync-always mode (its file store syncs on a "
                    "2-minute interval) and promises nothing for acknowledged publishes on a "
                    "crash; this is shortbusd's guarantee under --sync=always";
  }
  constexpr int kAckedBeforeKill = 500;
  std::string error;
  ServerOptions options;
  options.shortbusd_args = {"--sync=always"};
  own_ = StartServer(&error, options);
  ASSERT_EQ(error, "");
  ASSERT_NO_FATAL_FAILURE(Open(own_->url()));
  ASSERT_TRUE(AddStream());
  Close();

  // The publisher: its own connection, no reconnect (the daemon's death
  // ends it), acknowledged publishes pipelined up to 256 in flight.
  Acked acked;
  Owned<natsConnection> pub_nc;
  ASSERT_EQ(Connect(&pub_nc, own_->url(),
                    [](natsOptions* o) { natsOptions_SetAllowReconnect(o, false); }),
            NATS_OK);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.AckHandler = OnCrashAck;
  jo.PublishAsync.AckHandlerClosure = &acked;
  jo.PublishAsync.MaxPending = 256;
  jo.PublishAsync.StallWait = 50;
  jsCtx* raw = nullptr;
  ASSERT_EQ(natsConnection_JetStream(&raw, pub_nc.get(), &jo), NATS_OK);
  Owned<jsCtx> pub_js(raw);
  std::atomic<bool> stop{false};
  std::atomic<int> published{0};
  const std::string subject = Subj("crash");
  std::thread publisher([&] {
    for (int i = 0; !stop; ++i) {
      const std::string payload = "payload-" + std::to_string(i);
      const natsStatus s = js_PublishAsync(pub_js.get(), subject.c_str(), payload.data(),
                                           static_cast<int>(payload.size()), nullptr);
      if (s == NATS_OK) {
        ++published;
      } else if (s != NATS_TIMEOUT) {  // timeout: too many in flight, try again
        return;  // the connection is gone
      }
    }
  });
  const bool enough = acked.arrived.WaitFor(kAckedBeforeKill, milliseconds(20'000));
  own_->Kill();  // mid-stream: publishes keep coming until the socket dies
  stop = true;
  publisher.join();
  pub_js.reset();
  pub_nc.reset();
  std::vector<std::pair<uint64_t, std::string>> acks;
  {
    std::lock_guard<std::mutex> l(acked.mu);
    acks = acked.acks;
    EXPECT_EQ(acked.errors, 0);
  }
  ASSERT_TRUE(enough) << "only " << acks.size() << " acknowledgements within 20 s";
  EXPECT_GE(static_cast<size_t>(published.load()), acks.size());

  ASSERT_EQ(own_->Restart(), "");
  ASSERT_NO_FATAL_FAILURE(Open(own_->url()));
  auto si = StreamInfo();
  ASSERT_TRUE(si);
  uint64_t max_acked = 0;
  std::set<uint64_t> seqs;
  for (const auto& [seq, payload] : acks) {
    max_acked = std::max(max_acked, seq);
    seqs.insert(seq);
  }
  EXPECT_EQ(seqs.size(), acks.size()) << "a sequence acknowledged twice";
  EXPECT_GE(si->State.Msgs, acks.size()) << "acknowledged publishes lost by kill -9";
  EXPECT_GE(si->State.LastSeq, max_acked);
  // A valid prefix: contiguous from 1, nothing deleted.
  EXPECT_EQ(si->State.FirstSeq, 1u);
  EXPECT_EQ(si->State.Msgs, si->State.LastSeq);
  int missing = 0;
  for (const auto& [seq, payload] : acks) {
    natsMsg* m = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    const natsStatus s = js_GetMsg(&m, js_.get(), name_.c_str(), seq, nullptr, &err);
    Owned<natsMsg> owned(m);
    if (s != NATS_OK || Data(m) != payload) {
      if (missing++ < 5) {
        ADD_FAILURE() << "acknowledged sequence " << seq << " (" << payload << "): "
                      << (s == NATS_OK ? "payload '" + Data(m) + "'"
                                       : std::string(natsStatus_GetText(s)) + " js error " +
                                             std::to_string(err));
      }
    }
  }
  EXPECT_EQ(missing, 0) << "of " << acks.size() << " acknowledged";
}

}  // namespace
}  // namespace shortbus::e2e
