// The route/deliver path allocates nothing in the steady state, counted
// with tests/alloc_counter around each call into the core.
#include <gtest/gtest.h>

#include <string>

#include "tests/alloc_counter.h"
#include "tests/server/core_test_util.h"

namespace shortbus::server {
namespace {

// Feeds `frame` to `from` `rounds` times (cut into two reads at `cut`, or
// whole when cut is 0) and returns the allocations made while the core ran.
uint64_t CountAllocations(CoreHarness& h, ClientId from, const std::string& frame, size_t cut,
                          int rounds, std::initializer_list<ClientId> subscribers) {
  uint64_t total = 0;
  for (int i = 0; i < rounds; ++i) {
    shortbus::testing::StartCountingAllocations();
    if (cut == 0) {
      h.core->OnData(from, frame.data(), frame.size());
    } else {
      h.core->OnData(from, frame.data(), cut);
      h.core->OnData(from, frame.data() + cut, frame.size() - cut);
    }
    total += shortbus::testing::StopCountingAllocations();
    for (ClientId id : subscribers) h.transport.Clear(id);
  }
  return total;
}

class Alloc : public ::testing::Test {
 protected:
  void SetUp() override {
    for (ClientId id : {1, 2, 3, 4}) {
      h.Connect(id, R"({"verbose":false,"headers":true})");
      h.transport.Reserve(id, 1 << 16);
    }
    h.Type(1, "SUB metrics.> 1\r\n");
    h.Type(2, "SUB metrics.cpu 7\r\n");
    h.Type(3, "SUB metrics.* workers 3\r\n");
    h.Type(4, "SUB metrics.* workers 4\r\n");
  }
  CoreHarness h;
};

TEST_F(Alloc, PubToMsgSteadyState) {
  const std::string frame = "PUB metrics.cpu " + std::to_string(128) + "\r\n" +
                            std::string(128, 'x') + "\r\n";
  // The counter is live: the first message on a subject fills the cache.
  EXPECT_GT(CountAllocations(h, 1, frame, 0, 1, {1, 2, 3, 4}), 0u);
  CountAllocations(h, 1, frame, 0, 10, {1, 2, 3, 4});
  EXPECT_EQ(CountAllocations(h, 1, frame, 0, 1000, {1, 2, 3, 4}), 0u);
}

TEST_F(Alloc, HpubToHmsgSteadyState) {
  const std::string frame = "HPUB metrics.cpu reply.1 24 26\r\nNATS/1.0\r\nA: b\r\nC: d\r\n\r\nhi\r\n";
  CountAllocations(h, 1, frame, 0, 10, {1, 2, 3, 4});
  EXPECT_EQ(CountAllocations(h, 1, frame, 0, 1000, {1, 2, 3, 4}), 0u);
}

TEST_F(Alloc, TornFramesSteadyState) {
  const std::string frame = "PUB metrics.cpu 128\r\n" + std::string(128, 'x') + "\r\n";
  for (size_t cut : {size_t{5}, size_t{20}, size_t{60}, frame.size() - 1}) {
    CountAllocations(h, 1, frame, cut, 10, {1, 2, 3, 4});
    EXPECT_EQ(CountAllocations(h, 1, frame, cut, 200, {1, 2, 3, 4}), 0u) << cut;
  }
}

TEST_F(Alloc, DeliveryReallyHappened) {
  const std::string frame = "PUB metrics.cpu 2\r\nhi\r\n";
  h.core->OnData(1, frame.data(), frame.size());
  EXPECT_EQ(h.Out(1), "MSG metrics.cpu 1 2\r\nhi\r\n");
  EXPECT_EQ(h.Out(2), "MSG metrics.cpu 7 2\r\nhi\r\n");
  EXPECT_EQ(h.Out(3).size() + h.Out(4).size(), std::string("MSG metrics.cpu 3 2\r\nhi\r\n").size());
}

}  // namespace
}  // namespace shortbus::server
