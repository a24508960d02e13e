// Crash tests of the log engine: a child process appends and reports every
// acknowledged sequence to the parent over a pipe; the parent kills it with
// SIGKILL at a random moment, reopens the stream and checks that every
// acknowledged sequence is present, bit-identical and contiguous, and that
// recovery found nothing worse than a cut tail. The next cycle's child
// appends after the recovered end of the same directory, so acknowledgements
// from every cycle must survive all later crashes and recoveries.
//
// The child is this test binary, run again as
//   /proc/self/exe --gtest_filter=CrashChild.Append
// with SHORTBUS_CRASH_DIR (and the variables below) in its environment;
// without them CrashChild.Append skips.
//
// Cycles: CrashTest.SyncAlways / SyncInterval run a bounded number in the
// normal suite. CrashTest.Soak* run many (300 by default, or
// SHORTBUS_SOAK_CYCLES) when SHORTBUS_SOAK=1 (`make soak`) and skip
// otherwise. SHORTBUS_CRASH_SEED=N replays the kill schedule of a run (the
// seed is printed); what the child manages to write before each kill still
// depends on timing.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/log.h"
#include "engine/options.h"
#include "engine/reader.h"
#include "engine/record.h"
#include "tests/engine/child_process.h"
#include "tests/engine/seq_stream.h"
#include "tests/engine/test_util.h"

extern char** environ;

