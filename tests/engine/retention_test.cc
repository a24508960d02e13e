#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>

#include "engine/log.h"
#include "engine/reader.h"
#include "engine/segment_header.h"
#include "tests/engine/test_util.h"

namespace shortbus::engine {
namespace {

using ::testing::HasSubstr;
using testing::PayloadFor;
using testing::SmallOptions;
using testing::TempDir;

size_t CountSegments(const std::string& dir) { return testing::SegmentBases(dir).size(); }

uint64_t FirstReadable(const std::string& dir) {
  auto r = Reader::Open(dir);
  EXPECT_TRUE(r.ok());
  Record rec;
  absl::Status s = (*r)->Next(&rec);
  EXPECT_TRUE(s.ok()) << s;
  return rec.sequence;
}

TEST(Retention, MaxMsgsKeepsExactlyTheNewest) {
  TempDir tmp;
  LogOptions o = SmallOptions();
  o.retention.max_msgs = 1000;
  auto log = *Log::Open(tmp.path(), o);
  for (uint64_t i = 1; i <= 20000; ++i) ASSERT_TRUE(log->Append({"m", "", PayloadFor(i, 200), 0}).ok());
  EXPECT_EQ(log->first_seq(), 19001u);
  EXPECT_EQ(log->stats().msgs, 1000u);
  EXPECT_EQ(FirstReadable(tmp.path()), 19001u);
  log->EnforceRetention();
  // ~5 MB written into 1 MiB segments; only the segments holding the newest
  // 1000 messages (~250 KB) remain.
  EXPECT_LE(CountSegments(tmp.path()), 2u);
}

TEST(Retention, MaxBytesBoundsRetainedFrames) {
  TempDir tmp;
  LogOptions o = SmallOptions();
  o.retention.max_bytes = 300'000;
  auto log = *Log::Open(tmp.path(), o);
  for (uint64_t i = 1; i <= 20000; ++i) {
    ASSERT_TRUE(log->Append({"b", "", PayloadFor(i, i % 500), 0}).ok());
    ASSERT_LE(log->stats().bytes, 300'000u) << i;
  }
  EXPECT_GT(log->stats().bytes, 300'000u - 600);  // within one frame of the bound
  // The retained byte count matches what a reader finds.
  auto r = *Reader::Open(tmp.path());
  Record rec;
  uint64_t frames = 0, bytes = 0;
  while (r->Next(&rec).ok()) {
    ++frames;
    bytes += (48 + rec.subject.size() + rec.payload.size() + 7) / 8 * 8;
  }
  EXPECT_EQ(frames, log->stats().msgs);
  EXPECT_EQ(bytes, log->stats().bytes);
}

TEST(Retention, MaxAgeExpiresByTimestamp) {
  TempDir tmp;
  std::atomic<int64_t> now{1'000'000'000'000};
  LogOptions o = SmallOptions();
  o.retention.max_age = absl::Seconds(60);
  o.clock = [&now] { return now.load(); };
  auto log = *Log::Open(tmp.path(), o);
  for (uint64_t i = 1; i <= 6000; ++i) {
    ASSERT_TRUE(log->Append({"a", "", PayloadFor(i, 500), 0}).ok());
    now += 20'000'000;  // 20 ms per message: 6000 messages span 120 s
  }
  log->EnforceRetention();
  // Now = start + 120 s; messages older than start + 60 s are gone.
  // Message i was stamped start + (i - 1) * 20 ms, so the first kept is 3001.
  EXPECT_EQ(log->first_seq(), 3001u);
  EXPECT_EQ(FirstReadable(tmp.path()), 3001u);
  now += 3'600'000'000'000;
  log->EnforceRetention();
  EXPECT_EQ(log->stats().msgs, 0u);
  EXPECT_EQ(log->first_seq(), 6001u);
  EXPECT_EQ(CountSegments(tmp.path()), 1u);  // the active segment stays
  // Sequences continue after everything expired.
  EXPECT_EQ(*log->Append({"a", "", "x", 0}), 6001u);
  EXPECT_EQ(FirstReadable(tmp.path()), 6001u);
}

TEST(Retention, DiscardNewRefusesWhenFull) {
  TempDir tmp;
  LogOptions o = SmallOptions();
  o.retention.max_msgs = 100;
  o.retention.discard = DiscardPolicy::kNew;
  auto log = *Log::Open(tmp.path(), o);
  for (uint64_t i = 1; i <= 100; ++i) ASSERT_TRUE(log->Append({"n", "", "x", 0}).ok());
  absl::StatusOr<uint64_t> s = log->Append({"n", "", "x", 0});
  EXPECT_TRUE(absl::IsResourceExhausted(s.status()));
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("stream full: max_msgs 100"));
  EXPECT_EQ(log->last_seq(), 100u);
  EXPECT_EQ(log->first_seq(), 1u);
}

TEST(Retention, DiscardNewByBytes) {
  TempDir tmp;
  LogOptions o = SmallOptions();
  o.retention.max_bytes = 10'000;
  o.retention.discard = DiscardPolicy::kNew;
  auto log = *Log::Open(tmp.path(), o);
  uint64_t ok = 0;
  absl::Status last;
  for (int i = 0; i < 1000; ++i) {
    absl::StatusOr<uint64_t> s = log->Append({"n", "", std::string(100, 'x'), 0});
    if (!s.ok()) {
      last = s.status();
      break;
    }
    ++ok;
  }
  EXPECT_EQ(ok, 10'000u / 152);  // 48 + 1 + 100 -> 152 bytes a frame
  EXPECT_THAT(std::string(last.message()), HasSubstr("max_bytes 10000"));
  EXPECT_LE(log->stats().bytes, 10'000u);
}

TEST(Retention, ReopenDerivesTheSameFirstSequence) {
  TempDir tmp;
  LogOptions o = SmallOptions();
  o.retention.max_msgs = 777;
  {
    auto log = *Log::Open(tmp.path(), o);
    for (uint64_t i = 1; i <= 9000; ++i) ASSERT_TRUE(log->Append({"r", "", PayloadFor(i, 300), 0}).ok());
    ASSERT_EQ(log->first_seq(), 9000u - 777 + 1);
    ASSERT_TRUE(log->Close().ok());
  }
  auto log = *Log::Open(tmp.path(), o);
  EXPECT_EQ(log->first_seq(), 9000u - 777 + 1);
  EXPECT_EQ(log->stats().msgs, 777u);
  EXPECT_EQ(FirstReadable(tmp.path()), 9000u - 777 + 1);
  // Tightening the limit takes effect at open.
  ASSERT_TRUE(log->Close().ok());
  log.reset();
  o.retention.max_msgs = 10;
  log = *Log::Open(tmp.path(), o);
  EXPECT_EQ(log->first_seq(), 8991u);
}

TEST(Retention, DeletingASegmentNeverPullsItFromAReader) {
  TempDir tmp;
  LogOptions o = SmallOptions();
  o.retention.max_msgs = 500;
  auto log = *Log::Open(tmp.path(), o);
  for (uint64_t i = 1; i <= 400; ++i) ASSERT_TRUE(log->Append({"d", "", PayloadFor(i, 1000), 0}).ok());
  auto r = *Reader::Open(tmp.path());
  Record rec;
  ASSERT_TRUE(r->Next(&rec).ok());
  ASSERT_EQ(rec.sequence, 1u);
  const std::string_view held = rec.payload;  // a view into segment 1
  ASSERT_EQ(held, PayloadFor(1, 1000));
  for (uint64_t i = 401; i <= 5000; ++i) ASSERT_TRUE(log->Append({"d", "", PayloadFor(i, 1000), 0}).ok());
  log->EnforceRetention();
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub(SegmentFileName(1))));
  // The reader's mapping of the deleted segment is intact ...
  EXPECT_EQ(held, PayloadFor(1, 1000));
  // ... and reading on, it skips what expired without reporting a loss.
  uint64_t prev = 1;
  int got = 0;
  while (true) {
    absl::Status s = r->Next(&rec);
    if (IsEndOfData(s)) break;
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_GT(rec.sequence, prev);
    ASSERT_EQ(rec.payload, PayloadFor(rec.sequence, 1000));
    prev = rec.sequence;
    ++got;
  }
  EXPECT_EQ(prev, 5000u);
  EXPECT_GE(got, 500);
}

}  // namespace
}  // namespace shortbus::engine

namespace shortbus::engine {
namespace {

// Regression (review finding 6): a gap left by a quarantined segment does
// not stop retention for good.
TEST(Retention, ExpiryCrossesAGapLeftByCorruption) {
  testing::TempDir tmp;
  {
    auto log = *Log::Open(tmp.path(), testing::SmallOptions());
    for (uint64_t i = 1; i <= 9; ++i) ASSERT_TRUE(log->Append({"g", "", testing::PayloadFor(i, 400000), 0}).ok());
    ASSERT_TRUE(log->Close().ok());
  }
  const std::vector<uint64_t> bases = testing::SegmentBases(tmp.path());
  ASSERT_GE(bases.size(), 4u);
  testing::WriteFileAt(tmp.Sub(SegmentFileName(bases[1])), 0, "XXXXXXXX");  // quarantined at open
  LogOptions o = testing::SmallOptions();
  o.retention.max_msgs = 2;
  auto log = *Log::Open(tmp.path(), o);
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(log->Append({"g", "", testing::PayloadFor(100 + i, 400000), 0}).ok());
  log->EnforceRetention();
  EXPECT_EQ(log->stats().msgs, 2u);
  EXPECT_LE(CountSegments(tmp.path()), 2u);
}


TEST(Retention, ExpireBeforeIsAPurge) {
  TempDir tmp;
  auto log = *Log::Open(tmp.path(), SmallOptions());
  for (uint64_t i = 1; i <= 20000; ++i) ASSERT_TRUE(log->Append({"p", "", PayloadFor(i, 200), 0}).ok());
  const size_t segments = CountSegments(tmp.path());
  log->ExpireBefore(15001);
  EXPECT_EQ(log->first_seq(), 15001u);
  EXPECT_EQ(log->stats().msgs, 5000u);
  EXPECT_EQ(FirstReadable(tmp.path()), 15001u);
  EXPECT_LT(CountSegments(tmp.path()), segments);
  log->ExpireBefore(10);  // below first: nothing changes
  EXPECT_EQ(log->first_seq(), 15001u);
  log->ExpireBefore(UINT64_MAX);  // all of it
  EXPECT_EQ(log->first_seq(), 20001u);
  EXPECT_EQ(log->stats().msgs, 0u);
  EXPECT_EQ(*log->Append({"p", "", "next", 0}), 20001u);
  EXPECT_EQ(FirstReadable(tmp.path()), 20001u);
  ASSERT_TRUE(log->Close().ok());
  auto again = *Log::Open(tmp.path(), SmallOptions());
  EXPECT_EQ(again->first_seq(), 20001u);
  EXPECT_EQ(again->last_seq(), 20001u);
}

}  // namespace
}  // namespace shortbus::engine
