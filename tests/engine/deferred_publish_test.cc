// LogOptions::defer_publish under sync=always: appends are staged in the
// writer's buffer and written (pwrite) and made visible by Publish().
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <string>
#include <vector>

#include "engine/file_system.h"
#include "engine/log.h"
#include "engine/reader.h"
#include "tests/engine/test_util.h"

namespace shortbus::engine {
namespace {

using ::testing::HasSubstr;
using testing::PayloadFor;
using testing::ReadSequences;
using testing::SmallOptions;
using testing::TempDir;

LogOptions DeferredOptions() {
  LogOptions o = SmallOptions();
  o.sync = SyncMode::kAlways;
  o.sync_on_append = false;
  o.defer_publish = true;
  return o;
}

std::vector<uint64_t> OneTo(uint64_t n) {
  std::vector<uint64_t> v;
  for (uint64_t i = 1; i <= n; ++i) v.push_back(i);
  return v;
}

absl::StatusOr<uint64_t> AppendNumbered(Log* log, uint64_t seq, size_t len) {
  const std::string payload = PayloadFor(seq, len);
  return log->Append({"d", "", payload, 0});
}

TEST(DeferredPublish, AppendsAreInvisibleUntilPublished) {
  TempDir tmp;
  auto log = *Log::Open(tmp.path(), DeferredOptions());
  for (uint64_t i = 1; i <= 3; ++i) ASSERT_EQ(*AppendNumbered(log.get(), i, 100), i);
  EXPECT_EQ(log->last_seq(), 0u);
  EXPECT_EQ(log->next_seq(), 4u);
  EXPECT_TRUE(ReadSequences(tmp.path(), 100).empty());
  ASSERT_TRUE(log->Publish().ok());
  EXPECT_EQ(log->last_seq(), 3u);
  EXPECT_EQ(ReadSequences(tmp.path(), 100), OneTo(3));
  // Nothing staged: Publish is a no-op, and a sync request covers it all.
  ASSERT_TRUE(log->Publish().ok());
  log->RequestSync();
  ASSERT_TRUE(log->WaitDurable(3, absl::Seconds(30)).ok());
  // A batch is staged the same way.
  std::vector<std::string> payloads = {PayloadFor(4, 100), PayloadFor(5, 100)};
  std::vector<Message> batch = {{"d", "", payloads[0], 0}, {"d", "", payloads[1], 0}};
  ASSERT_EQ(*log->AppendBatch(batch), 4u);
  EXPECT_EQ(log->last_seq(), 3u);
  ASSERT_TRUE(log->Publish().ok());
  EXPECT_EQ(ReadSequences(tmp.path(), 100), OneTo(5));
}

TEST(DeferredPublish, AFullStageAndFramesLargerThanItKeepTheirOrder) {
  TempDir tmp;
  LogOptions o = DeferredOptions();
  o.segment_size = 8 * kStageBytes;
  auto log = *Log::Open(tmp.path(), o);
  // 100 KiB frames: the stage fills after about ten and is written on its own.
  const size_t kMid = 100 << 10;
  uint64_t seq = 1;
  for (; seq <= 25; ++seq) ASSERT_EQ(*AppendNumbered(log.get(), seq, kMid), seq);
  EXPECT_EQ(log->last_seq(), 0u);  // written in part, published not at all
  ASSERT_TRUE(log->Publish().ok());
  EXPECT_EQ(ReadSequences(tmp.path(), kMid).size(), 25u);
  // A frame larger than the stage goes through the mapping, after what is
  // staged and before what follows.
  const size_t kBig = kStageBytes + 4096;
  ASSERT_EQ(*AppendNumbered(log.get(), 26, 100), 26u);
  ASSERT_EQ(*AppendNumbered(log.get(), 27, kBig), 27u);
  ASSERT_EQ(*AppendNumbered(log.get(), 28, 100), 28u);
  ASSERT_TRUE(log->Publish().ok());
  auto r = *Reader::Open(tmp.path());
  ASSERT_TRUE(r->SeekToSequence(26).ok());
  Record rec;
  for (uint64_t want = 26; want <= 28; ++want) {
    ASSERT_TRUE(r->Next(&rec).ok());
    EXPECT_EQ(rec.sequence, want);
    EXPECT_EQ(rec.payload, PayloadFor(want, want == 27 ? kBig : 100));
  }
}

TEST(DeferredPublish, StagedFramesFollowTheWriterAcrossRolls) {
  TempDir tmp;
  auto log = *Log::Open(tmp.path(), DeferredOptions());  // 1 MiB segments
  const uint64_t n = 3000;                              // about 3 MiB of frames
  for (uint64_t i = 1; i <= n; ++i) ASSERT_EQ(*AppendNumbered(log.get(), i, 1000), i);
  // Each roll wrote and published what the old segment held.
  EXPECT_GT(log->last_seq(), 0u);
  EXPECT_LT(log->last_seq(), n);
  ASSERT_TRUE(log->Publish().ok());
  EXPECT_EQ(log->last_seq(), n);
  EXPECT_GE(testing::SegmentBases(tmp.path()).size(), 3u);
  EXPECT_EQ(ReadSequences(tmp.path(), 1000), OneTo(n));
}

TEST(DeferredPublish, SyncAndCloseWriteWhatIsStaged) {
  TempDir tmp;
  LogOptions o = DeferredOptions();
  {
    auto log = *Log::Open(tmp.path(), o);
    ASSERT_TRUE(AppendNumbered(log.get(), 1, 100).ok());
    ASSERT_TRUE(log->Sync().ok());
    EXPECT_EQ(log->durable_seq(), 1u);
    ASSERT_TRUE(AppendNumbered(log.get(), 2, 100).ok());
    ASSERT_TRUE(log->Close().ok());
  }
  auto again = *Log::Open(tmp.path(), o);
  EXPECT_EQ(again->last_seq(), 2u);
  EXPECT_EQ(ReadSequences(tmp.path(), 100), OneTo(2));
}

TEST(DeferredPublish, IgnoredOutsideSyncAlways) {
  TempDir tmp;
  LogOptions o = SmallOptions();  // kNever
  o.defer_publish = true;
  auto log = *Log::Open(tmp.path(), o);
  ASSERT_TRUE(AppendNumbered(log.get(), 1, 100).ok());
  EXPECT_EQ(log->last_seq(), 1u);
  EXPECT_EQ(ReadSequences(tmp.path(), 100), OneTo(1));
}

class FailingWrites : public FileSystem {
 public:
  std::atomic<bool> fail{false};
  absl::Status WriteAt(int fd, uint64_t offset, const char* src, size_t len, const std::string& path) override {
    if (fail) return ErrnoStatus(EIO, "write", path);
    return FileSystem::WriteAt(fd, offset, src, len, path);
  }
};

TEST(DeferredPublish, AFailedWriteFailsTheLog) {
  TempDir tmp;
  FailingWrites fs;
  LogOptions o = DeferredOptions();
  o.fs = &fs;
  auto log = *Log::Open(tmp.path(), o);
  ASSERT_TRUE(AppendNumbered(log.get(), 1, 100).ok());
  ASSERT_TRUE(log->Publish().ok());
  ASSERT_TRUE(AppendNumbered(log.get(), 2, 100).ok());
  fs.fail = true;
  absl::Status s = log->Publish();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("write"));
  EXPECT_EQ(log->last_seq(), 1u);  // the lost frame was never visible
  absl::StatusOr<uint64_t> a = AppendNumbered(log.get(), 3, 100);
  EXPECT_TRUE(absl::IsFailedPrecondition(a.status())) << a.status();
  EXPECT_FALSE(log->Publish().ok());
  fs.fail = false;
  EXPECT_FALSE(log->Close().ok());
  log.reset();
  auto again = *Log::Open(tmp.path(), o);
  EXPECT_EQ(again->last_seq(), 1u);
  EXPECT_EQ(ReadSequences(tmp.path(), 100), OneTo(1));
}

}  // namespace
}  // namespace shortbus::engine
