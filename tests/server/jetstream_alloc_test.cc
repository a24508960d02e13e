// The captured-publish path (append, acknowledgement, push delivery)
// allocates nothing per message in the steady state, counted with
// tests/alloc_counter around each call into the core.
#include <gtest/gtest.h>

#include <vector>
#include <functional>
#include <string>

#include "index/store.h"
#include "server/jetstream.h"
#include "tests/alloc_counter.h"
#include "tests/engine/test_util.h"
#include "tests/server/core_test_util.h"

namespace shortbus::server {
namespace {

// Posts run when the test drains them; timers never fire (nothing here
// waits on one).
class QueueHost : public JsHost {
 public:
  // A vector kept at its capacity, as the event loop's queue is.
  void Post(std::function<void()> task) override { posted.push_back(std::move(task)); }
  uint64_t AddTimer(absl::Duration, std::function<void()>) override { return ++timers; }
  void CancelTimer(uint64_t) override {}
  int64_t NowNs() override { return absl::ToUnixNanos(absl::Now()); }
  void Drain() {
    while (!posted.empty()) {
      running.swap(posted);  // posts made while running go to `posted`
      for (auto& f : running) f();
      running.clear();
    }
  }
  std::vector<std::function<void()>> posted, running;
  uint64_t timers = 0;
};

class JetStreamAlloc : public ::testing::Test {
 protected:
  void SetUp() override {
    index::StoreOptions o;
    auto store = index::Store::Open(dir_.path() + "/data", o);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    js_ = std::make_unique<JetStream>(store_.get(), h_.core.get(), &host_, JsDefaults{});
    ASSERT_TRUE(js_->Start().ok());
    h_.core->SetPublishObserver(js_.get());
    for (ClientId id : {1, 2}) {
      h_.Connect(id, R"({"verbose":false,"headers":true})");
      h_.transport.Reserve(id, 1 << 16);
    }
    h_.Type(1, "SUB ack.> 1\r\n");
    h_.Type(2, "SUB deliver.here 9\r\n");
    Request("$JS.API.STREAM.CREATE.ORDERS", R"({"name":"ORDERS","subjects":["orders.>"],"sync":"never"})");
    Request("$JS.API.CONSUMER.CREATE.ORDERS",
            R"({"stream_name":"ORDERS","config":{"deliver_subject":"deliver.here","ack_policy":"none"}})");
    h_.transport.Clear(1);
    h_.transport.Clear(2);
  }
  void TearDown() override {
    h_.core->SetPublishObserver(nullptr);
    js_.reset();
    if (store_) (void)store_->Close();
  }
  void Request(const std::string& subject, const std::string& body) {
    h_.Type(1, "PUB " + subject + " ack.api " + std::to_string(body.size()) + "\r\n" + body + "\r\n");
    host_.Drain();
    ASSERT_EQ(h_.Out(1).find("\"error\""), std::string::npos) << h_.Out(1);
  }
  uint64_t CountAllocations(const std::string& frame, int rounds) {
    uint64_t total = 0;
    for (int i = 0; i < rounds; ++i) {
      shortbus::testing::StartCountingAllocations();
      h_.core->OnData(1, frame.data(), frame.size());
      total += shortbus::testing::StopCountingAllocations();
      host_.Drain();
      h_.transport.Clear(1);
      h_.transport.Clear(2);
    }
    return total;
  }

  engine::testing::TempDir dir_;
  CoreHarness h_;
  QueueHost host_;
  std::unique_ptr<index::Store> store_;
  std::unique_ptr<JetStream> js_;
};

TEST_F(JetStreamAlloc, AcknowledgedPublishWithPushDeliverySteadyState) {
  const std::string frame = "PUB orders.new ack.pub 128\r\n" + std::string(128, 'x') + "\r\n";
  EXPECT_GT(CountAllocations(frame, 1), 0u);  // the counter is live: caches fill
  CountAllocations(frame, 100);
  EXPECT_EQ(CountAllocations(frame, 2000), 0u);
}

TEST_F(JetStreamAlloc, TheMessageWasStoredAcknowledgedAndDelivered) {
  const std::string frame = "PUB orders.new ack.pub 2\r\nhi\r\n";
  h_.core->OnData(1, frame.data(), frame.size());
  EXPECT_EQ(h_.Out(1), "MSG ack.pub 1 28\r\n{\"stream\":\"ORDERS\", \"seq\":1}\r\n");
  const std::string out = h_.Out(2);
  EXPECT_EQ(out.rfind("MSG orders.new 9 $JS.ACK.ORDERS.", 0), 0u) << out;
  EXPECT_NE(out.find("\r\nhi\r\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace shortbus::server
