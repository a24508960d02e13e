// The append path allocates nothing: counted by replacing operator new for
// this binary and counting only on the writer's thread.
#include <gtest/gtest.h>

#include <cstdlib>
#include <new>

#include "engine/log.h"
#include "engine/reader.h"
#include "tests/engine/test_util.h"
#include "tests/alloc_counter.h"


using shortbus::testing::StartCountingAllocations;
using shortbus::testing::StopCountingAllocations;

namespace shortbus::engine {
namespace {

using testing::TempDir;

class HotPath : public ::testing::TestWithParam<SyncMode> {};

// The counter itself works (so the tests below can fail).
TEST(HotPathCounter, CountsAnAllocation) {
  StartCountingAllocations();
  std::string* s = new std::string(100, 'x');
  const uint64_t seen = StopCountingAllocations();
  delete s;
  EXPECT_GE(seen, 1u);
}

TEST_P(HotPath, AppendAndBatchAllocateNothing) {
  TempDir tmp;
  LogOptions o;
  o.sync = GetParam();
  o.sync_interval = absl::Milliseconds(1);
  o.segment_size = uint64_t{64} << 20;
  o.retention.max_msgs = 50'000;  // the retention walk runs on every append too
  auto log = *Log::Open(tmp.path(), o);
  const std::string payload(128, 'p');
  const std::string headers = "NATS/1.0\r\nNats-Msg-Id: 1\r\n\r\n";
  ASSERT_TRUE(log->Append({"warm.up", "", payload, 0}).ok());  // creates the first segment
  Message batch[16];
  for (auto& m : batch) m = {"batch.subject", "", payload, 0};

  StartCountingAllocations();
  for (int i = 0; i < 100'000; ++i) {
    absl::StatusOr<uint64_t> s = log->Append({"telemetry.cpu", headers, payload, 0});
    if (!s.ok()) break;
  }
  for (int i = 0; i < 1000; ++i) {
    if (!log->AppendBatch(batch).ok()) break;
  }
  const uint64_t seen = StopCountingAllocations();
  EXPECT_EQ(seen, 0u) << "allocations on the append path";
  EXPECT_EQ(log->last_seq(), 1u + 100'000 + 16'000);
}

// sync=always with deferred publication, as the daemon runs it: appends,
// and a Publish (one pwrite) per burst of 256.
TEST(HotPathDeferred, AppendAndPublishAllocateNothing) {
  TempDir tmp;
  LogOptions o;
  o.sync = SyncMode::kAlways;
  o.sync_on_append = false;
  o.defer_publish = true;
  o.segment_size = uint64_t{64} << 20;
  auto log = *Log::Open(tmp.path(), o);
  const std::string payload(128, 'p');
  ASSERT_TRUE(log->Append({"warm.up", "", payload, 0}).ok());  // creates the first segment
  ASSERT_TRUE(log->Publish().ok());

  StartCountingAllocations();
  for (int i = 0; i < 100'000; ++i) {
    if (!log->Append({"telemetry.cpu", "", payload, 0}).ok()) break;
    if (i % 256 == 255 && !log->Publish().ok()) break;
  }
  const bool published = log->Publish().ok();
  const uint64_t seen = StopCountingAllocations();
  EXPECT_TRUE(published);
  EXPECT_EQ(seen, 0u) << "allocations on the append path";
  EXPECT_EQ(log->last_seq(), 1u + 100'000);
}

INSTANTIATE_TEST_SUITE_P(Modes, HotPath, ::testing::Values(SyncMode::kNever, SyncMode::kInterval),
                         [](const auto& info) {
                           return info.param == SyncMode::kNever ? std::string("Never") : std::string("Interval");
                         });

TEST(HotPathReader, NextAllocatesNothingForRawPayloads) {
  TempDir tmp;
  LogOptions o = testing::SmallOptions();
  auto log = *Log::Open(tmp.path(), o);
  for (int i = 0; i < 3000; ++i) ASSERT_TRUE(log->Append({"r", "", std::string(200, 'r'), 0}).ok());
  auto r = *Reader::Open(tmp.path());
  Record rec;
  ASSERT_TRUE(r->Next(&rec).ok());
  StartCountingAllocations();
  int n = 1;
  while (n < 3000 && r->Next(&rec).ok()) ++n;
  const uint64_t seen = StopCountingAllocations();
  EXPECT_EQ(n, 3000);
  // Crossing a segment boundary lists the directory (allocates); within a
  // segment nothing does. 3000 x 256 B spans one boundary of 1 MiB segments.
  EXPECT_LE(seen, 64u);
}

}  // namespace
}  // namespace shortbus::engine
