// engine_bench: the log engine measured next to the physical limits of the
// same machine, in the same run. docs/benchmarks.md says what each figure
// means; bench/report.py turns the JSON output into its ratio tables.
//
//   BM_Memcpy/<payload>            copying one frame's bytes into a warm
//                                  64 MiB ring: the bound for an append
//   BM_MemcpyBulk                  1 MiB copies between warm 64 MiB buffers:
//                                  the bound for replay, in bytes/s
//   BM_ClockRealtime               clock_gettime(CLOCK_REALTIME), which every
//                                  append pays once for its timestamp
//   BM_Fdatasync/<bytes>/<written> store <bytes> into a mapping of a
//                                  preallocated file, then fdatasync (p50/p99)
//   BM_Append/<payload>/<mode>     Log::Append under sync never|interval|always
//   BM_AppendBatchAlways/<n>       AppendBatch of n 128-byte messages, then
//                                  WaitDurable(last), under sync=always; each
//                                  batch is followed by the fdatasync bound on
//                                  the same bytes (reported as counters)
//   BM_Replay/<payload>            a Reader over a 256 MiB stream, start to end
//   BM_Reopen1GiB                  Log::Open of a 1 GiB stream closed cleanly
//   BM_ReopenAfterKill1GiB/<MiB>   Log::Open of the same stream after a child
//                                  process appended <MiB> MiB and _exit()ed
//                                  without Close (what kill -9 leaves)
//   .../no_prefault                the same with LogOptions::prefault_window 0
//
// Streams and probe files go under $SHORTBUS_BENCH_DIR, else $TMPDIR, else
// /tmp, in a directory of their own removed at exit: put it on the file
// system whose limits you want (bench/run.sh uses the build directory).
// Every engine benchmark runs a fixed number of iterations so that a whole
// run is bounded in time (about a minute on 2 cores).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_util.h"
#include "benchmark/benchmark.h"
#include "engine/file_system.h"
#include "engine/frame.h"
#include "engine/log.h"
#include "engine/reader.h"

namespace shortbus::engine {
namespace {

using bench::AddLatencyCounters;
using bench::BenchRoot;
using bench::Fail;
using bench::FlagError;
using bench::Latency;
using bench::ModeName;
using bench::ScratchDir;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kSubject = "bench.append.msg";  // 16 bytes
constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kRingBytes = 64 * kMiB;
// Frame bytes each BM_Append case writes (fixed iterations = this / frame).
constexpr uint64_t kAppendBytes = 256 * kMiB;
constexpr absl::Duration kInterval = absl::Milliseconds(50);
constexpr uint64_t kReplayBytes = 256 * kMiB;
constexpr uint64_t kReopenBytes = 1024 * kMiB;
constexpr int kPayloads[] = {16, 128, 1024, 16384};
constexpr int kBatches[] = {1, 10, 100, 1000};

constexpr uint64_t AlignUp(uint64_t n, uint64_t align) { return (n + align - 1) / align * align; }

uint64_t FrameBytes(size_t payload) { return PaddedFrameSize(kSubject.size(), 0, payload); }

const std::string& PayloadBytes() {
  // Incompressible-looking bytes (xorshift), large enough for every payload.
  static const std::string bytes = [] {
    std::string s(16384, '\0');
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (char& c : s) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      c = static_cast<char>(x);
    }
    return s;
  }();
  return bytes;
}

Message MakeMessage(size_t payload) {
  return Message{kSubject, {}, std::string_view(PayloadBytes()).substr(0, payload), 0};
}

// FlagError's counter and label prefix in this binary.
constexpr bench::ErrorFlag kEngineError{"engine_error", "engine error"};

// Appends `bytes` worth of frames of `payload` bytes to a new stream in
// `dir` under sync=never, then closes it (Close makes it all durable).
absl::Status BuildStream(const std::string& dir, size_t payload, uint64_t bytes) {
  LogOptions opt;
  opt.sync = SyncMode::kNever;
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(dir, opt);
  if (!log.ok()) return log.status();
  std::vector<engine::Message> batch(256, MakeMessage(payload));
  for (uint64_t n = bytes / FrameBytes(payload); n > 0;) {
    const size_t k = static_cast<size_t>(std::min<uint64_t>(n, batch.size()));
    absl::StatusOr<uint64_t> first = (*log)->AppendBatch(absl::MakeConstSpan(batch.data(), k));
    if (!first.ok()) return first.status();
    n -= k;
  }
  return (*log)->Close();
}

// ---- physical limits ----

void BM_Memcpy(benchmark::State& state, size_t payload) {
  const size_t frame = FrameBytes(payload);
  std::vector<char> src(frame, 'x');
  std::unique_ptr<char[]> ring(new char[kRingBytes]);
  std::memset(ring.get(), 0, kRingBytes);  // warm: every page already mapped
  benchmark::DoNotOptimize(ring.get());
  uint64_t off = 0;
  for (auto _ : state) {
    if (off + frame > kRingBytes) off = 0;
    std::memcpy(ring.get() + off, src.data(), frame);
    benchmark::ClobberMemory();
    off += frame;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(frame));
  state.counters["frame_bytes"] = static_cast<double>(frame);
}

void BM_MemcpyBulk(benchmark::State& state) {
  constexpr uint64_t kChunk = kMiB;
  std::unique_ptr<char[]> a(new char[kRingBytes]);
  std::unique_ptr<char[]> b(new char[kRingBytes]);
  std::memset(a.get(), 1, kRingBytes);
  std::memset(b.get(), 0, kRingBytes);
  uint64_t off = 0;
  for (auto _ : state) {
    std::memcpy(b.get() + off, a.get() + off, kChunk);
    benchmark::ClobberMemory();
    off = (off + kChunk) % kRingBytes;
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kChunk));
}