namespace shortbus::engine {
namespace {

using testing::Child;
using testing::DescribeWaitStatus;
using testing::Fd;
using testing::MakePipe;
using testing::MessageFor;
using testing::Mix;
using testing::OwnedMessage;
using testing::SmallOptions;
using testing::SpawnSelf;
using testing::TempDir;
using testing::VerifyStream;

// ---- what the child is told ----
constexpr char kEnvDir[] = "SHORTBUS_CRASH_DIR";
constexpr char kEnvMode[] = "SHORTBUS_CRASH_MODE";          // "always" | "interval"
constexpr char kEnvAckFd[] = "SHORTBUS_CRASH_ACK_FD";       // pipe: 8-byte sequences
constexpr char kEnvMinLast[] = "SHORTBUS_CRASH_MIN_LAST";   // last_seq the child must find
constexpr int kChildAckFd = 200;                            // where the pipe lands in the child

// Exit codes of a child that stops by itself (it should only ever be killed).
constexpr int kExitOpen = 10;        // Log::Open failed
constexpr int kExitCorruption = 11;  // recovery reported more than a cut tail
constexpr int kExitLost = 12;        // recovered log shorter than what the parent knows
constexpr int kExitAppend = 13;      // Append/AppendBatch failed or returned a wrong sequence
constexpr int kExitDurable = 14;     // WaitDurable failed
constexpr int kExitAckWrite = 15;    // the pipe to the parent broke
constexpr int kExitBound = 16;       // ran out of time or messages without being killed
constexpr int kExitUsage = 17;       // bad environment

// Bounds of one child's life: the parent kills it long before either.
constexpr absl::Duration kChildMaxRun = absl::Seconds(60);
constexpr uint64_t kChildMaxMessages = 2'000'000;
// How long the parent waits for the acknowledgements it decided to wait for.
constexpr absl::Duration kAckWait = absl::Seconds(30);

// Messages appended starting at `seq` in one call: a quarter are batches.
size_t BatchFor(uint64_t seq) {
  const uint64_t h = Mix(seq ^ 0x5eed);
  return h % 4 == 0 ? 2 + (h >> 8) % 15 : 1;
}

// ---- the child ----

[[noreturn]] void ChildDie(int code, const std::string& why) {
  std::fprintf(stderr, "crash child %d: %s\n", static_cast<int>(::getpid()), why.c_str());
  std::fflush(stderr);
  ::_exit(code);
}

void WriteAck(int fd, uint64_t seq) {
  char buf[8];
  std::memcpy(buf, &seq, 8);
  // 8 bytes <= PIPE_BUF: written whole or not at all.
  ssize_t n;
  do {
    n = ::write(fd, buf, 8);
  } while (n < 0 && errno == EINTR);
  if (n != 8) ChildDie(kExitAckWrite, "write ack: " + std::string(std::strerror(errno)));
}

[[noreturn]] void RunAppendChild(const std::string& dir, SyncMode mode, int ack_fd,
                                 uint64_t min_last) {
  std::vector<CorruptionReport> reports;
  LogOptions o = SmallOptions(&reports);
  o.sync = mode;
  o.sync_interval = absl::Milliseconds(2);
  o.prefault_window = uint64_t{256} << 10;  // exercise the background toucher too
  absl::StatusOr<std::unique_ptr<Log>> opened = Log::Open(dir, o);
  if (!opened.ok()) ChildDie(kExitOpen, std::string(opened.status().ToString()));
  Log& log = **opened;
  for (const CorruptionReport& r : reports) {
    if (!r.tail) ChildDie(kExitCorruption, r.file + " @" + std::to_string(r.offset) + ": " + r.reason);
  }
  if (log.last_seq() < min_last) {
    ChildDie(kExitLost, "recovered last_seq " + std::to_string(log.last_seq()) + " < " +
                            std::to_string(min_last));
  }

  uint64_t seq = log.last_seq() + 1;
  uint64_t last_acked = log.durable_seq();
  const uint64_t stop_seq = seq + kChildMaxMessages;
  const absl::Time deadline = absl::Now() + kChildMaxRun;
  std::vector<OwnedMessage> owned;
  std::vector<Message> msgs;
  uint64_t round = 0;
  while (seq < stop_seq && absl::Now() < deadline) {
    const size_t n = BatchFor(seq);
    owned.clear();
    msgs.clear();
    for (size_t i = 0; i < n; ++i) owned.push_back(MessageFor(seq + i));
    for (const OwnedMessage& m : owned) msgs.push_back(Message{m.subject, m.headers, m.payload, 0});
    absl::StatusOr<uint64_t> first = n == 1 ? log.Append(msgs[0]) : log.AppendBatch(msgs);
    if (!first.ok()) ChildDie(kExitAppend, std::string(first.status().ToString()));
    if (*first != seq) {
      ChildDie(kExitAppend, "append returned " + std::to_string(*first) + ", expected " +
                                std::to_string(seq));
    }
    const uint64_t last = seq + n - 1;
    seq += n;
    ++round;
    if (mode == SyncMode::kAlways) {
      // A publish acknowledged under sync=always: the ack follows WaitDurable.
      if (absl::Status s = log.WaitDurable(last, absl::Seconds(20)); !s.ok()) {
        ChildDie(kExitDurable, std::string(s.ToString()));
      }
      WriteAck(ack_fd, last);
      last_acked = last;
    } else {
      // Under sync=interval the ack is whatever durable_seq says, whether a
      // WaitDurable (every 4th round) or the 2 ms ticker made it durable.
      if (round % 4 == 0) {
        if (absl::Status s = log.WaitDurable(last, absl::Seconds(20)); !s.ok()) {
          ChildDie(kExitDurable, std::string(s.ToString()));
        }
      }
      const uint64_t durable = log.durable_seq();
      if (durable > last_acked) {
        WriteAck(ack_fd, durable);
        last_acked = durable;
      }
    }
  }
  ChildDie(kExitBound, "not killed within the child's bounds");
}

// Runs only as the child of a CrashTest (see the file comment).
TEST(CrashChild, Append) {
  const char* dir = std::getenv(kEnvDir);
  if (dir == nullptr) GTEST_SKIP() << "runs only as the child process of CrashTest.*";
  const char* mode = std::getenv(kEnvMode);
  const char* fd = std::getenv(kEnvAckFd);
  const char* min_last = std::getenv(kEnvMinLast);
  if (mode == nullptr || fd == nullptr || min_last == nullptr) ChildDie(kExitUsage, "environment");
  SyncMode m;
  if (std::strcmp(mode, "always") == 0) {
    m = SyncMode::kAlways;
  } else if (std::strcmp(mode, "interval") == 0) {
    m = SyncMode::kInterval;
  } else {
    ChildDie(kExitUsage, std::string("mode ") + mode);
  }
  RunAppendChild(dir, m, std::atoi(fd), std::strtoull(min_last, nullptr, 10));
}

// ---- the parent ----

// Reads 8-byte acknowledgements from `fd` into `acks`, until `want` of
// them arrived in this call, the deadline passed, or end of file (the writer
// is gone). Returns false only at end of file.
bool ReadAcks(int fd, size_t want, absl::Time deadline, std::vector<uint64_t>* acks,
              std::string* partial) {
  size_t got = 0;
  while (got < want) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return true;
    pollfd p{fd, POLLIN, 0};
    const int timeout_ms = static_cast<int>(std::max<int64_t>(1, absl::ToInt64Milliseconds(left)));
    const int pr = ::poll(&p, 1, timeout_ms);
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    partial->append(buf, static_cast<size_t>(n));
    size_t i = 0;
    for (; i + 8 <= partial->size(); i += 8) {
      uint64_t v;
      std::memcpy(&v, partial->data() + i, 8);
      acks->push_back(v);
      ++got;
    }
    partial->erase(0, i);
  }
  return true;
}

struct CrashTotals {
  int cycles = 0;
  int early_kills = 0;         // killed before waiting for any ack
  uint64_t acks = 0;           // acknowledgements received
  uint64_t acknowledged = 0;   // sequences acknowledged (summed over directories)
  uint64_t found = 0;          // sequences found at the last check (summed likewise)
  uint64_t lost = 0;           // acknowledged sequences not found
  uint64_t tail_reports = 0;   // cut tails recovery reported
};

uint64_t SeedFromEnv() {
  if (const char* s = std::getenv("SHORTBUS_CRASH_SEED"); s != nullptr) {
    return std::strtoull(s, nullptr, 10);
  }
  return std::random_device{}() ^ (uint64_t{std::random_device{}()} << 32);
}

// Runs `cycles` spawn/ack/SIGKILL/recover/verify cycles. The directory is
// kept across cycles, except that a fresh one is started after every
// `fresh_dir_every` cycles (0 = never) to bound disk use and verify time.
void RunCrashCycles(SyncMode mode, int cycles, int fresh_dir_every, CrashTotals* t) {
  const uint64_t seed = SeedFromEnv();
  std::mt19937_64 rng(seed);
  const char* mode_name = mode == SyncMode::kAlways ? "always" : "interval";
  std::printf("crash mode=%s seed=%llu (SHORTBUS_CRASH_SEED to replay)\n", mode_name,
              static_cast<unsigned long long>(seed));
  ::testing::Test::RecordProperty("seed", std::to_string(seed));

  auto dir_holder = std::make_unique<TempDir>();
  std::string dir = dir_holder->Sub("stream");
  uint64_t acked_max = 0;  // highest acknowledged sequence in this directory
  uint64_t must_have = 0;  // everything up to here must be found at every later check
  std::vector<uint64_t> hashes;  // VerifyStream's cache for this directory

  for (int cycle = 0; cycle < cycles; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle) + " seed " + std::to_string(seed));
    Fd read_end, write_end;
    ASSERT_TRUE(MakePipe(&read_end, &write_end)) << std::strerror(errno);
    const pid_t pid = SpawnSelf(
        "CrashChild.Append",
        {std::string(kEnvDir) + "=" + dir, std::string(kEnvMode) + "=" + mode_name,
         std::string(kEnvAckFd) + "=" + std::to_string(kChildAckFd),
         std::string(kEnvMinLast) + "=" + std::to_string(must_have)},
        {{write_end.get(), kChildAckFd}});
    ASSERT_GT(pid, 0) << "fork: " << std::strerror(errno);
    auto child = std::make_unique<Child>(pid);
    write_end.Reset();  // end of file once the child is gone

