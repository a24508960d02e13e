// A Reader tailing a stream while the Log appends to it: from another
// process (the design's "any number of readers, in-process or in other
// processes") and from another thread of the writer's process.
//
// The tailer (TailStream below) follows the stream with Next() and
// WaitForData(), checks that sequences run on without a gap and that every
// record is exactly what the writer appended for that sequence, and reports
// its progress over a pipe: the same code runs in a thread or, as
// CrossProcessChild.Tail, in a child process started as
//   /proc/self/exe --gtest_filter=CrossProcessChild.Tail
// with SHORTBUS_XP_DIR (and the variables below) in its environment; without
// them that test skips.
//
// With retention (max_msgs, discard=old) the writer expires and deletes
// segments while the tailer is behind: the tailer may then skip sequences,
// but only expired ones (below the stream's first_seq), must never get
// DataLoss and must never see wrong data.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/log.h"
#include "engine/options.h"
#include "engine/reader.h"
#include "engine/record.h"
#include "engine/segment_header.h"
#include "tests/engine/child_process.h"
#include "tests/engine/test_util.h"

extern char** environ;

namespace shortbus::engine {
namespace {

using testing::Child;
using testing::Fd;
using testing::ListDir;
using testing::MakePipe;
using testing::Mix;
using testing::PayloadFor;
using testing::SmallOptions;
using testing::SpawnSelf;
using testing::TempDir;

// ---- what the child is told ----
constexpr char kEnvDir[] = "SHORTBUS_XP_DIR";
constexpr char kEnvTotal[] = "SHORTBUS_XP_TOTAL";              // read up to this sequence
constexpr char kEnvPauseAfter[] = "SHORTBUS_XP_PAUSE_AFTER";   // records; 0 = no pause
constexpr char kEnvAllowSkip[] = "SHORTBUS_XP_ALLOW_SKIP";     // "1": retention may expire
constexpr char kEnvReportFd[] = "SHORTBUS_XP_REPORT_FD";
constexpr char kEnvGoFd[] = "SHORTBUS_XP_GO_FD";
constexpr int kChildReportFd = 201;
constexpr int kChildGoFd = 202;

// Bounds: the tailer gives up after this long; the parent waits no longer
// than this for any one step.
constexpr absl::Duration kTailMaxRun = absl::Seconds(120);
constexpr absl::Duration kStepWait = absl::Seconds(60);

// ---- message contents, all derived from the sequence ----

// One in 25,000 is large (300-600 KiB, over half a 1 MiB segment); a third
// are 256-1055 bytes of a repeated pattern (LZ4 compresses them); the rest
// 8-199 bytes of noise.
std::string PayloadOf(uint64_t seq) {
  const uint64_t h = Mix(seq);
  if (seq % 25'000 == 777) return PayloadFor(seq, 300'000 + (h >> 8) % 300'000);
  if (h % 3 == 0) {
    const std::string unit = PayloadFor(seq, 24);
    const size_t len = 256 + (h >> 8) % 800;
    std::string s;
    s.reserve(len + unit.size());
    while (s.size() < len) s += unit;
    s.resize(len);
    return s;
  }
  return PayloadFor(seq, 8 + (h >> 8) % 192);
}

std::string SubjectOf(uint64_t seq) { return "xp.orders." + std::to_string(seq % 13); }

std::string HeadersOf(uint64_t seq) {
  if (seq % 11 != 0) return "";
  return "NATS/1.0\r\nNats-Msg-Id: " + std::to_string(seq) + "\r\n\r\n";
}

// Messages the writer appends in one call starting at `seq`.
size_t BatchOf(uint64_t seq) {
  const uint64_t h = Mix(seq ^ 0xba7c4);
  return h % 5 == 0 ? 2 + (h >> 8) % 30 : 1;
}

// ---- progress reports, tailer -> test ----

enum ReportKind : uint64_t { kProgress = 1, kDone = 2, kError = 3 };

// 40 bytes: below PIPE_BUF, so each is written whole.
struct TailReport {
  uint64_t kind = 0;
  uint64_t last = 0;     // last sequence verified
  uint64_t count = 0;    // records verified
  uint64_t skipped = 0;  // expired sequences skipped
  uint64_t waits = 0;    // times the tailer found nothing more committed
};

// The pipe is non-blocking, so a test that stops reading never wedges the
// tailer: a progress report that finds it full is dropped (false) and the
// tailer reports again later; a final report (`must`) waits for room, up to
// `deadline`.
bool WriteReport(int fd, const TailReport& r, bool must, absl::Time deadline) {
  while (true) {
    const ssize_t n = ::write(fd, &r, sizeof r);
    if (n == static_cast<ssize_t>(sizeof r)) return true;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && must && absl::Now() < deadline) {
      pollfd p{fd, POLLOUT, 0};
      (void)::poll(&p, 1, 100);
      continue;
    }
    return false;
  }
}

// ---- the tailer ----

struct TailConfig {
  std::string dir;
  uint64_t total = 0;        // stop once this sequence is verified (or skipped)
  uint64_t pause_after = 0;  // after this many records, wait for a byte on go_fd
  bool allow_skip = false;
  int report_fd = -1;
  int go_fd = -1;
  const std::atomic<bool>* stop = nullptr;  // thread tailers: the test gave up
};

// Follows the stream; returns 0 when it verified (or, with allow_skip,
// saw expire) every sequence up to `total`, else a non-zero code after
// printing why and sending a kError report.
int TailStream(const TailConfig& c) {
  TailReport rep;
  auto fail = [&](const std::string& why) {
    std::fprintf(stderr, "tailer (pid %d): %s\n", static_cast<int>(::getpid()), why.c_str());
    std::fflush(stderr);
    rep.kind = kError;
    (void)WriteReport(c.report_fd, rep, true, absl::Now() + absl::Seconds(10));
    return 1;
  };
  absl::StatusOr<std::unique_ptr<Reader>> opened = Reader::Open(c.dir);
  if (!opened.ok()) return fail("Reader::Open: " + opened.status().ToString());
  Reader& r = **opened;
  const absl::Time deadline = absl::Now() + kTailMaxRun;
  rep.kind = kProgress;
  // Open: the test may start appending.
  if (!WriteReport(c.report_fd, rep, true, deadline)) return fail("cannot report");
  uint64_t reported_last = 0;
  uint64_t expected = 1;
  bool paused = false;
  Record rec;
  while (rep.last < c.total) {
    if (absl::Now() > deadline) return fail("ran out of time at sequence " + std::to_string(expected));
    if (c.stop != nullptr && c.stop->load()) return fail("stopped by the test");
    if (c.pause_after != 0 && !paused && rep.count >= c.pause_after) {
      // Fall behind on purpose: stay positioned here until told to go on.
      paused = true;
      rep.kind = kProgress;
      if (!WriteReport(c.report_fd, rep, true, deadline)) return fail("cannot report");
      reported_last = rep.last;
      while (true) {
        if (absl::Now() > deadline) return fail("no go signal");
        if (c.stop != nullptr && c.stop->load()) return fail("stopped by the test");
        pollfd p{c.go_fd, POLLIN, 0};
        const int pr = ::poll(&p, 1, 100);
        if (pr > 0) {
          char b;
          if (::read(c.go_fd, &b, 1) != 1) return fail("go pipe closed");
          break;
        }
      }
    }
    absl::Status s = r.Next(&rec);
    if (IsEndOfData(s)) {
      ++rep.waits;
      rep.kind = kProgress;
      if (rep.last != reported_last && WriteReport(c.report_fd, rep, false, deadline)) {
        reported_last = rep.last;
      }
      (void)r.WaitForData(absl::Milliseconds(100));  // OK or DeadlineExceeded: look again
      continue;
    }
    if (!s.ok()) {
      return fail("Next after sequence " + std::to_string(rep.last) + ": " + s.ToString());
    }
    if (rec.sequence != expected) {
      if (!c.allow_skip || rec.sequence < expected) {
        return fail("expected sequence " + std::to_string(expected) + ", got " +
                    std::to_string(rec.sequence));
      }
      // Only expired sequences may be skipped: all below the stream's
      // first retained sequence, which never goes back.
      const uint64_t first = r.first_seq();
      if (first < rec.sequence) {
        return fail("skipped sequences " + std::to_string(expected) + ".." +
                    std::to_string(rec.sequence - 1) + " but first_seq is " + std::to_string(first));
      }
      rep.skipped += rec.sequence - expected;
    }
    if (rec.subject != SubjectOf(rec.sequence) || rec.headers != HeadersOf(rec.sequence)) {
      return fail("subject or headers of sequence " + std::to_string(rec.sequence) + " differ");
    }
    const std::string want = PayloadOf(rec.sequence);
    if (rec.payload.size() != want.size() || rec.payload != want) {
      return fail("payload of sequence " + std::to_string(rec.sequence) + " differs (" +
                  std::to_string(rec.payload.size()) + " bytes, expected " +
                  std::to_string(want.size()) + ")");
    }
    expected = rec.sequence + 1;
    rep.last = rec.sequence;
    ++rep.count;
  }
  if (rep.last != c.total) {
    return fail("read past the end: sequence " + std::to_string(rep.last));
  }
  rep.kind = kDone;
  if (!WriteReport(c.report_fd, rep, true, deadline)) return fail("cannot report");
  return 0;
}

// Runs only as the child of a CrossProcess test (see the file comment).
TEST(CrossProcessChild, Tail) {
  const char* dir = std::getenv(kEnvDir);
  if (dir == nullptr) GTEST_SKIP() << "runs only as the child process of CrossProcess.*";
  TailConfig c;
  c.dir = dir;
  auto num = [](const char* name) -> uint64_t {
    const char* v = std::getenv(name);
    return v == nullptr ? 0 : std::strtoull(v, nullptr, 10);
  };
  c.total = num(kEnvTotal);
  c.pause_after = num(kEnvPauseAfter);
  c.allow_skip = num(kEnvAllowSkip) == 1;
  c.report_fd = static_cast<int>(num(kEnvReportFd));
  c.go_fd = std::getenv(kEnvGoFd) != nullptr ? static_cast<int>(num(kEnvGoFd)) : -1;
  const int rc = TailStream(c);
  std::fflush(stdout);
  ::_exit(rc);
}

// ---- running a tailer from a test ----

// A TailStream running in a child process or in a thread of this one.
// The destructor stops it (SIGKILL and reap, or stop flag and join), so a
// failed assertion leaves nothing running.
class Tailer {
 public:
  enum class Where { kChildProcess, kThread };