void BM_ClockRealtime(benchmark::State& state) {
  for (auto _ : state) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    benchmark::DoNotOptimize(ts);
  }
  state.SetItemsProcessed(state.iterations());
}

// What one sync of new bytes costs, the bound for a group commit: stores
// into a shared mapping of a file preallocated with posix_fallocate (as the
// engine's segments are), then fdatasync. Each Sync() writes blocks not
// written in this life, as an append does. fresh: the blocks are still
// unwritten extents (as in a new segment: the sync also converts extents, a
// metadata journal commit); written: the blocks were written and synced once
// at Open (the floor: the data and a cache flush). Page cache pages exist
// beforehand in both, so the stores take only the write-protect fault that
// any first store to a clean mapped page takes.
class SyncProbe {
 public:
  SyncProbe() = default;
  SyncProbe(const SyncProbe&) = delete;
  SyncProbe& operator=(const SyncProbe&) = delete;
  ~SyncProbe() {
    if (map_ != nullptr) ::munmap(map_, size_);
    if (fd_ >= 0) ::close(fd_);
  }

  // Room for `size` bytes of Sync() calls.
  absl::Status Open(const std::string& path, uint64_t size, bool written) {
    size_ = AlignUp(size, 4096) + 4096;
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd_ < 0) return ErrnoStatus(errno, "open", path);
    if (int rc = ::posix_fallocate(fd_, 0, static_cast<off_t>(size_)); rc != 0) {
      return ErrnoStatus(rc, "fallocate", path);
    }
    if (::fsync(fd_) != 0) return ErrnoStatus(errno, "fsync", path);
    void* map = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (map == MAP_FAILED) return ErrnoStatus(errno, "mmap", path);
    map_ = static_cast<char*>(map);
    constexpr int kPopulateRead = 22, kPopulateWrite = 23;  // MADV_POPULATE_*
    if (written) {
      ::madvise(map_, size_, kPopulateWrite);  // dirties every page: all written by the sync
      if (::fdatasync(fd_) != 0) return ErrnoStatus(errno, "fdatasync", path);
    } else {
      ::madvise(map_, size_, kPopulateRead);  // zero pages in the cache, nothing dirty
    }
    return absl::OkStatus();
  }

  // Stores `bytes` at the next page boundary, fdatasyncs; returns the ns taken.
  absl::StatusOr<double> Sync(uint64_t bytes) {
    if (off_ + bytes > size_) return absl::OutOfRangeError("probe file full");
    const std::string& src = PayloadBytes();
    const Clock::time_point t0 = Clock::now();
    for (uint64_t done = 0; done < bytes;) {
      const uint64_t n = std::min<uint64_t>(bytes - done, src.size());
      std::memcpy(map_ + off_ + done, src.data(), n);
      done += n;
    }
    if (::fdatasync(fd_) != 0) return ErrnoStatus(errno, "fdatasync", "probe");
    off_ += AlignUp(bytes, 4096);
    return std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
  }

 private:
  int fd_ = -1;
  char* map_ = nullptr;
  uint64_t size_ = 0;
  uint64_t off_ = 0;
};

