#include "engine/log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "engine/reader.h"
#include "tests/engine/test_util.h"

namespace shortbus::engine {
namespace {

using testing::PayloadFor;
using testing::SmallOptions;
using testing::TempDir;

std::unique_ptr<Log> MustOpen(const std::string& dir, const LogOptions& o) {
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(dir, o);
  EXPECT_TRUE(log.ok()) << log.status();
  return log.ok() ? std::move(*log) : nullptr;
}

// Reads the whole stream from `from`, checking payloads made by PayloadFor.
uint64_t ReadAllChecked(const std::string& dir, uint64_t from, size_t len_mod = 0) {
  absl::StatusOr<std::unique_ptr<Reader>> r = Reader::Open(dir);
  EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE((*r)->SeekToSequence(from).ok());
  Record rec;
  uint64_t n = 0, expect = from;
  while (true) {
    absl::Status s = (*r)->Next(&rec);
    if (IsEndOfData(s)) break;
    EXPECT_TRUE(s.ok()) << s;
    if (!s.ok()) break;
    EXPECT_EQ(rec.sequence, expect);
    if (len_mod != 0) {
      EXPECT_EQ(rec.payload, PayloadFor(rec.sequence, rec.sequence % len_mod)) << rec.sequence;
    }
    ++expect;
    ++n;
  }
  return n;
}

TEST(Log, AppendAssignsContiguousSequencesFromOne) {
  TempDir tmp;
  auto log = MustOpen(tmp.path(), SmallOptions());
  for (uint64_t i = 1; i <= 100; ++i) {
    absl::StatusOr<uint64_t> seq = log->Append({"a.b", "", PayloadFor(i, i % 50), 0});
    ASSERT_TRUE(seq.ok()) << seq.status();
    EXPECT_EQ(*seq, i);
  }
  EXPECT_EQ(log->first_seq(), 1u);
  EXPECT_EQ(log->last_seq(), 100u);
  EXPECT_EQ(ReadAllChecked(tmp.path(), 1, 50), 100u);
}

TEST(Log, BatchReturnsFirstSequence) {
  TempDir tmp;
  auto log = MustOpen(tmp.path(), SmallOptions());
  std::vector<std::string> payloads;
  for (uint64_t i = 1; i <= 10; ++i) payloads.push_back(PayloadFor(i, i % 7));
  std::vector<Message> batch;
  for (const auto& p : payloads) batch.push_back({"x", "", p, 0});
  absl::StatusOr<uint64_t> first = log->AppendBatch(batch);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, 1u);
  EXPECT_EQ(log->last_seq(), 10u);
  EXPECT_EQ(ReadAllChecked(tmp.path(), 1, 7), 10u);
  EXPECT_FALSE(log->AppendBatch({}).ok());
}

TEST(Log, SegmentsRollAndReadAcrossThem) {
  TempDir tmp;
  auto log = MustOpen(tmp.path(), SmallOptions());
  const size_t len_mod = 5000;
  uint64_t n = 4000;  // ~8 MB in 1 MiB segments
  for (uint64_t i = 1; i <= n; ++i) {
    ASSERT_TRUE(log->Append({"roll", "", PayloadFor(i, i % len_mod), 0}).ok());
  }
  EXPECT_GE(log->stats().segments, 5u);
  EXPECT_EQ(ReadAllChecked(tmp.path(), 1, len_mod), n);
  EXPECT_EQ(ReadAllChecked(tmp.path(), 1234, len_mod), n - 1233);
  // Files are named by their base sequence.
  auto names = testing::ListDir(tmp.path());
  EXPECT_EQ(names.front(), "00000000000000000001.seg");
}

TEST(Log, CleanReopenScansNothingAndContinues) {
  TempDir tmp;
  {
    auto log = MustOpen(tmp.path(), SmallOptions());
    for (uint64_t i = 1; i <= 3000; ++i) ASSERT_TRUE(log->Append({"s", "", PayloadFor(i, i % 900), 0}).ok());
    ASSERT_TRUE(log->Close().ok());
  }
  auto log = MustOpen(tmp.path(), SmallOptions());
  EXPECT_EQ(log->recovery().frames_scanned, 0u);
  EXPECT_EQ(log->recovery().tail_bytes_cut, 0u);
  EXPECT_EQ(log->last_seq(), 3000u);
  EXPECT_EQ(log->durable_seq(), 3000u);
  absl::StatusOr<uint64_t> seq = log->Append({"s", "", PayloadFor(3001, 3001 % 900), 0});
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, 3001u);
  EXPECT_EQ(ReadAllChecked(tmp.path(), 1, 900), 3001u);
}

