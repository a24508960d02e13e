// Power loss at the engine's file layer (power_loss_fs.h): a writer thread
// appends while every fdatasync records the durable image of its file; the
// power is cut at a random moment; the files are rewritten to a random
// image the cut could leave (dirty pages lost, written or torn, in any
// order; uncommitted names and sizes kept up to a random point); the stream
// is reopened, checked, and the next cycle appends to it, so what was
// durable in any cycle must survive every later cut and recovery.
//
// Checked after every cut:
//   - everything the log reported durable before the cut (durable_seq(),
//     what the server acknowledges under sync=always, and what the interval
//     syncs made durable under sync=interval) is there after recovery;
//   - the log is a valid prefix: sequences contiguous from 1, every message
//     bit-identical to what was appended (seq_stream.h), never garbage;
//   - recovery reports cut tails only, never corruption;
//   - what recovery kept is durable at once: the next cycle finds it all.
// Bit flips in data recorded durable are not a power loss: they are
// reported by every read (BitFlipInDurableDataIsNeverServed) and by
// `shortbus verify` (tests/tools/shortbus_cli_test.cc).
//
// PowerLoss.Soak* run SHORTBUS_SOAK_CYCLES (default 300) cycles each when
// SHORTBUS_SOAK=1 (`make soak`). SHORTBUS_POWER_SEED=N replays the cut
// schedule and the image choices of a run (the seed is printed); what the
// writer manages before each cut still depends on timing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "engine/frame.h"
#include "engine/log.h"
#include "engine/reader.h"
#include "engine/segment_header.h"
#include "tests/engine/child_process.h"
#include "tests/engine/power_loss_fs.h"
#include "tests/engine/seq_stream.h"
#include "tests/engine/test_util.h"