// BM_Fdatasync/<bytes>/<written>: the probe alone.
void BM_Fdatasync(benchmark::State& state) {
  const uint64_t bytes = static_cast<uint64_t>(state.range(0));
  const bool written = state.range(1) != 0;
  ScratchDir dir("fdatasync");
  std::filesystem::create_directories(dir.path());
  SyncProbe probe;
  if (absl::Status s = probe.Open(dir.path() + "/probe",
                                  AlignUp(bytes, 4096) * static_cast<uint64_t>(state.max_iterations), written);
      !s.ok()) {
    return Fail(state, "probe", s);
  }
  std::vector<double> ns;
  ns.reserve(static_cast<size_t>(state.max_iterations));
  for (auto _ : state) {
    absl::StatusOr<double> t = probe.Sync(bytes);
    if (!t.ok()) {
      Fail(state, "probe", t.status());
      break;
    }
    ns.push_back(*t);
  }
  AddLatencyCounters(state, std::move(ns), "", Latency::kP50P99);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
}

// ---- appends ----

// Opens a fresh stream, appends one message and gives the background thread
// a moment to pre-fault and prepare the next segment, as it would have had
// in a server that has been running for a while.
// `prefault` false turns the engine's pre-faulting off (prefault_window 0);
// the rows that do so exist to show what pre-faulting buys or costs.
absl::StatusOr<std::unique_ptr<Log>> OpenWarm(const std::string& dir, SyncMode mode, bool prefault) {
  LogOptions opt;
  opt.sync = mode;
  // A run lasts well under the default 1 s: a short interval makes the
  // interval rows pay for a few syncs, as a long-running writer does.
  opt.sync_interval = kInterval;
  if (!prefault) opt.prefault_window = 0;
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(dir, opt);
  if (!log.ok()) return log;
  absl::StatusOr<uint64_t> seq = (*log)->Append(MakeMessage(16));
  if (!seq.ok()) return seq.status();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return log;
}

// Pipelined appends: under always nothing waits per message; the timed loop
// ends with WaitDurable(last), so every counted message is durable.
void BM_Append(benchmark::State& state, size_t payload, SyncMode mode, bool prefault) {
  ScratchDir dir("append");
  absl::StatusOr<std::unique_ptr<Log>> log = OpenWarm(dir.path(), mode, prefault);
  if (!log.ok()) {
    FlagError(state, kEngineError, "open", log.status());
    for (auto _ : state) {
    }
    return;
  }
  const engine::Message msg = MakeMessage(payload);
  const LogStats before = (*log)->stats();
  uint64_t last = 0;
  bool failed = false;
  const Clock::time_point t0 = Clock::now();
  for (auto _ : state) {
    if (failed) continue;
    absl::StatusOr<uint64_t> seq = (*log)->Append(msg);
    if (!seq.ok()) {
      FlagError(state, kEngineError, "append", seq.status());
      failed = true;
      continue;
    }
    last = *seq;
  }
  if (mode == SyncMode::kAlways && last != 0 && !failed) {
    if (absl::Status s = (*log)->WaitDurable(last, absl::Seconds(30)); !s.ok()) {
      FlagError(state, kEngineError, "wait durable", s);
      failed = true;
    }
  }
  // Manual time: the whole loop plus, under always, the final wait.
  state.SetIterationTime(std::chrono::duration<double>(Clock::now() - t0).count());
  const LogStats after = (*log)->stats();
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(FrameBytes(payload)));
  state.counters["frame_bytes"] = static_cast<double>(FrameBytes(payload));
  if (!failed) state.counters[kEngineError.counter] = 0;
  state.counters["syncs"] = static_cast<double>(after.syncs - before.syncs);
  state.counters["segments"] = static_cast<double>(after.segments);
  if (absl::Status s = (*log)->Close(); !s.ok() && !failed) FlagError(state, kEngineError, "close", s);
}