TEST(Log, SyncAlwaysAcknowledgesOnlyDurable) {
  TempDir tmp;
  LogOptions o = SmallOptions();
  o.sync = SyncMode::kAlways;
  auto log = MustOpen(tmp.path(), o);
  std::atomic<uint64_t> seen{0};
  log->SetDurableCallback([&](uint64_t d) { seen.store(d); });
  uint64_t last = 0;
  for (int i = 0; i < 200; ++i) {
    absl::StatusOr<uint64_t> seq = log->Append({"d", "", "payload", 0});
    ASSERT_TRUE(seq.ok());
    last = *seq;
  }
  ASSERT_TRUE(log->WaitDurable(last, absl::Seconds(30)).ok());
  EXPECT_GE(log->durable_seq(), last);
  // The callback runs on the background thread, not necessarily before the
  // waiter wakes: wait for it, bounded.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (seen.load() < last && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_GE(seen.load(), last);
  // Group commit: 200 appends made durable by far fewer syncs.
  EXPECT_LT(log->stats().syncs, 200u);
  EXPECT_GE(log->stats().syncs, 1u);
}

TEST(Log, SyncAlwaysWithoutSyncOnAppendSyncsABurstOnceWhenAsked) {
  TempDir tmp;
  LogOptions o = SmallOptions();
  o.sync = SyncMode::kAlways;
  o.sync_on_append = false;
  o.prefault_window = 0;  // no background wake-ups but the ones asked for
  auto log = MustOpen(tmp.path(), o);
  std::atomic<uint64_t> seen{0};
  log->SetDurableCallback([&](uint64_t d) { seen.store(d); });
  const uint64_t syncs0 = log->stats().syncs;
  uint64_t last = 0;
  for (int i = 0; i < 500; ++i) last = *log->Append({"d", "", "payload", 0});
  log->RequestSync();
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (seen.load() < last && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_EQ(seen.load(), last);
  // One sync for the whole burst: nothing started one before it ended.
  EXPECT_EQ(log->stats().syncs - syncs0, 1u);
  // WaitDurable asks for its own sync: it never waits for a request.
  const uint64_t more = *log->Append({"d", "", "payload", 0});
  ASSERT_TRUE(log->WaitDurable(more, absl::Seconds(30)).ok());
  EXPECT_EQ(log->durable_seq(), more);
}

TEST(Log, PrepareSyncWakesTheSyncerButOnlyARequestSyncs) {
  TempDir tmp;
  LogOptions o = SmallOptions();
  o.sync = SyncMode::kAlways;
  o.sync_on_append = false;
  o.prefault_window = 0;
  auto log = MustOpen(tmp.path(), o);
  const uint64_t syncs0 = log->stats().syncs;
  const uint64_t first = *log->Append({"d", "", "payload", 0});
  log->PrepareSync();
  // A negative: nothing can be waited for. Well past the poll limit, the
  // syncer has given up on the request without syncing.
  absl::SleepFor(kSyncSoonPollLimit * 10);
  EXPECT_EQ(log->stats().syncs, syncs0);
  EXPECT_EQ(log->durable_seq(), 0u);
  // The announced request, arriving while the syncer polls for it (from
  // another thread, as the server's loop is), is served by one sync.
  log->PrepareSync();
  const uint64_t last = *log->Append({"d", "", "payload", 0});
  std::thread requester([&] { log->RequestSync(); });
  requester.join();
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (log->durable_seq() < last && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(log->durable_seq(), last);
  EXPECT_GT(last, first);
  EXPECT_EQ(log->stats().syncs - syncs0, 1u);
}

TEST(Log, PrepareSyncDoesNothingOutsideSyncAlways) {
  TempDir tmp;
  LogOptions o = SmallOptions();  // kNever
  o.prefault_window = 0;
  auto log = MustOpen(tmp.path(), o);
  ASSERT_TRUE(log->Append({"d", "", "p", 0}).ok());
  log->PrepareSync();
  log->PrepareSync();
  absl::SleepFor(kSyncSoonPollLimit * 10);
  EXPECT_EQ(log->stats().syncs, 0u);
  EXPECT_EQ(log->durable_seq(), 0u);
}

TEST(Log, SyncIntervalMakesDurableWithoutAsking) {
  TempDir tmp;
  LogOptions o = SmallOptions();
  o.sync = SyncMode::kInterval;
  o.sync_interval = absl::Milliseconds(20);
  auto log = MustOpen(tmp.path(), o);
  ASSERT_TRUE(log->Append({"d", "", "p", 0}).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (log->durable_seq() < 1 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(2));
  EXPECT_EQ(log->durable_seq(), 1u);
}

TEST(Log, SyncNeverIsDurableOnlyWhenAsked) {
  TempDir tmp;
  auto log = MustOpen(tmp.path(), SmallOptions());
  ASSERT_TRUE(log->Append({"d", "", "p", 0}).ok());
  EXPECT_EQ(log->durable_seq(), 0u);
  EXPECT_EQ(log->stats().syncs, 0u);
  ASSERT_TRUE(log->WaitDurable(1, absl::Seconds(30)).ok());  // asks for a sync
  EXPECT_EQ(log->durable_seq(), 1u);
  EXPECT_TRUE(absl::IsInvalidArgument(log->WaitDurable(5)));
}

TEST(Log, Lz4CompressesWhenItSavesSpace) {
  TempDir tmp;
  LogOptions o = SmallOptions();
  o.compression = Compression::kLz4;
  auto log = MustOpen(tmp.path(), o);
  const std::string compressible(10000, 'z');
  const std::string random = PayloadFor(9, 10000);  // letters only: LZ4 still saves some
  std::string incompressible(300, '\0');
  uint64_t x = 88172645463325252ull;
  for (char& c : incompressible) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    c = static_cast<char>(x);
  }
  ASSERT_TRUE(log->Append({"c", "", compressible, 0}).ok());
  ASSERT_TRUE(log->Append({"c", "NATS/1.0\r\n\r\n", random, 0}).ok());
  ASSERT_TRUE(log->Append({"c", "", incompressible, 0}).ok());
  ASSERT_TRUE(log->Append({"c", "", "short", 0}).ok());
  EXPECT_LT(log->stats().bytes, 10000u + 10000u + 300u);  // the first shrank a lot
  auto r = Reader::Open(tmp.path());
  ASSERT_TRUE(r.ok());
  Record rec;
  ASSERT_TRUE((*r)->Next(&rec).ok());
  EXPECT_EQ(rec.payload, compressible);
  ASSERT_TRUE((*r)->Next(&rec).ok());
  EXPECT_EQ(rec.payload, random);
  EXPECT_EQ(rec.headers, "NATS/1.0\r\n\r\n");
  ASSERT_TRUE((*r)->Next(&rec).ok());
  EXPECT_EQ(rec.payload, incompressible);
  ASSERT_TRUE((*r)->Next(&rec).ok());
  EXPECT_EQ(rec.payload, "short");
}

TEST(Log, RejectsBadMessagesWithClearErrors) {
  TempDir tmp;
  LogOptions o = SmallOptions();
  o.retention.max_msg_size = 1000;
  auto log = MustOpen(tmp.path(), o);
  absl::StatusOr<uint64_t> s = log->Append({"", "", "p", 0});
  EXPECT_TRUE(absl::IsInvalidArgument(s.status()));
  EXPECT_THAT(std::string(s.status().message()), ::testing::HasSubstr("empty subject"));
  s = log->Append({"big", "", std::string(2000, 'x'), 0});
  EXPECT_TRUE(absl::IsInvalidArgument(s.status()));
  EXPECT_THAT(std::string(s.status().message()), ::testing::HasSubstr("exceeds max_msg_size 1000"));
  s = log->Append({std::string(70000, 's'), "", "", 0});
  EXPECT_TRUE(absl::IsInvalidArgument(s.status()));
  // Nothing was appended by the refusals.
  EXPECT_EQ(log->last_seq(), 0u);
  EXPECT_EQ(*log->Append({"ok", "", "p", 0}), 1u);
}

TEST(Log, MessageLargerThanASegmentIsRefused) {
  TempDir tmp;
  auto log = MustOpen(tmp.path(), SmallOptions());
  absl::StatusOr<uint64_t> s = log->Append({"huge", "", std::string(kMinSegmentSize, 'x'), 0});
  EXPECT_TRUE(absl::IsInvalidArgument(s.status()));
  EXPECT_THAT(std::string(s.status().message()), ::testing::HasSubstr("does not fit a segment"));
  // The largest that fits does.
  const size_t fits = kMinSegmentSize - 4096 - 48 - 4;
  EXPECT_TRUE(log->Append({"huge", "", std::string(fits, 'x'), 0}).ok());
}

TEST(Log, TimestampsNeverDecrease) {
  TempDir tmp;
  auto log = MustOpen(tmp.path(), SmallOptions());
  ASSERT_TRUE(log->Append({"t", "", "a", 5000}).ok());
  ASSERT_TRUE(log->Append({"t", "", "b", 3000}).ok());  // earlier: raised to 5000
  ASSERT_TRUE(log->Append({"t", "", "c", 9000}).ok());
  auto r = Reader::Open(tmp.path());
  Record rec;
  ASSERT_TRUE((*r)->Next(&rec).ok());
  EXPECT_EQ(rec.timestamp_ns, 5000);
  ASSERT_TRUE((*r)->Next(&rec).ok());
  EXPECT_EQ(rec.timestamp_ns, 5000);
  ASSERT_TRUE((*r)->Next(&rec).ok());
  EXPECT_EQ(rec.timestamp_ns, 9000);
}

TEST(Log, OpenMissingStreamWithoutCreateIsNotFound) {
  TempDir tmp;
  LogOptions o = SmallOptions();
  o.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(tmp.Sub("nope"), o);
  EXPECT_TRUE(absl::IsNotFound(log.status())) << log.status();
}

TEST(Log, InvalidOptionsAreRefused) {
  TempDir tmp;
  LogOptions o = SmallOptions();
  o.segment_size = 12345;
  EXPECT_TRUE(absl::IsInvalidArgument(Log::Open(tmp.path(), o).status()));
  o = SmallOptions();
  o.sync = SyncMode::kInterval;
  o.sync_interval = absl::ZeroDuration();
  EXPECT_TRUE(absl::IsInvalidArgument(Log::Open(tmp.path(), o).status()));
}

TEST(Log, SecondWriterInSameProcessIsRefusedUntilClose) {
  TempDir tmp;
  auto log = MustOpen(tmp.path(), SmallOptions());
  absl::StatusOr<std::unique_ptr<Log>> second = Log::Open(tmp.path(), SmallOptions());
  EXPECT_TRUE(absl::IsUnavailable(second.status())) << second.status();
  log.reset();
  EXPECT_TRUE(Log::Open(tmp.path(), SmallOptions()).ok());
}

TEST(Log, PrefaultAndPrecreateDoNotChangeContent) {
  TempDir tmp;
  LogOptions o = SmallOptions();
  o.prefault_window = 256 * 1024;
  o.precreate_next_segment = true;
  o.sync = SyncMode::kInterval;
  o.sync_interval = absl::Milliseconds(5);
  auto log = MustOpen(tmp.path(), o);
  for (uint64_t i = 1; i <= 5000; ++i) {
    ASSERT_TRUE(log->Append({"p", "", PayloadFor(i, i % 1500), 0}).ok());
  }
  EXPECT_EQ(ReadAllChecked(tmp.path(), 1, 1500), 5000u);
  ASSERT_TRUE(log->Close().ok());
  // The preallocated spare segment is removed on close.
  for (const auto& n : testing::ListDir(tmp.path())) EXPECT_EQ(n.find(".tmp"), std::string::npos) << n;
}

}  // namespace
}  // namespace shortbus::engine