    // When to kill: after K + extra acknowledgements; one cycle in eight
    // after a random 0-30 ms instead, often while the child is still
    // opening (and recovering) the stream.
    std::vector<uint64_t> acks;
    std::string partial;
    bool child_alive = true;
    const bool early = rng() % 8 == 0;
    if (early) {
      ++t->early_kills;
      const absl::Duration wait = absl::Microseconds(static_cast<int64_t>(rng() % 30'000));
      child_alive = ReadAcks(read_end.get(), SIZE_MAX, absl::Now() + wait, &acks, &partial);
    } else {
      const size_t want = 1 + rng() % 60 + rng() % 40;
      child_alive = ReadAcks(read_end.get(), want, absl::Now() + kAckWait, &acks, &partial);
      ASSERT_TRUE(!child_alive || acks.size() >= want)
          << "only " << acks.size() << " of " << want << " acknowledgements in " << kAckWait;
      if (rng() % 2 == 0) {  // and sometimes a little later still
        const timespec ts{0, static_cast<long>(rng() % 2'000'000)};
        ::nanosleep(&ts, nullptr);
      }
    }
    const int status = child->KillAndWait();
    ASSERT_TRUE(child_alive && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the child stopped by itself: " << DescribeWaitStatus(status)
        << " (see its message on stderr)";
    // What reached the pipe before the kill was acknowledged too.
    (void)ReadAcks(read_end.get(), SIZE_MAX, absl::Now() + absl::Seconds(5), &acks, &partial);
    ASSERT_TRUE(partial.empty()) << "torn acknowledgement";

    uint64_t prev = must_have;
    for (uint64_t a : acks) {
      // New sequences only: never one the recovered log already held.
      ASSERT_GT(a, prev) << "acknowledgements must increase past the recovered end";
      prev = a;
    }
    t->acks += acks.size();
    if (!acks.empty()) acked_max = acks.back();

    // 1. Before any recovery, a reader sees every acknowledged sequence:
    //    frames up to the committed end are whole even after a SIGKILL.
    uint64_t seen_last = 0;
    ASSERT_NO_FATAL_FAILURE(VerifyStream(dir, acked_max == 0 && must_have == 0, &hashes, &seen_last));
    ASSERT_GE(seen_last, acked_max) << "acknowledged sequences missing before recovery";
    ASSERT_GE(seen_last, must_have);

    // 2. Recovery in this process, except one cycle in three where the next
    //    child recovers the crashed directory itself (and checks its
    //    reports) — always on the last cycle of a directory.
    const bool last_of_dir =
        cycle + 1 == cycles || (fresh_dir_every > 0 && (cycle + 1) % fresh_dir_every == 0);
    if (cycle % 3 != 2 || last_of_dir) {
      std::vector<CorruptionReport> reports;
      absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(dir, SmallOptions(&reports));
      ASSERT_TRUE(log.ok()) << log.status();
      for (const CorruptionReport& r : reports) {
        EXPECT_TRUE(r.tail) << "recovery reported corruption, not a cut tail: " << r.file << " @"
                            << r.offset << " (" << r.bytes << " bytes): " << r.reason;
      }
      t->tail_reports += reports.size();
      EXPECT_EQ((*log)->recovery().corruptions, 0u);
      EXPECT_EQ((*log)->first_seq(), 1u);
      const uint64_t last = (*log)->last_seq();
      ASSERT_GE(last, acked_max) << "acknowledged sequences lost";
      ASSERT_GE(last, seen_last) << "committed sequences lost by recovery";
      uint64_t read_last = 0;
      ASSERT_NO_FATAL_FAILURE(VerifyStream(dir, false, &hashes, &read_last));
      ASSERT_EQ(read_last, last);
      ASSERT_TRUE((*log)->Close().ok());
      must_have = last;
    } else {
      must_have = seen_last;  // committed frames survive a SIGKILL
    }

    ++t->cycles;
    if (last_of_dir) {
      t->acknowledged += acked_max;
      t->found += must_have;
      t->lost += acked_max > must_have ? acked_max - must_have : 0;
      if (cycle + 1 < cycles) {
        dir_holder = std::make_unique<TempDir>();
        dir = dir_holder->Sub("stream");
        acked_max = 0;
        must_have = 0;
        hashes.clear();
      }
    }
  }
}

void PrintSummary(const char* name, const CrashTotals& t) {
  std::printf("%s: cycles=%d acknowledged=%llu found=%llu lost=%llu (acks=%llu early_kills=%d "
              "tail_reports=%llu)\n",
              name, t.cycles, static_cast<unsigned long long>(t.acknowledged),
              static_cast<unsigned long long>(t.found), static_cast<unsigned long long>(t.lost),
              static_cast<unsigned long long>(t.acks), t.early_kills,
              static_cast<unsigned long long>(t.tail_reports));
  std::fflush(stdout);
}

// Cycles in the normal suite: enough to cross many segment rolls and cut
// many tails, few enough for the whole file to take seconds.
constexpr int kShortCycles = 24;

TEST(CrashTest, SyncAlways) {
  CrashTotals t;
  ASSERT_NO_FATAL_FAILURE(RunCrashCycles(SyncMode::kAlways, kShortCycles, 0, &t));
  PrintSummary("SyncAlways", t);
  EXPECT_EQ(t.lost, 0u);
  EXPECT_GT(t.acks, 0u);
}

TEST(CrashTest, SyncInterval) {
  CrashTotals t;
  ASSERT_NO_FATAL_FAILURE(RunCrashCycles(SyncMode::kInterval, kShortCycles, 0, &t));
  PrintSummary("SyncInterval", t);
  EXPECT_EQ(t.lost, 0u);
  EXPECT_GT(t.acks, 0u);
}

// ---- make soak ----

int SoakCycles() {
  if (const char* s = std::getenv("SHORTBUS_SOAK_CYCLES"); s != nullptr) return std::atoi(s);
  return 300;
}

bool SoakEnabled() {
  const char* s = std::getenv("SHORTBUS_SOAK");
  return s != nullptr && std::strcmp(s, "0") != 0 && *s != '\0';
}

// A fresh directory every 25 cycles keeps disk use and the per-cycle full
// read bounded over hundreds of cycles.
constexpr int kSoakCyclesPerDir = 25;

TEST(CrashTest, SoakSyncAlways) {
  if (!SoakEnabled()) GTEST_SKIP() << "long run: SHORTBUS_SOAK=1 (make soak)";
  CrashTotals t;
  ASSERT_NO_FATAL_FAILURE(RunCrashCycles(SyncMode::kAlways, SoakCycles(), kSoakCyclesPerDir, &t));
  PrintSummary("SoakSyncAlways", t);
  EXPECT_EQ(t.lost, 0u);
}

TEST(CrashTest, SoakSyncInterval) {
  if (!SoakEnabled()) GTEST_SKIP() << "long run: SHORTBUS_SOAK=1 (make soak)";
  CrashTotals t;
  ASSERT_NO_FATAL_FAILURE(
      RunCrashCycles(SyncMode::kInterval, SoakCycles(), kSoakCyclesPerDir, &t));
  PrintSummary("SoakSyncInterval", t);
  EXPECT_EQ(t.lost, 0u);
}

}  // namespace
}  // namespace shortbus::engine