// Group commit at its best: one AppendBatch of n messages, then wait for
// the sync that covers them. One iteration = one batch. Each iteration also
// runs the bound on the same bytes right after, in the same directory (two
// SyncProbes: fresh and written blocks), so that the ratio compares
// figures taken under the same load; only the batch is timed.
void BM_AppendBatchAlways(benchmark::State& state, size_t n, bool prefault) {
  ScratchDir dir("batch");
  absl::StatusOr<std::unique_ptr<Log>> log = OpenWarm(dir.path(), SyncMode::kAlways, prefault);
  if (!log.ok()) return Fail(state, "open", log.status());
  if (absl::Status s = (*log)->WaitDurable((*log)->last_seq(), absl::Seconds(30)); !s.ok()) {
    return Fail(state, "wait durable", s);
  }
  const uint64_t batch_bytes = n * FrameBytes(128);
  const uint64_t probe_bytes = AlignUp(batch_bytes, 4096) * static_cast<uint64_t>(state.max_iterations);
  SyncProbe fresh, written;
  if (absl::Status s = fresh.Open(dir.path() + "/probe-fresh", probe_bytes, false); !s.ok()) {
    return Fail(state, "probe", s);
  }
  if (absl::Status s = written.Open(dir.path() + "/probe-written", probe_bytes, true); !s.ok()) {
    return Fail(state, "probe", s);
  }
  const std::vector<engine::Message> batch(n, MakeMessage(128));
  const LogStats before = (*log)->stats();
  std::vector<double> ns, fresh_ns, written_ns;
  ns.reserve(static_cast<size_t>(state.max_iterations));
  for (auto _ : state) {
    const Clock::time_point t0 = Clock::now();
    absl::StatusOr<uint64_t> first = (*log)->AppendBatch(batch);
    if (!first.ok()) {
      Fail(state, "append batch", first.status());
      break;
    }
    if (absl::Status s = (*log)->WaitDurable(*first + n - 1, absl::Seconds(30)); !s.ok()) {
      Fail(state, "wait durable", s);
      break;
    }
    ns.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count());
    state.PauseTiming();
    absl::StatusOr<double> f = fresh.Sync(batch_bytes);
    absl::StatusOr<double> w = written.Sync(batch_bytes);
    state.ResumeTiming();
    if (!f.ok() || !w.ok()) {
      Fail(state, "probe", f.ok() ? w.status() : f.status());
      break;
    }
    fresh_ns.push_back(*f);
    written_ns.push_back(*w);
  }
  const LogStats after = (*log)->stats();
  AddLatencyCounters(state, std::move(ns), "", Latency::kP50P99);
  std::vector<double>* probes[] = {&fresh_ns, &written_ns};
  const char* names[] = {"bound_fresh_p50_us", "bound_written_p50_us"};
  for (int i = 0; i < 2; ++i) {
    if (probes[i]->empty()) continue;
    std::sort(probes[i]->begin(), probes[i]->end());
    state.counters[names[i]] = (*probes[i])[probes[i]->size() / 2] / 1e3;
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(batch_bytes));
  state.counters["batch_bytes"] = static_cast<double>(batch_bytes);
  state.counters["syncs_per_batch"] =
      static_cast<double>(after.syncs - before.syncs) / static_cast<double>(std::max<int64_t>(1, state.iterations()));
  if (absl::Status s = (*log)->Close(); !s.ok()) Fail(state, "close", s);
}

// ---- replay ----