namespace shortbus::engine {
namespace {

TEST(Log, CloseReleasesTheLockAndRefusesFurtherAppends) {
  testing::TempDir tmp;
  auto log = *Log::Open(tmp.path(), testing::SmallOptions());
  ASSERT_TRUE(log->Append({"c", "", "x", 0}).ok());
  ASSERT_TRUE(log->Close().ok());
  ASSERT_TRUE(log->Close().ok());  // idempotent
  absl::StatusOr<uint64_t> s = log->Append({"c", "", "y", 0});
  EXPECT_TRUE(absl::IsFailedPrecondition(s.status())) << s.status();
  EXPECT_THAT(std::string(s.status().message()), ::testing::HasSubstr("is closed"));
  // The lock is gone with Close, before the object is destroyed.
  auto second = Log::Open(tmp.path(), testing::SmallOptions());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ((*second)->last_seq(), 1u);
}

}  // namespace
}  // namespace shortbus::engine

namespace shortbus::engine {
namespace {

// Regression: a roll while the background thread was still creating the
// next segment file created the same name, and the background thread then
// kept an unlinked file as "prepared": every later roll failed (NotFound).
TEST(Log, RollsWhileTheNextSegmentIsBeingPreparedNeverWedge) {
  for (int round = 0; round < 6; ++round) {
    testing::TempDir tmp;
    LogOptions o = testing::SmallOptions();
    o.precreate_next_segment = true;
    o.prefault_window = 512 * 1024;
    o.sync = SyncMode::kAlways;
    auto log = *Log::Open(tmp.path(), o);
    const std::string payload(16 * 1024, 'w');
    for (int i = 0; i < 600; ++i) {  // ~10 segments
      absl::StatusOr<uint64_t> s = log->Append({"w", "", payload, 0});
      ASSERT_TRUE(s.ok()) << "round " << round << " append " << i << ": " << s.status();
    }
    ASSERT_TRUE(log->WaitDurable(log->last_seq(), absl::Seconds(60)).ok());
  }
}

}  // namespace
}  // namespace shortbus::engine