  // Starts the tailer; nullptr (with the reason in *error) on failure.
  static std::unique_ptr<Tailer> Start(Where where, TailConfig c, std::string* error) {
    std::unique_ptr<Tailer> t(new Tailer);
    Fd report_w, go_r;
    if (!MakePipe(&t->report_r_, &report_w) || !MakePipe(&go_r, &t->go_w_) ||
        ::fcntl(report_w.get(), F_SETFL, O_NONBLOCK) != 0) {
      *error = std::string("pipe: ") + std::strerror(errno);
      return nullptr;
    }
    if (where == Where::kChildProcess) {
      const pid_t pid = SpawnSelf("CrossProcessChild.Tail",
                          {std::string(kEnvDir) + "=" + c.dir,
                           std::string(kEnvTotal) + "=" + std::to_string(c.total),
                           std::string(kEnvPauseAfter) + "=" + std::to_string(c.pause_after),
                           std::string(kEnvAllowSkip) + "=" + (c.allow_skip ? "1" : "0"),
                           std::string(kEnvReportFd) + "=" + std::to_string(kChildReportFd),
                           std::string(kEnvGoFd) + "=" + std::to_string(kChildGoFd)},
                          {{report_w.get(), kChildReportFd}, {go_r.get(), kChildGoFd}});
      if (pid > 0) t->child_ = std::make_unique<Child>(pid);
      if (pid < 0) {
        *error = std::string("fork: ") + std::strerror(errno);
        return nullptr;
      }
      // Our copies close here: end of file once the child is gone.
    } else {
      c.report_fd = report_w.get();
      c.go_fd = go_r.get();
      c.stop = &t->stop_;
      t->thread_report_w_ = std::move(report_w);
      t->thread_go_r_ = std::move(go_r);
      t->thread_ = std::thread([t = t.get(), c] { t->thread_rc_ = TailStream(c); });
    }
    return t;
  }