// One iteration = open a Reader and read the whole stream (from the page
// cache: the stream was just written).
void BM_Replay(benchmark::State& state) {
  const size_t payload = static_cast<size_t>(state.range(0));
  ScratchDir dir("replay");
  if (absl::Status s = BuildStream(dir.path(), payload, kReplayBytes); !s.ok()) {
    return Fail(state, "build stream", s);
  }
  uint64_t records = 0, payload_bytes = 0, frame_bytes = 0;
  for (auto _ : state) {
    absl::StatusOr<std::unique_ptr<Reader>> reader = Reader::Open(dir.path());
    if (!reader.ok()) {
      Fail(state, "reader open", reader.status());
      break;
    }
    Record rec;
    absl::Status s;
    uint64_t n = 0;
    while ((s = (*reader)->Next(&rec)).ok()) {
      benchmark::DoNotOptimize(rec.payload.data());
      payload_bytes += rec.payload.size();
      frame_bytes += FrameBytes(rec.payload.size());
      ++n;
    }
    if (!IsEndOfData(s)) {
      Fail(state, "next", s);
      break;
    }
    if (n != kReplayBytes / FrameBytes(payload)) {
      Fail(state, "replay", absl::DataLossError(absl::StrCat("read ", n, " records, appended ",
                                                             kReplayBytes / FrameBytes(payload))));
      break;
    }
    records += n;
  }
  state.SetItemsProcessed(static_cast<int64_t>(records));
  state.SetBytesProcessed(static_cast<int64_t>(payload_bytes));
  state.counters["frame_bytes_per_second"] =
      benchmark::Counter(static_cast<double>(frame_bytes), benchmark::Counter::kIsRate);
}

// ---- open / recovery ----

// The 1 GiB stream both reopen benchmarks use: built once, removed at exit
// with the bench root.
const std::string& ReopenStream(absl::Status* status) {
  static std::string dir;
  static absl::Status built = [] {
    dir = BenchRoot() + "/reopen-1gib";
    std::filesystem::remove_all(dir);
    return BuildStream(dir, 1024, kReopenBytes);
  }();
  *status = built;
  return dir;
}

absl::Status TimedOpen(const std::string& dir, double* open_ns, double* close_ns, RecoveryStats* rec) {
  LogOptions opt;
  opt.create_if_missing = false;
  const Clock::time_point t0 = Clock::now();
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(dir, opt);
  const Clock::time_point t1 = Clock::now();
  if (!log.ok()) return log.status();
  *rec = (*log)->recovery();
  absl::Status s = (*log)->Close();
  *open_ns = std::chrono::duration<double, std::nano>(t1 - t0).count();
  *close_ns = std::chrono::duration<double, std::nano>(Clock::now() - t1).count();
  return s;
}

// The timed opens of one reopen benchmark.
struct Reopens {
  std::vector<double> open_ns, close_ns;
  RecoveryStats rec;

  // One TimedOpen of `dir`, whose Log::Open is the iteration's manual time;
  // false (the benchmark skipped with the error) if it failed.
  bool Time(benchmark::State& state, const std::string& dir) {
    double o = 0, c = 0;
    if (absl::Status s = TimedOpen(dir, &o, &c, &rec); !s.ok()) {
      Fail(state, "reopen", s);
      return false;
    }
    state.SetIterationTime(o / 1e9);
    open_ns.push_back(o);
    close_ns.push_back(c);
    return true;
  }

  void Report(benchmark::State& state) {
    AddLatencyCounters(state, open_ns, "", Latency::kP50P99);
    double sum = 0;
    for (double c : close_ns) sum += c;
    state.counters["close_ms"] = close_ns.empty() ? 0 : sum / static_cast<double>(close_ns.size()) / 1e6;
    state.counters["segments"] = static_cast<double>(rec.segments);
    state.counters["frames_scanned"] = static_cast<double>(rec.frames_scanned);
    state.counters["bytes_scanned"] = static_cast<double>(rec.bytes_scanned);
  }
};

// Manual time = Log::Open alone; Close is reported as close_ms.
void BM_Reopen1GiB(benchmark::State& state) {
  absl::Status built;
  const std::string& dir = ReopenStream(&built);
  if (!built.ok()) return Fail(state, "build 1 GiB stream", built);
  Reopens reopens;
  for (auto _ : state) {
    if (!reopens.Time(state, dir)) break;
  }
  reopens.Report(state);
}