namespace shortbus::engine {
namespace {

using testing::MessageFor;
using testing::Mix;
using testing::OwnedMessage;
using testing::PowerLossFileSystem;
using testing::PowerLossStats;
using testing::SmallOptions;
using testing::TempDir;
using testing::VerifyStream;
using Clock = std::chrono::steady_clock;

// Messages one cycle appends at most: bounds disk use and the full read.
constexpr uint64_t kMaxPerCycle = 2000;
// A fresh directory after this many cycles bounds disk use and read time.
constexpr int kCyclesPerDir = 8;
constexpr absl::Duration kInterval = absl::Milliseconds(5);

struct PowerTotals {
  int cycles = 0;
  uint64_t durable_at_cut = 0;  // sequences reported durable before the cuts (new ones, summed)
  uint64_t appended = 0;        // sequences appended before the cuts (new ones, summed)
  uint64_t recovered = 0;       // of those, found after recovery
  uint64_t lost_durable = 0;    // reported durable, not found: must stay 0
  uint64_t tail_reports = 0;
  double max_loss_ms = 0;       // oldest lost append, before its cut
  PowerLossStats image;         // summed over the cuts
};

uint64_t Seed() {
  if (const char* s = std::getenv("SHORTBUS_POWER_SEED"); s != nullptr) return std::strtoull(s, nullptr, 10);
  return std::random_device{}() ^ (uint64_t{std::random_device{}()} << 32);
}

void Add(PowerLossStats* sum, const PowerLossStats& s) {
  sum->dirty_pages += s.dirty_pages;
  sum->pages_lost += s.pages_lost;
  sum->pages_written += s.pages_written;
  sum->pages_torn += s.pages_torn;
  sum->metadata_ops += s.metadata_ops;
  sum->metadata_kept += s.metadata_kept;
}

// Opens `dir` on a fresh model, checks recovery and contents, returns the
// recovered last sequence in *last.
void OpenAndCheck(const std::string& dir, SyncMode mode, PowerLossFileSystem* fs,
                  std::vector<CorruptionReport>* reports, std::unique_ptr<Log>* log, std::vector<uint64_t>* hashes,
                  uint64_t* last) {
  LogOptions o = SmallOptions(reports);
  o.fs = fs;
  o.sync = mode;
  o.sync_interval = kInterval;
  o.prefault_window = uint64_t{256} << 10;
  absl::StatusOr<std::unique_ptr<Log>> opened = Log::Open(dir, o);
  ASSERT_TRUE(opened.ok()) << opened.status();
  *log = std::move(*opened);
  for (const CorruptionReport& r : *reports) {
    EXPECT_TRUE(r.tail) << "recovery reported corruption after a power cut: " << r.file << " @" << r.offset
                        << " (" << r.bytes << " bytes): " << r.reason;
  }
  EXPECT_EQ((*log)->recovery().corruptions, 0u);
  if ((*log)->recovery().corruptions != 0) {
    for (const std::string& n : testing::ListDir(dir)) std::fprintf(stderr, "  %s\n", n.c_str());
  }
  EXPECT_EQ((*log)->first_seq(), 1u);
  uint64_t read_last = 0;
  ASSERT_NO_FATAL_FAILURE(VerifyStream(dir, false, hashes, &read_last));
  ASSERT_EQ(read_last, (*log)->last_seq()) << "the reader and the writer disagree on the end";
  *last = read_last;
}

// Appends from `seq` until `stop` (or kMaxPerCycle), a quarter in batches;
// under sync=always one round in three waits for its sync, as a publisher
// waiting for its acknowledgement. Records when each sequence was appended.
void AppendUntilStopped(Log* log, SyncMode mode, uint64_t seq, const std::atomic<bool>* stop,
                        std::vector<Clock::time_point>* appended_at) {
  const uint64_t end = seq + kMaxPerCycle;
  std::vector<OwnedMessage> owned;
  std::vector<Message> msgs;
  while (!stop->load() && seq < end) {
    const uint64_t h = Mix(seq ^ 0xb0b);
    const size_t n = h % 4 == 0 ? 2 + (h >> 8) % 15 : 1;
    owned.clear();
    msgs.clear();
    for (size_t i = 0; i < n; ++i) owned.push_back(MessageFor(seq + i));
    for (const OwnedMessage& m : owned) msgs.push_back(m.view());
    absl::StatusOr<uint64_t> first = n == 1 ? log->Append(msgs[0]) : log->AppendBatch(msgs);
    if (!first.ok()) return;  // the power went: syncs fail, the log fails
    const auto now = Clock::now();
    for (size_t i = 0; i < n; ++i) appended_at->push_back(now);
    seq += n;
    if (mode == SyncMode::kAlways && (h >> 16) % 3 == 0) {
      if (!log->WaitDurable(seq - 1, absl::Seconds(10)).ok()) return;
    }
  }
  while (!stop->load()) std::this_thread::sleep_for(std::chrono::microseconds(100));
}

void RunPowerLossCycles(SyncMode mode, int cycles, PowerTotals* t) {
  const uint64_t seed = Seed();
  std::mt19937_64 rng(seed);
  std::printf("power loss mode=%s seed=%llu (SHORTBUS_POWER_SEED to replay)\n",
              std::string(SyncModeName(mode)).c_str(), static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  auto tmp = std::make_unique<TempDir>();
  std::string dir = tmp->Sub("stream");
  std::vector<uint64_t> hashes;
  uint64_t durable_before = 0;  // durable_seq() just before the last cut
  uint64_t appended_before = 0;
  std::vector<Clock::time_point> appended_at;  // of sequences (recovered last + 1) ...
  Clock::time_point cut_at;
  uint64_t base = 1;  // appended_at[0] is sequence `base`
  for (int cycle = 0; cycle <= cycles; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle) + " seed " + std::to_string(seed));
    auto fs = std::make_unique<PowerLossFileSystem>();
    std::vector<CorruptionReport> reports;
    std::unique_ptr<Log> log;
    uint64_t last = 0;
    ASSERT_NO_FATAL_FAILURE(OpenAndCheck(dir, mode, fs.get(), &reports, &log, &hashes, &last));
    t->tail_reports += reports.size();
    if (cycle > 0) {
      // The cut of the previous cycle: nothing durable lost.
      if (last < durable_before) {
        t->lost_durable += durable_before - last;
        ADD_FAILURE() << "sequences " << last + 1 << ".." << durable_before
                      << " were reported durable before the cut and are gone";
      }
      t->recovered += std::min(last, appended_before) - std::min(base - 1, appended_before);
      if (last < appended_before && last + 1 >= base && last + 1 - base < appended_at.size()) {
        const double ms = std::chrono::duration<double, std::milli>(cut_at - appended_at[last + 1 - base]).count();
        t->max_loss_ms = std::max(t->max_loss_ms, ms);
      }
      ++t->cycles;
    }
    if (cycle == cycles || (cycle > 0 && cycle % kCyclesPerDir == 0)) {
      ASSERT_TRUE(log->Close().ok());
      if (cycle == cycles) break;
      log.reset();
      fs = std::make_unique<PowerLossFileSystem>();
      tmp = std::make_unique<TempDir>();
      dir = tmp->Sub("stream");
      hashes.clear();
      reports.clear();
      ASSERT_NO_FATAL_FAILURE(OpenAndCheck(dir, mode, fs.get(), &reports, &log, &hashes, &last));
    }

    std::atomic<bool> stop{false};
    appended_at.clear();
    base = last + 1;
    std::thread writer(AppendUntilStopped, log.get(), mode, base, &stop, &appended_at);
    // The cut: usually while appends and syncs are under way, sometimes
    // right after the open (its recovery syncs) or after a long run.
    const uint64_t pick = rng() % 10;
    const auto wait = pick == 0 ? std::chrono::microseconds(rng() % 500)
                                : std::chrono::microseconds(200 + rng() % (pick < 8 ? 20'000 : 120'000));
    std::this_thread::sleep_for(wait);
    durable_before = log->durable_seq();
    appended_before = log->last_seq();  // at least; the writer may add one more batch
    cut_at = Clock::now();
    fs->CutPower();
    stop = true;
    writer.join();
    appended_before = std::max(appended_before, log->last_seq());
    t->durable_at_cut += durable_before - std::min(durable_before, base - 1);
    t->appended += appended_before - (base - 1);
    (void)log->Close();  // fails: the disk is gone
    log.reset();
    Add(&t->image, fs->LoseUnsynced(rng));
  }
}

void PrintSummary(const char* name, const PowerTotals& t) {
  std::printf(
      "%s: cycles=%d durable_at_cut=%llu lost_durable=%llu appended=%llu recovered=%llu max_loss_ms=%.1f "
      "tail_reports=%llu dirty_pages=%llu lost=%llu written=%llu torn=%llu metadata_ops=%llu kept=%llu\n",
      name, t.cycles, static_cast<unsigned long long>(t.durable_at_cut),
      static_cast<unsigned long long>(t.lost_durable), static_cast<unsigned long long>(t.appended),
      static_cast<unsigned long long>(t.recovered), t.max_loss_ms, static_cast<unsigned long long>(t.tail_reports),
      static_cast<unsigned long long>(t.image.dirty_pages), static_cast<unsigned long long>(t.image.pages_lost),
      static_cast<unsigned long long>(t.image.pages_written), static_cast<unsigned long long>(t.image.pages_torn),
      static_cast<unsigned long long>(t.image.metadata_ops), static_cast<unsigned long long>(t.image.metadata_kept));
  std::fflush(stdout);
}

constexpr int kShortCycles = 40;

bool SoakEnabled() {
  const char* s = std::getenv("SHORTBUS_SOAK");
  return s != nullptr && *s != '\0' && std::strcmp(s, "0") != 0;
}

int SoakCycles() {
  const char* s = std::getenv("SHORTBUS_SOAK_CYCLES");
  return s != nullptr ? std::atoi(s) : 300;
}

// Runs the cycles, prints the summary line `name: cycles=...` and checks
// that nothing durable was lost and that the images did tear pages.
void RunAndCheck(const char* name, SyncMode mode, int cycles) {
  PowerTotals t;
  ASSERT_NO_FATAL_FAILURE(RunPowerLossCycles(mode, cycles, &t));
  PrintSummary(name, t);
  EXPECT_EQ(t.lost_durable, 0u);
  EXPECT_GT(t.durable_at_cut, 0u);
  EXPECT_GT(t.image.pages_torn, 0u);
}

TEST(PowerLoss, SyncAlwaysLosesNothingAcknowledged) {
  RunAndCheck("PowerLoss.SyncAlways", SyncMode::kAlways, kShortCycles);
}

TEST(PowerLoss, SyncIntervalKeepsAValidPrefixAndEverySyncedMessage) {
  RunAndCheck("PowerLoss.SyncInterval", SyncMode::kInterval, kShortCycles);
}

// A bit flipped inside data recorded durable (decay, not a power cut):
// every read reports it and skips the frame, never serving its bytes.
TEST(PowerLoss, BitFlipInDurableDataIsNeverServed) {
  TempDir tmp;
  const std::string dir = tmp.Sub("stream");
  {
    auto log = *Log::Open(dir, SmallOptions());
    for (uint64_t seq = 1; seq <= 2000; ++seq) ASSERT_TRUE(log->Append(MessageFor(seq).view()).ok());
    ASSERT_TRUE(log->Close().ok());
  }
  const std::vector<uint64_t> bases = testing::SegmentBases(dir);
  ASSERT_GE(bases.size(), 2u) << "needs a sealed segment and the active one";
  std::mt19937_64 rng(Seed());
  for (uint64_t base : {bases[0], bases.back()}) {
    SCOPED_TRACE("segment " + std::to_string(base));
    const std::string path = dir + "/" + SegmentFileName(base);
    const std::string bytes = testing::ReadFile(path);
    // The frame to damage: a random one of the segment, not its first.
    std::vector<uint64_t> offs;
    for (uint64_t off = kSegmentDataOffset; off + kFrameHeaderSize <= bytes.size();) {
      FrameView f;
      if (DecodeFrame(bytes.data() + off, bytes.size() - off, &f) != FrameStatus::kOk) break;
      offs.push_back(off);
      off += f.padded_len();
    }
    ASSERT_GE(offs.size(), 3u);
    const size_t k = 1 + rng() % (offs.size() - 2);
    FrameView victim;
    ASSERT_EQ(DecodeFrame(bytes.data() + offs[k], bytes.size() - offs[k], &victim), FrameStatus::kOk);
    const uint64_t bad_seq = victim.sequence;
    const uint64_t at = offs[k] + kFrameHeaderSize + rng() % (victim.frame_len - kFrameHeaderSize);
    std::string b(1, static_cast<char>(bytes[at] ^ (1 << (rng() % 8))));
    testing::WriteFileAt(path, at, b);

    auto reader = *Reader::Open(dir);
    ASSERT_TRUE(reader->SeekToSequence(bad_seq - 1).ok());
    Record rec;
    ASSERT_TRUE(reader->Next(&rec).ok());
    EXPECT_EQ(rec.sequence, bad_seq - 1);
    absl::Status s = reader->Next(&rec);
    EXPECT_TRUE(absl::IsDataLoss(s)) << s;
    EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr(std::to_string(bad_seq)));
    ASSERT_TRUE(reader->Next(&rec).ok()) << "the read goes on after the damaged frame";
    EXPECT_EQ(rec.sequence, bad_seq + 1);
    testing::WriteFileAt(path, at, std::string(1, bytes[at]));  // repaired for the next round
  }
}

// ---- make soak ----

TEST(PowerLoss, SoakSyncAlways) {
  if (!SoakEnabled()) GTEST_SKIP() << "long run: SHORTBUS_SOAK=1 (make soak)";
  RunAndCheck("PowerLoss.SoakSyncAlways", SyncMode::kAlways, SoakCycles());
}

TEST(PowerLoss, SoakSyncInterval) {
  if (!SoakEnabled()) GTEST_SKIP() << "long run: SHORTBUS_SOAK=1 (make soak)";
  RunAndCheck("PowerLoss.SoakSyncInterval", SyncMode::kInterval, SoakCycles());
}

}  // namespace
}  // namespace shortbus::engine