  ~Tailer() {
    child_.reset();  // SIGKILL and reap
    if (thread_.joinable()) {
      stop_ = true;
      thread_.join();
    }
  }
  Tailer(const Tailer&) = delete;
  Tailer& operator=(const Tailer&) = delete;

  // Reads reports until one satisfies `want` (true), a kError report or end
  // of file arrives, or `timeout` passes (false). latest() is the last read.
  bool WaitFor(const std::function<bool(const TailReport&)>& want, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      while (partial_.size() >= sizeof(TailReport)) {
        std::memcpy(&latest_, partial_.data(), sizeof(TailReport));
        partial_.erase(0, sizeof(TailReport));
        if (latest_.kind == kError) return false;
        if (want(latest_)) return true;
      }
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return false;
      pollfd p{report_r_.get(), POLLIN, 0};
      const int pr = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(1, absl::ToInt64Milliseconds(left))));
      if (pr < 0 && errno == EINTR) continue;
      if (pr <= 0) continue;
      char buf[4096];
      const ssize_t n = ::read(report_r_.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      partial_.append(buf, static_cast<size_t>(n));
    }
  }
  const TailReport& latest() const { return latest_; }

  // Lets a tailer paused by pause_after go on.
  void Go() {
    const char b = 'g';
    ASSERT_EQ(::write(go_w_.get(), &b, 1), 1);
  }