// Each iteration: a child process opens the stream, appends <MiB> MiB of
// 1 KiB messages under sync=never and _exit()s without closing (so neither
// the sync record nor the data is synced: what kill -9 leaves); then the
// timed Log::Open recovers it. The stream grows by <MiB> MiB per iteration.
void BM_ReopenAfterKill1GiB(benchmark::State& state) {
  absl::Status built;
  const std::string& dir = ReopenStream(&built);
  if (!built.ok()) return Fail(state, "build 1 GiB stream", built);
  const uint64_t tail = static_cast<uint64_t>(state.range(0)) * kMiB;
  Reopens reopens;
  for (auto _ : state) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      LogOptions opt;
      opt.sync = SyncMode::kNever;
      opt.create_if_missing = false;
      absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(dir, opt);
      if (!log.ok()) _exit(2);
      const engine::Message msg = MakeMessage(1024);
      for (uint64_t n = tail / FrameBytes(1024); n > 0; --n) {
        if (!(*log)->Append(msg).ok()) _exit(3);
      }
      _exit(0);
    }
    int wstatus = 0;
    if (pid < 0 || ::waitpid(pid, &wstatus, 0) != pid || !WIFEXITED(wstatus) ||
        WEXITSTATUS(wstatus) != 0) {
      state.SkipWithError(absl::StrCat("writer child failed (status ", wstatus, ")").c_str());
      break;
    }
    if (!reopens.Time(state, dir)) break;
  }
  reopens.Report(state);
}

// ---- registration ----

void Register() {
  for (int p : kPayloads) {
    benchmark::RegisterBenchmark(absl::StrCat("BM_Memcpy/", p).c_str(), BM_Memcpy, static_cast<size_t>(p))
        ->MinTime(0.3)
        ->Repetitions(5);
  }
  benchmark::RegisterBenchmark("BM_MemcpyBulk", BM_MemcpyBulk)->MinTime(0.5)->Repetitions(3);
  benchmark::RegisterBenchmark("BM_ClockRealtime", BM_ClockRealtime)->MinTime(0.2)->Repetitions(3);

  // The sizes the batch benchmark syncs per batch, and one 4 KiB page.
  std::vector<int64_t> sync_sizes = {4096};
  for (int b : kBatches) {
    const int64_t bytes = static_cast<int64_t>(AlignUp(b * FrameBytes(128), 4096));
    if (std::find(sync_sizes.begin(), sync_sizes.end(), bytes) == sync_sizes.end()) {
      sync_sizes.push_back(bytes);
    }
  }
  for (int64_t bytes : sync_sizes) {
    benchmark::RegisterBenchmark("BM_Fdatasync", BM_Fdatasync)
        ->Args({bytes, 0})
        ->Args({bytes, 1})
        ->Iterations(bytes > 65536 ? 300 : 1000)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  }

  auto append = [](size_t p, SyncMode m, bool prefault) {
    benchmark::RegisterBenchmark(
        absl::StrCat("BM_Append/", p, "/", ModeName(m), prefault ? "" : "/no_prefault").c_str(), BM_Append,
        p, m, prefault)
        ->Iterations(static_cast<int64_t>(kAppendBytes / FrameBytes(p)))
        ->UseManualTime()
        ->Repetitions(5)
        ->Unit(benchmark::kNanosecond);
  };
  for (int p : kPayloads) {
    for (SyncMode m : {SyncMode::kNever, SyncMode::kInterval, SyncMode::kAlways}) {
      append(static_cast<size_t>(p), m, true);
    }
  }
  append(128, SyncMode::kNever, false);

  auto batch = [](size_t n, bool prefault) {
    benchmark::RegisterBenchmark(
        absl::StrCat("BM_AppendBatchAlways/", n, prefault ? "" : "/no_prefault").c_str(),
        BM_AppendBatchAlways, n, prefault)
        ->Iterations(n >= 1000 ? 300 : 1000)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  };
  for (int b : kBatches) batch(static_cast<size_t>(b), true);
  batch(1000, false);
  benchmark::RegisterBenchmark("BM_Replay", BM_Replay)
      ->Arg(128)
      ->Arg(1024)
      ->Arg(16384)
      ->Iterations(6)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_Reopen1GiB", BM_Reopen1GiB)
      ->Iterations(20)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_ReopenAfterKill1GiB", BM_ReopenAfterKill1GiB)
      ->Arg(1)
      ->Arg(16)
      ->Iterations(5)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace
}  // namespace shortbus::engine

int main(int argc, char** argv) {
  return shortbus::bench::RunBenchmarks("engine_bench", argc, argv, shortbus::engine::Register, nullptr);
}