namespace shortbus::engine {
namespace {

// Regression (review finding 9): a batch with one bad message appends none.
TEST(Log, BatchWithABadMessageAppendsNothing) {
  testing::TempDir tmp;
  LogOptions o = testing::SmallOptions();
  o.retention.max_msg_size = 100;
  auto log = *Log::Open(tmp.path(), o);
  std::vector<Message> batch = {{"a", "", "ok", 0}, {"b", "", "ok", 0}, {"c", "", std::string(200, 'x'), 0}};
  absl::StatusOr<uint64_t> s = log->AppendBatch(batch);
  EXPECT_TRUE(absl::IsInvalidArgument(s.status())) << s.status();
  EXPECT_THAT(std::string(s.status().message()), ::testing::HasSubstr("message 2 of the batch"));
  EXPECT_EQ(log->last_seq(), 0u);
  batch[2] = {"", "", "x", 0};
  EXPECT_FALSE(log->AppendBatch(batch).ok());
  EXPECT_EQ(log->last_seq(), 0u);
}

TEST(Log, BatchThatDoesNotFitUnderDiscardNewAppendsNothing) {
  testing::TempDir tmp;
  LogOptions o = testing::SmallOptions();
  o.retention.max_msgs = 5;
  o.retention.discard = DiscardPolicy::kNew;
  auto log = *Log::Open(tmp.path(), o);
  std::vector<Message> three(3, Message{"a", "", "x", 0});
  ASSERT_TRUE(log->AppendBatch(three).ok());
  absl::StatusOr<uint64_t> s = log->AppendBatch(three);
  EXPECT_TRUE(absl::IsResourceExhausted(s.status())) << s.status();
  EXPECT_EQ(log->last_seq(), 3u);
}

}  // namespace
}  // namespace shortbus::engine