  // Waits for the tailer to end; returns its exit code (-1: killed/unknown).
  int Finish() {
    if (child_ != nullptr) {
      const int status = child_->Wait();
      child_.reset();
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    if (thread_.joinable()) thread_.join();
    return thread_rc_;
  }

 private:
  Tailer() = default;
  Fd report_r_, go_w_;
  std::string partial_;
  TailReport latest_;
  std::unique_ptr<Child> child_;
  std::thread thread_;
  Fd thread_report_w_, thread_go_r_;  // the thread's ends; live as long as this
  std::atomic<bool> stop_{false};
  int thread_rc_ = -1;
};

// Appends sequences [from, to] (from must be the log's next), a fifth of
// the calls as batches.
void AppendRange(Log& log, uint64_t from, uint64_t to) {
  std::vector<std::string> subjects, headers, payloads;
  std::vector<Message> msgs;
  uint64_t seq = from;
  while (seq <= to) {
    const size_t n = std::min<uint64_t>(BatchOf(seq), to - seq + 1);
    subjects.clear();
    headers.clear();
    payloads.clear();
    msgs.clear();
    for (size_t i = 0; i < n; ++i) {
      subjects.push_back(SubjectOf(seq + i));
      headers.push_back(HeadersOf(seq + i));
      payloads.push_back(PayloadOf(seq + i));
    }
    for (size_t i = 0; i < n; ++i) msgs.push_back(Message{subjects[i], headers[i], payloads[i], 0});
    absl::StatusOr<uint64_t> first = n == 1 ? log.Append(msgs[0]) : log.AppendBatch(msgs);
    ASSERT_TRUE(first.ok()) << "appending " << seq << ": " << first.status();
    ASSERT_EQ(*first, seq);
    seq += n;
  }
}

bool IsProgress(const TailReport&) { return true; }

std::string TailerError(const Tailer& t) {
  const TailReport& r = t.latest();
  return "tailer stopped, failed or timed out (last report kind " + std::to_string(r.kind) +
         ", last sequence " + std::to_string(r.last) + "; its reason is on stderr)";
}

// ---- following a growing stream ----

struct FollowParams {
  Tailer::Where where;
  Compression compression;
  uint64_t total;
  uint64_t chunk;  // messages appended between looks at the tailer
};

// The writer appends `total` messages in chunks; after every other chunk it
// waits until the tailer has verified everything appended so far (so the
// tailer keeps reaching the live end and waiting there); the other chunks
// race it. The tailer must verify every sequence, in order, exactly once.
void FollowWhileAppending(const FollowParams& p) {
  TempDir tmp;
  const std::string dir = tmp.Sub("stream");
  LogOptions o = SmallOptions();
  o.compression = p.compression;
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(dir, o);  // creates the stream
  ASSERT_TRUE(log.ok()) << log.status();

  TailConfig c;
  c.dir = dir;
  c.total = p.total;
  std::string error;
  std::unique_ptr<Tailer> tailer = Tailer::Start(p.where, c, &error);
  ASSERT_NE(tailer, nullptr) << error;
  // Open before anything is appended: the reader starts on an empty stream.
  ASSERT_TRUE(tailer->WaitFor(IsProgress, kStepWait)) << TailerError(*tailer);

  uint64_t lockstep_chunks = 0;
  for (uint64_t from = 1, n = 0; from <= p.total; from += p.chunk, ++n) {
    const uint64_t to = std::min(p.total, from + p.chunk - 1);
    ASSERT_NO_FATAL_FAILURE(AppendRange(**log, from, to));
    if (n % 2 == 0 && to < p.total) {
      ++lockstep_chunks;
      ASSERT_TRUE(tailer->WaitFor([to](const TailReport& r) { return r.last >= to; }, kStepWait))
          << TailerError(*tailer);
    }
  }
  EXPECT_GT((*log)->stats().segments, 5u) << "expected many segment rolls";

  ASSERT_TRUE(tailer->WaitFor([](const TailReport& r) { return r.kind == kDone; }, kStepWait))
      << TailerError(*tailer);
  const TailReport done = tailer->latest();
  std::printf("tailer verified %llu records, waited at the live end %llu times; %llu segments\n",
              static_cast<unsigned long long>(done.count),
              static_cast<unsigned long long>(done.waits),
              static_cast<unsigned long long>((*log)->stats().segments));
  EXPECT_EQ(tailer->Finish(), 0);
  EXPECT_EQ(done.last, p.total);
  EXPECT_EQ(done.count, p.total);
  EXPECT_EQ(done.skipped, 0u);
  // Each lockstep chunk left the tailer at the live end at least once.
  EXPECT_GE(done.waits, lockstep_chunks);
  ASSERT_TRUE((*log)->Close().ok());
}

TEST(CrossProcess, ReaderInOtherProcessFollowsAppends) {
  FollowWhileAppending({Tailer::Where::kChildProcess, Compression::kNone, 200'000, 10'000});
}

TEST(CrossProcess, ReaderInOtherProcessFollowsCompressedAppends) {
  FollowWhileAppending({Tailer::Where::kChildProcess, Compression::kLz4, 100'000, 10'000});
}

TEST(CrossProcess, ReaderOnAnotherThreadFollowsAppends) {
  FollowWhileAppending({Tailer::Where::kThread, Compression::kNone, 200'000, 10'000});
}

// ---- retention deleting segments under a reader that is behind ----

// The tailer reads a few hundred records of the first segment and stops
// there, holding its mapping. The writer appends far past max_msgs and
// deletes the expired segments, the tailer's included. The tailer then goes
// on while the writer keeps appending and expiring: it must skip only
// expired sequences (resuming at first_seq), get no DataLoss, see no wrong
// byte, and end at the last sequence.
void RetentionUnderSlowReader(Tailer::Where where) {
  constexpr uint64_t kMaxMsgs = 20'000;
  constexpr uint64_t kPauseAfter = 500;
  constexpr uint64_t kBehind = 100'000;  // appended while the tailer waits
  constexpr uint64_t kTotal = 200'000;
  constexpr uint64_t kChunk = 5'000;

  TempDir tmp;
  const std::string dir = tmp.Sub("stream");
  LogOptions o = SmallOptions();
  o.retention.max_msgs = kMaxMsgs;
  o.retention.discard = DiscardPolicy::kOld;
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(dir, o);
  ASSERT_TRUE(log.ok()) << log.status();
  Log& l = **log;
  ASSERT_NO_FATAL_FAILURE(AppendRange(l, 1, 1'000));

  TailConfig c;
  c.dir = dir;
  c.total = kTotal;
  c.pause_after = kPauseAfter;
  c.allow_skip = true;
  std::string error;
  std::unique_ptr<Tailer> tailer = Tailer::Start(where, c, &error);
  ASSERT_NE(tailer, nullptr) << error;
  ASSERT_TRUE(tailer->WaitFor([](const TailReport& r) { return r.count >= kPauseAfter; }, kStepWait))
      << TailerError(*tailer);
  ASSERT_EQ(tailer->latest().last, kPauseAfter);

  ASSERT_NO_FATAL_FAILURE(AppendRange(l, 1'001, kBehind));
  l.EnforceRetention();
  EXPECT_EQ(l.first_seq(), kBehind - kMaxMsgs + 1);
  const std::vector<std::string> files = ListDir(dir);
  ASSERT_TRUE(std::find(files.begin(), files.end(), SegmentFileName(1)) == files.end())
      << "the segment the tailer is in should have been deleted";

  tailer->Go();
  for (uint64_t from = kBehind + 1, n = 0; from <= kTotal; from += kChunk, ++n) {
    const uint64_t to = std::min(kTotal, from + kChunk - 1);
    ASSERT_NO_FATAL_FAILURE(AppendRange(l, from, to));
    l.EnforceRetention();  // delete as we go, not only once a second
    if (n % 4 == 0 && to < kTotal) {
      ASSERT_TRUE(tailer->WaitFor([to](const TailReport& r) { return r.last >= to; }, kStepWait))
          << TailerError(*tailer);
    }
  }

  ASSERT_TRUE(tailer->WaitFor([](const TailReport& r) { return r.kind == kDone; }, kStepWait))
      << TailerError(*tailer);
  const TailReport done = tailer->latest();
  std::printf("tailer verified %llu records, skipped %llu expired, waited %llu times\n",
              static_cast<unsigned long long>(done.count),
              static_cast<unsigned long long>(done.skipped),
              static_cast<unsigned long long>(done.waits));
  EXPECT_EQ(tailer->Finish(), 0);
  EXPECT_EQ(done.last, kTotal);
  EXPECT_EQ(done.count + done.skipped, kTotal) << "every sequence read or skipped as expired";
  EXPECT_GE(done.skipped, kBehind - kMaxMsgs - kPauseAfter) << "it was that far behind";
  EXPECT_EQ(l.first_seq(), kTotal - kMaxMsgs + 1);
  ASSERT_TRUE(l.Close().ok());
}

TEST(CrossProcess, RetentionDeletesSegmentsUnderReaderInOtherProcess) {
  RetentionUnderSlowReader(Tailer::Where::kChildProcess);
}

TEST(CrossProcess, RetentionDeletesSegmentsUnderReaderOnAnotherThread) {
  RetentionUnderSlowReader(Tailer::Where::kThread);
}

}  // namespace
}  // namespace shortbus::engine
