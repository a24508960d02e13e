// index_bench: the LMDB index (index/) measured next to the engine alone, in
// the same run. docs/benchmarks.md ("Index") says what each figure means;
// bench/report.py turns the JSON output into its tables.
//
//   BM_IndexAppend/<sync>            one pair per repetition: 256 MiB of
//                                    128-byte appends through engine::Log
//                                    alone, then through index::Store +
//                                    StoredStream::Append (the order
//                                    alternates between repetitions). Both
//                                    sides report writer throughput, the
//                                    time until the last sequence is durable
//                                    (engine) or indexed (store), and CPU.
//   BM_AckLatencyAlways/<n>          sync=always: n appends, then wait for the
//                                    last to be durable (engine) / indexed
//                                    (store), alternating sides per batch;
//                                    p50/p99 per batch
//   BM_ConsumerAcks/<synced|unsynced>/<batch>
//                                    a durable consumer takes `batch`
//                                    messages, acks each, commits once per
//                                    batch; acks/s of Ack+Commit alone and
//                                    of the whole deliver+ack cycle
//   BM_Seek/<how>                    on a 10 M-message stream (128 B payloads,
//                                    64 MiB segments), one positioning of a
//                                    Reader plus one Next, to a random
//                                    sequence or time: through the index
//                                    (StoredStream::Seek, SeekTime) or
//                                    without it (Reader::SeekToSequence,
//                                    SeekToTime); p50/p99 per seek
//   BM_SeekPart/<part>               the two halves of an indexed sequence
//                                    seek: the LMDB lookup alone, and
//                                    Reader::SeekToPosition + Next alone
//   BM_SeekCost/<part>               parts of SeekToPosition: list the
//                                    stream directory (no longer per seek);
//                                    open, map and check a segment,
//                                    unmapping the last (per segment change)
//   BM_SeekPremapped                 not an existing code path: the indexed
//                                    seek with every segment mapped once
//                                    beforehand (lookup + scan + checksum)
//   BM_StoreReopen/<store|engine>    Store::Open (or Log::Open) of a 1 GiB
//                                    stream closed cleanly
//   BM_ReopenAfterKill/<store|engine>/<MiB>
//                                    a child process appends <MiB> MiB and
//                                    _exit()s without closing (what kill -9
//                                    leaves: an unsynced, unindexed tail);
//                                    then the timed Store::Open (recovery and
//                                    indexing of the tail) or Log::Open
//
// Data goes under $SHORTBUS_BENCH_DIR, else $TMPDIR, else /tmp, in a
// directory of its own removed at exit. Every benchmark runs a fixed number
// of iterations, so that a run is bounded in time.
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
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
#include "engine/segment_file.h"
#include "engine/segment_header.h"
#include "index/consumer.h"
#include "index/store.h"
#include "index/stream_index.h"

namespace shortbus::index {
namespace {

using bench::AddLatencyCounters;
using bench::BenchRoot;
using bench::Fail;
using bench::FlagError;
using bench::ModeName;
using bench::ScratchDir;
using bench::StatusText;
using Clock = std::chrono::steady_clock;
using engine::Log;
using engine::LogOptions;
using engine::Message;
using engine::Reader;
using engine::Record;
using engine::SyncMode;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr size_t kPayload = 128;
constexpr size_t kSubjects = 8;
constexpr size_t kSubjectLen = 16;
constexpr uint64_t kSegmentSize = 64 * kMiB;
constexpr absl::Duration kInterval = absl::Milliseconds(50);
// Appends between two Log::Publish calls on the staged write path: a
// daemon loop turn with 256 publishes in flight.
constexpr uint64_t kTurn = 256;
// Frame bytes per side of one BM_IndexAppend pair.
constexpr uint64_t kAppendBytes = 256 * kMiB;
constexpr uint64_t kSeekMsgs = 10'000'000;
constexpr uint64_t kReopenBytes = 1024 * kMiB;
constexpr absl::Duration kWait = absl::Seconds(120);

uint64_t FrameBytes() { return engine::PaddedFrameSize(kSubjectLen, 0, kPayload); }

const std::array<std::string, kSubjects>& Subjects() {
  static const std::array<std::string, kSubjects> subjects = [] {
    std::array<std::string, kSubjects> s;
    for (size_t i = 0; i < kSubjects; ++i) s[i] = absl::StrFormat("bench.index.s%03d", i);  // 16 bytes
    return s;
  }();
  return subjects;
}

const std::string& Payload() {
  static const std::string bytes = [] {
    std::string s(kPayload, '\0');
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

// The i-th message of every stream here: subjects round-robin.
Message Msg(uint64_t i) { return Message{Subjects()[i % kSubjects], {}, Payload(), 0}; }

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Minor page faults taken by the calling thread so far.
uint64_t ThreadMinorFaults() {
  struct rusage ru;
  return ::getrusage(RUSAGE_THREAD, &ru) == 0 ? static_cast<uint64_t>(ru.ru_minflt) : 0;
}

double CpuSeconds(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// FlagError's counter and label prefix in this binary.
constexpr bench::ErrorFlag kBenchError{"bench_error", "error"};

StreamConfig Config(const std::string& name, SyncMode mode) {
  StreamConfig c;
  c.name = name;
  c.subjects = {"bench.>"};
  c.segment_size = kSegmentSize;
  c.sync = mode;
  c.sync_interval = kInterval;
  return c;
}

// The same log options Store gives a stream of Config(name, mode).
LogOptions EngineOptions(SyncMode mode) {
  LogOptions o;
  o.segment_size = kSegmentSize;
  o.sync = mode;
  o.sync_interval = kInterval;
  return o;
}

// Wakes waiters when a stream's indexed_seq advances (its durable
// callback, on the log's background thread). Must outlive the stream's use.
class IndexWaiter {
 public:
  void Attach(StoredStream* s) {
    s->SetDurableCallback([this](uint64_t indexed) {
      {
        std::lock_guard<std::mutex> l(mu_);
        indexed_ = std::max(indexed_, indexed);
        ++commits_;
      }
      cv_.notify_all();
    });
  }
  absl::Status Wait(uint64_t seq, absl::Duration timeout) {
    std::unique_lock<std::mutex> l(mu_);
    if (!cv_.wait_for(l, absl::ToChronoNanoseconds(timeout), [&] { return indexed_ >= seq; })) {
      return absl::DeadlineExceededError(absl::StrCat("sequence ", seq, " not indexed in time (indexed ",
                                                      indexed_, ")"));
    }
    return absl::OkStatus();
  }
  uint64_t commits() {
    std::lock_guard<std::mutex> l(mu_);
    return commits_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t indexed_ = 0;
  uint64_t commits_ = 0;
};

// ---- appends: engine alone vs Store ----

struct SideResult {
  double writer_s = 0;      // the append loop
  double durable_s = 0;     // from the start until the last sequence is durable in the log
  double done_s = 0;        // ... and, for the store, indexed (engine: = durable_s)
  double cpu_s = 0;         // process CPU (every thread), start to done
  double writer_cpu_s = 0;  // the appending thread's CPU during the loop
  uint64_t writer_faults = 0;  // ... and the minor page faults it took
  double log_cpu_s = 0;     // the log's background thread ("sb-log"), start to done
  double index_cpu_s = 0;   // the store's indexer thread ("sb-index"), start to done
  uint64_t syncs = 0;       // log fdatasyncs during the run
  uint64_t commits = 0;     // index commits during the run (store)
  absl::Status status;
};

// Times n appends after a warm start (one message appended, 50 ms for the
// background thread to pre-fault and prepare the next segment, as in
// engine_bench), then waits for the last to be durable (and indexed).
// `append` appends message i and returns its sequence.
template <typename AppendFn, typename LogFn, typename IndexedFn>
SideResult TimeAppends(uint64_t n, bool staged, AppendFn append, LogFn log, IndexedFn wait_indexed) {
  SideResult r;
  absl::StatusOr<uint64_t> warm = append(0);
  if (warm.ok() && staged) {
    if (absl::Status p = log().Publish(); !p.ok()) warm = p;
  }
  if (!warm.ok()) {
    r.status = warm.status();
    return r;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const uint64_t syncs0 = log().stats().syncs;
  uint64_t last = 0;
  const double cpu0 = CpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
  const uint64_t log_cpu0 = bench::NamedThreadsCpuNs("sb-log");
  const uint64_t index_cpu0 = bench::NamedThreadsCpuNs("sb-index");
  const double wcpu0 = CpuSeconds(CLOCK_THREAD_CPUTIME_ID);
  const uint64_t faults0 = ThreadMinorFaults();
  const Clock::time_point t0 = Clock::now();
  for (uint64_t i = 1; i <= n; ++i) {
    absl::StatusOr<uint64_t> seq = append(i);
    if (!seq.ok()) {
      r.status = seq.status();
      return r;
    }
    last = *seq;
    if (staged && (i % kTurn == 0 || i == n)) {
      if (r.status = log().Publish(); !r.status.ok()) return r;
    }
  }
  const Clock::time_point t1 = Clock::now();
  const double wcpu1 = CpuSeconds(CLOCK_THREAD_CPUTIME_ID);
  r.writer_faults = ThreadMinorFaults() - faults0;
  // Under interval and never this asks for a sync now instead of waiting.
  r.status = log().WaitDurable(last, kWait);
  const Clock::time_point t2 = Clock::now();
  if (r.status.ok()) r.status = wait_indexed(last);
  const Clock::time_point t3 = Clock::now();
  const double cpu1 = CpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
  r.log_cpu_s = static_cast<double>(bench::NamedThreadsCpuNs("sb-log") - log_cpu0) / 1e9;
  r.index_cpu_s = static_cast<double>(bench::NamedThreadsCpuNs("sb-index") - index_cpu0) / 1e9;
  r.writer_s = Seconds(t1 - t0);
  r.durable_s = Seconds(t2 - t0);
  r.done_s = Seconds(t3 - t0);
  r.cpu_s = cpu1 - cpu0;
  r.writer_cpu_s = wcpu1 - wcpu0;
  r.syncs = log().stats().syncs - syncs0;
  return r;
}

SideResult EngineSide(SyncMode mode, bool staged, uint64_t n) {
  ScratchDir dir("append-engine");
  LogOptions options = EngineOptions(mode);
  options.defer_publish = staged;
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(dir.path(), options);
  if (!log.ok()) return SideResult{.status = log.status()};
  SideResult r = TimeAppends(
      n, staged, [&](uint64_t i) { return (*log)->Append(Msg(i)); }, [&]() -> Log& { return **log; },
      [](uint64_t) { return absl::OkStatus(); });
  absl::Status c = (*log)->Close();
  if (r.status.ok()) r.status = c;
  return r;
}

SideResult StoreSide(SyncMode mode, bool staged, uint64_t n) {
  ScratchDir dir("append-store");
  IndexWaiter waiter;  // outlives the store
  StoreOptions options;
  options.defer_publish = staged;
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir.path(), options);
  if (!store.ok()) return SideResult{.status = store.status()};
  absl::StatusOr<StoredStream*> stream = (*store)->CreateStream(Config("append", mode));
  if (!stream.ok()) return SideResult{.status = stream.status()};
  StoredStream* s = *stream;
  waiter.Attach(s);
  uint64_t commits0 = 0;
  SideResult r = TimeAppends(
      n, staged,
      [&](uint64_t i) {
        if (i == 1) commits0 = waiter.commits();
        return s->Append(Msg(i));
      },
      [&]() -> Log& { return s->log(); }, [&](uint64_t last) { return waiter.Wait(last, kWait); });
  r.commits = waiter.commits() - commits0;
  if (r.status.ok() && s->indexed_seq() < s->log().last_seq()) {
    r.status = absl::InternalError("indexed_seq behind after the wait");
  }
  absl::Status c = (*store)->Close();
  if (r.status.ok()) r.status = c;
  return r;
}

// One iteration = one pair (engine alone, then the store, or the other way
// round on alternate repetitions): the ratio compares runs seconds apart.
void BM_IndexAppend(benchmark::State& state, SyncMode mode, bool staged) {
  static int pair = 0;
  const bool store_first = (pair++ % 2) == 1;
  const uint64_t n = kAppendBytes / FrameBytes();
  SideResult e, s;
  for (auto _ : state) {
    if (store_first) {
      s = StoreSide(mode, staged, n);
      e = EngineSide(mode, staged, n);
    } else {
      e = EngineSide(mode, staged, n);
      s = StoreSide(mode, staged, n);
    }
    state.SetIterationTime(s.writer_s > 0 ? s.writer_s : 1e-9);
  }
  if (!e.status.ok()) return FlagError(state, kBenchError, "engine side", e.status);
  if (!s.status.ok()) return FlagError(state, kBenchError, "store side", s.status);
  const double msgs = static_cast<double>(n);
  state.counters[kBenchError.counter] = 0;
  state.counters["msgs"] = msgs;
  state.counters["store_first"] = store_first ? 1 : 0;
  for (auto [side, r] : {std::pair<const char*, const SideResult*>{"engine_", &e}, {"store_", &s}}) {
    const std::string p = side;
    state.counters[p + "writer_mps"] = msgs / r->writer_s;
    state.counters[p + "durable_mps"] = msgs / r->durable_s;
    state.counters[p + "done_mps"] = msgs / r->done_s;
    state.counters[p + "cpu_ns"] = r->cpu_s / msgs * 1e9;
    state.counters[p + "writer_cpu_ns"] = r->writer_cpu_s / msgs * 1e9;
    state.counters[p + "log_cpu_ns"] = r->log_cpu_s / msgs * 1e9;
    state.counters[p + "writer_faults"] = static_cast<double>(r->writer_faults);
    state.counters[p + "tail_ms"] = (r->done_s - r->writer_s) * 1e3;
    state.counters[p + "syncs"] = static_cast<double>(r->syncs);
  }
  state.counters["index_lag_ms"] = (s.done_s - s.durable_s) * 1e3;
  state.counters["index_commits"] = static_cast<double>(s.commits);
  state.counters["store_index_cpu_ns"] = s.index_cpu_s / msgs * 1e9;
  state.counters["writer_ratio"] = (msgs / s.writer_s) / (msgs / e.writer_s);
  state.counters["done_ratio"] = (msgs / s.done_s) / (msgs / e.done_s);
  state.SetItemsProcessed(static_cast<int64_t>(n));
}

// ---- acknowledgement latency under sync=always ----

// Per batch: n appends, then wait until the last is durable (engine) or
// indexed (store: what a server acknowledges on). The two sides run in the
// same iteration, alternating which goes first.
void BM_AckLatencyAlways(benchmark::State& state) {
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  ScratchDir edir("ack-engine"), sdir("ack-store");
  IndexWaiter waiter;
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(edir.path(), EngineOptions(SyncMode::kAlways));
  if (!log.ok()) return Fail(state, "open log", log.status());
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(sdir.path(), StoreOptions{});
  if (!store.ok()) return Fail(state, "open store", store.status());
  absl::StatusOr<StoredStream*> stream = (*store)->CreateStream(Config("ack", SyncMode::kAlways));
  if (!stream.ok()) return Fail(state, "create stream", stream.status());
  StoredStream* s = *stream;
  waiter.Attach(s);
  uint64_t i = 0;
  auto engine_batch = [&]() -> absl::StatusOr<double> {
    const Clock::time_point t0 = Clock::now();
    uint64_t last = 0;
    for (uint64_t k = 0; k < n; ++k) {
      absl::StatusOr<uint64_t> seq = (*log)->Append(Msg(i++));
      if (!seq.ok()) return seq.status();
      last = *seq;
    }
    if (absl::Status st = (*log)->WaitDurable(last, kWait); !st.ok()) return st;
    return std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
  };
  double durable_ns = 0;
  auto store_batch = [&]() -> absl::StatusOr<double> {
    const Clock::time_point t0 = Clock::now();
    uint64_t last = 0;
    for (uint64_t k = 0; k < n; ++k) {
      absl::StatusOr<uint64_t> seq = s->Append(Msg(i++));
      if (!seq.ok()) return seq.status();
      last = *seq;
    }
    if (absl::Status st = s->log().WaitDurable(last, kWait); !st.ok()) return st;
    durable_ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
    if (absl::Status st = waiter.Wait(last, kWait); !st.ok()) return st;
    return std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
  };
  // Warm both (first sync of a new segment also syncs the directory).
  if (absl::StatusOr<double> w = engine_batch(); !w.ok()) return Fail(state, "engine batch", w.status());
  if (absl::StatusOr<double> w = store_batch(); !w.ok()) return Fail(state, "store batch", w.status());
  std::vector<double> engine_ns, store_ns, store_durable_ns;
  bool flip = false;
  for (auto _ : state) {
    absl::StatusOr<double> a, b;
    if ((flip = !flip)) {
      a = engine_batch();
      b = store_batch();
    } else {
      b = store_batch();
      a = engine_batch();
    }
    if (!a.ok() || !b.ok()) {
      Fail(state, a.ok() ? "store batch" : "engine batch", a.ok() ? b.status() : a.status());
      break;
    }
    engine_ns.push_back(*a);
    store_ns.push_back(*b);
    store_durable_ns.push_back(durable_ns);
  }
  AddLatencyCounters(state, engine_ns, "engine_");
  AddLatencyCounters(state, store_ns, "store_");
  AddLatencyCounters(state, store_durable_ns, "store_durable_");
  state.counters["batch"] = static_cast<double>(n);
  absl::Status c1 = (*log)->Close();
  absl::Status c2 = (*store)->Close();
  if (!c1.ok() || !c2.ok()) Fail(state, "close", c1.ok() ? c2 : c1);
}

// ---- seeks on a 10 M-message stream ----

struct SeekData {
  absl::Status status;
  std::string dir;
  std::unique_ptr<Store> store;
  StoredStream* stream = nullptr;
  uint64_t last = 0;
  int64_t first_ts = 0, last_ts = 0;
  double append_s = 0, close_s = 0, reopen_s = 0;
  uint64_t log_bytes = 0, segments = 0, index_file_bytes = 0, map_size = 0;
};

SeekData& SeekStore() {
  static SeekData d;
  return d;
}

uint64_t FileBytes(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_blocks) * 512 : 0;
}

// Appends kSeekMsgs messages through a Store under sync=never, closes it
// (the index catches up with all of it at Close), opens it again.
absl::Status BuildSeekStore(SeekData* d) {
  d->dir = BenchRoot() + "/seek-10m";
  std::filesystem::remove_all(d->dir);
  {
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(d->dir, StoreOptions{});
    if (!store.ok()) return store.status();
    absl::StatusOr<StoredStream*> stream = (*store)->CreateStream(Config("seek", SyncMode::kNever));
    if (!stream.ok()) return stream.status();
    const Clock::time_point t0 = Clock::now();
    for (uint64_t i = 1; i <= kSeekMsgs; ++i) {
      absl::StatusOr<uint64_t> seq = (*stream)->Append(Msg(i));
      if (!seq.ok()) return seq.status();
    }
    const Clock::time_point t1 = Clock::now();
    if (absl::Status s = (*store)->Close(); !s.ok()) return s;
    const Clock::time_point t2 = Clock::now();
    d->append_s = Seconds(t1 - t0);
    d->close_s = Seconds(t2 - t1);
  }
  const Clock::time_point t0 = Clock::now();
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(d->dir, StoreOptions{});
  d->reopen_s = Seconds(Clock::now() - t0);
  if (!store.ok()) return store.status();
  d->store = std::move(*store);
  d->stream = d->store->Find("seek");
  if (d->stream == nullptr) return absl::NotFoundError("stream seek after reopen");
  d->last = d->stream->log().last_seq();
  if (d->last != kSeekMsgs || d->stream->indexed_seq() != kSeekMsgs) {
    return absl::InternalError(absl::StrCat("after reopen: last ", d->last, ", indexed ", d->stream->indexed_seq()));
  }
  const engine::LogStats st = d->stream->log().stats();
  d->log_bytes = st.bytes;
  d->segments = st.segments;
  d->index_file_bytes = FileBytes(d->dir + "/index/data.mdb");
  d->map_size = d->store->env().map_size();
  absl::StatusOr<std::unique_ptr<Reader>> r = Reader::Open(d->stream->dir());
  if (!r.ok()) return r.status();
  Record rec;
  if (absl::Status s = (*r)->Next(&rec); !s.ok()) return s;
  d->first_ts = rec.timestamp_ns;
  if (absl::Status s = (*r)->SeekToLast(); !s.ok()) return s;
  if (absl::Status s = (*r)->Next(&rec); !s.ok()) return s;
  d->last_ts = rec.timestamp_ns;
  return absl::OkStatus();
}

SeekData* SeekStoreOrFail(benchmark::State& state) {
  static bool tried = false;
  SeekData& d = SeekStore();
  if (!tried) {
    tried = true;
    d.status = BuildSeekStore(&d);
    std::fprintf(stderr, "index_bench: 10 M-message stream: appended in %.2f s, Close (indexing it all) %.2f s, "
                 "reopened in %.1f ms\n", d.append_s, d.close_s, d.reopen_s * 1e3);
  }
  if (!d.status.ok() || d.store == nullptr) {
    Fail(state, "build the 10 M-message stream", d.status.ok() ? absl::FailedPreconditionError("released") : d.status);
    return nullptr;
  }
  return &d;
}

void ReleaseSeekStore() {
  SeekData& d = SeekStore();
  if (d.store != nullptr) (void)d.store->Close();
  d.store.reset();
  d.stream = nullptr;
  if (!d.dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(d.dir, ec);
  }
}

enum class SeekHow { kSeqIndex, kTimeIndex, kSeqScan, kTimeScan };

const char* SeekName(SeekHow h) {
  switch (h) {
    case SeekHow::kSeqIndex: return "seq_index";
    case SeekHow::kTimeIndex: return "time_index";
    case SeekHow::kSeqScan: return "seq_scan";
    case SeekHow::kTimeScan: return "time_scan";
  }
  return "?";
}

// One iteration = one positioning of a Reader (reused across iterations, as
// a consumer's would be) and one Next, to a uniformly random target.
void BM_Seek(benchmark::State& state, SeekHow how) {
  SeekData* d = SeekStoreOrFail(state);
  if (d == nullptr) return;
  absl::StatusOr<std::unique_ptr<Reader>> reader = Reader::Open(d->stream->dir());
  if (!reader.ok()) return Fail(state, "reader open", reader.status());
  Reader* r = reader->get();
  const bool by_time = how == SeekHow::kTimeIndex || how == SeekHow::kTimeScan;
  std::mt19937_64 rng(1000 + static_cast<int>(how));
  std::vector<uint64_t> seqs;
  std::vector<int64_t> times;
  const size_t n = static_cast<size_t>(state.max_iterations);
  for (size_t i = 0; i < n; ++i) {
    seqs.push_back(1 + rng() % d->last);
    times.push_back(d->first_ts + static_cast<int64_t>(rng() % static_cast<uint64_t>(d->last_ts - d->first_ts + 1)));
  }
  std::vector<double> ns;
  ns.reserve(n);
  std::vector<uint64_t> found;  // sequence returned, per target (time seeks)
  uint64_t wrong = 0, errors = 0;
  size_t i = 0;
  Record rec;
  absl::Status first_error;
  for (auto _ : state) {
    const uint64_t seq = seqs[i];
    const int64_t ts = times[i];
    ++i;
    const Clock::time_point t0 = Clock::now();
    absl::Status s;
    switch (how) {
      case SeekHow::kSeqIndex: s = d->stream->Seek(r, seq); break;
      case SeekHow::kTimeIndex: s = d->stream->SeekTime(r, ts); break;
      case SeekHow::kSeqScan: s = r->SeekToSequence(seq); break;
      case SeekHow::kTimeScan: s = r->SeekToTime(ts); break;
    }
    if (s.ok()) s = r->Next(&rec);
    const Clock::time_point t1 = Clock::now();
    state.SetIterationTime(Seconds(t1 - t0));
    if (!s.ok()) {
      if (first_error.ok()) first_error = s;
      ++errors;
      found.push_back(0);
      continue;
    }
    ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
    if (by_time) {
      if (rec.timestamp_ns < ts) ++wrong;
      found.push_back(rec.sequence);
    } else if (rec.sequence != seq) {
      ++wrong;
    }
  }
  // Time seeks: the first 100 answers checked against a plain scan
  // (Reader::SeekToTime on a second reader), untimed.
  if (by_time && how == SeekHow::kTimeIndex) {
    absl::StatusOr<std::unique_ptr<Reader>> check = Reader::Open(d->stream->dir());
    if (!check.ok()) return Fail(state, "reader open", check.status());
    for (size_t k = 0; k < std::min<size_t>(100, found.size()); ++k) {
      if ((*check)->SeekToTime(times[k]).ok() && (*check)->Next(&rec).ok() && rec.sequence != found[k]) ++wrong;
    }
  }
  if (errors != 0) {
    std::fprintf(stderr, "index_bench: %s: %llu seeks failed, first: %s\n", SeekName(how),
                 static_cast<unsigned long long>(errors), StatusText(first_error).c_str());
  }
  AddLatencyCounters(state, ns);
  state.counters["wrong"] = static_cast<double>(wrong);
  state.counters["errors"] = static_cast<double>(errors);
  state.counters["stream_msgs"] = static_cast<double>(d->last);
  if (how == SeekHow::kSeqIndex) {
    state.counters["build_append_s"] = d->append_s;
    state.counters["build_close_s"] = d->close_s;
    state.counters["reopen_ms"] = d->reopen_s * 1e3;
    state.counters["log_bytes"] = static_cast<double>(d->log_bytes);
    state.counters["segments"] = static_cast<double>(d->segments);
    state.counters["index_file_bytes"] = static_cast<double>(d->index_file_bytes);
    state.counters["map_size"] = static_cast<double>(d->map_size);
  }
  state.SetItemsProcessed(state.iterations());
}

// The halves of an indexed sequence seek. lookup: StreamIndex::SeekSequence
// alone (an LMDB read transaction, a cursor, one range lookup). position:
// Reader::SeekToPosition from that entry + Next (the positions looked up
// beforehand, untimed).
void BM_SeekPart(benchmark::State& state, bool lookup) {
  SeekData* d = SeekStoreOrFail(state);
  if (d == nullptr) return;
  StreamIndex idx(&d->store->env(), d->stream->entry().stream_no);
  if (absl::Status s = idx.Load(); !s.ok()) return Fail(state, "index load", s);
  absl::StatusOr<std::unique_ptr<Reader>> reader = Reader::Open(d->stream->dir());
  if (!reader.ok()) return Fail(state, "reader open", reader.status());
  std::mt19937_64 rng(2000 + lookup);
  const size_t n = static_cast<size_t>(state.max_iterations);
  std::vector<uint64_t> seqs;
  std::vector<IndexPosition> pos;
  for (size_t i = 0; i < n; ++i) {
    seqs.push_back(1 + rng() % d->last);
    if (!lookup) {
      absl::StatusOr<IndexPosition> p = idx.SeekSequence(seqs.back());
      if (!p.ok()) return Fail(state, "lookup", p.status());
      pos.push_back(*p);
    }
  }
  std::vector<double> ns;
  ns.reserve(n);
  size_t i = 0;
  uint64_t wrong = 0;
  Record rec;
  for (auto _ : state) {
    const uint64_t seq = seqs[i];
    const Clock::time_point t0 = Clock::now();
    absl::Status s;
    if (lookup) {
      absl::StatusOr<IndexPosition> p = idx.SeekSequence(seq);
      s = p.status();
      if (s.ok() && p->seq > seq) ++wrong;
    } else {
      s = (*reader)->SeekToPosition(pos[i].segment_base, pos[i].offset, seq);
      if (s.ok()) s = (*reader)->Next(&rec);
      if (s.ok() && rec.sequence != seq) ++wrong;
    }
    const Clock::time_point t1 = Clock::now();
    ++i;
    state.SetIterationTime(Seconds(t1 - t0));
    if (!s.ok()) {
      Fail(state, lookup ? "lookup" : "position", s);
      break;
    }
    ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
  }
  AddLatencyCounters(state, ns);
  state.counters["wrong"] = static_cast<double>(wrong);
  state.SetItemsProcessed(state.iterations());
}

// The parts of Reader::SeekToPosition besides reading frames
// (engine/reader.cc): listing the stream directory (RefreshSegments), which
// it did on every call before df545df and no longer does, and opening and
// mapping the segment, checking its header and unmapping the previous one
// (OpenSegmentBase), which it does on every seek into another segment.
//   list_dir:     FileSystem::List of the stream directory
//   open_segment: SegmentFile::Open of a random segment + DecodeSegmentIdentity,
//                 replacing (unmapping, closing) the previous one
void BM_SeekCost(benchmark::State& state, bool list) {
  SeekData* d = SeekStoreOrFail(state);
  if (d == nullptr) return;
  engine::FileSystem* fs = engine::DefaultFileSystem();
  const std::string dir = d->stream->dir();
  absl::StatusOr<std::vector<std::string>> names = fs->List(dir);
  if (!names.ok()) return Fail(state, "list", names.status());
  std::vector<std::string> segments;
  for (const std::string& n : *names) {
    uint64_t base;
    if (engine::ParseSegmentFileName(n, &base)) segments.push_back(absl::StrCat(dir, "/", n));
  }
  if (segments.empty()) return Fail(state, "list", absl::NotFoundError("no segments"));
  std::mt19937_64 rng(3000 + list);
  std::vector<double> ns;
  ns.reserve(static_cast<size_t>(state.max_iterations));
  engine::SegmentFile cur;
  for (auto _ : state) {
    const std::string& path = segments[rng() % segments.size()];
    const Clock::time_point t0 = Clock::now();
    absl::Status s;
    if (list) {
      absl::StatusOr<std::vector<std::string>> l = fs->List(dir);
      s = l.status();
      if (s.ok()) benchmark::DoNotOptimize(l->data());
    } else {
      absl::StatusOr<engine::SegmentFile> f = engine::SegmentFile::Open(fs, path, false);
      s = f.status();
      if (s.ok()) {
        engine::SegmentIdentity id;
        s = engine::DecodeSegmentIdentity(f->data(), path, &id);
        cur = std::move(*f);
      }
    }
    const Clock::time_point t1 = Clock::now();
    state.SetIterationTime(Seconds(t1 - t0));
    if (!s.ok()) {
      Fail(state, list ? "list" : "open segment", s);
      break;
    }
    ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
  }
  AddLatencyCounters(state, ns);
  state.counters["dir_entries"] = static_cast<double>(names->size());
  state.SetItemsProcessed(state.iterations());
}

// Not a code path that exists: the indexed sequence seek as it would cost
// if a reader kept every segment mapped and did not list the directory per
// seek. Every segment is mapped once beforehand; each iteration is the
// index lookup (StreamIndex::SeekSequence) plus a scan from the entry with
// PeekFrame to the target, whose frame is then decoded and checksummed as
// Reader::Next does. The bound for BM_Seek/seq_index.
void BM_SeekPremapped(benchmark::State& state) {
  SeekData* d = SeekStoreOrFail(state);
  if (d == nullptr) return;
  engine::FileSystem* fs = engine::DefaultFileSystem();
  const std::string dir = d->stream->dir();
  absl::StatusOr<std::vector<std::string>> names = fs->List(dir);
  if (!names.ok()) return Fail(state, "list", names.status());
  std::map<uint64_t, engine::SegmentFile> maps;
  for (const std::string& n : *names) {
    uint64_t base;
    if (!engine::ParseSegmentFileName(n, &base)) continue;
    absl::StatusOr<engine::SegmentFile> f = engine::SegmentFile::Open(fs, absl::StrCat(dir, "/", n), false);
    if (!f.ok()) return Fail(state, "open segment", f.status());
    maps.emplace(base, std::move(*f));
  }
  StreamIndex idx(&d->store->env(), d->stream->entry().stream_no);
  if (absl::Status s = idx.Load(); !s.ok()) return Fail(state, "index load", s);
  std::mt19937_64 rng(4000);
  std::vector<double> ns;
  ns.reserve(static_cast<size_t>(state.max_iterations));
  uint64_t wrong = 0;
  for (auto _ : state) {
    const uint64_t seq = 1 + rng() % d->last;
    const Clock::time_point t0 = Clock::now();
    absl::StatusOr<IndexPosition> pos = idx.SeekSequence(seq);
    bool ok = false;
    if (pos.ok()) {
      auto it = maps.find(pos->segment_base);
      if (it != maps.end()) {
        const char* data = it->second.data();
        const uint64_t size = it->second.size();
        uint64_t off = pos->offset;
        uint32_t len;
        uint64_t got;
        while (off < size && engine::PeekFrame(data + off, size - off, &len, &got) && got < seq) {
          off += (uint64_t{len} + engine::kFrameAlign - 1) / engine::kFrameAlign * engine::kFrameAlign;
        }
        engine::FrameView f;
        ok = off < size && engine::DecodeFrame(data + off, size - off, &f) == engine::FrameStatus::kOk &&
             f.sequence == seq;
        benchmark::DoNotOptimize(f.stored_payload.data());
      }
    }
    const Clock::time_point t1 = Clock::now();
    state.SetIterationTime(Seconds(t1 - t0));
    if (!ok) ++wrong;
    ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
  }
  AddLatencyCounters(state, ns);
  state.counters["wrong"] = static_cast<double>(wrong);
  state.SetItemsProcessed(state.iterations());
}

// ---- reopen ----

struct ReopenData {
  absl::Status status;
  std::string store_dir, log_dir;
  double store_build_s = 0, log_build_s = 0;
};

// A 1 GiB stream (128 B payloads, 64 MiB segments) twice: in a Store
// (stream "reopen", sync=never, so that a writer's tail stays unsynced and
// unindexed until the next open) and as a bare engine log.
// n messages appended to a new stream "reopen" of a new Store in `dir`,
// under sync=never; then the store is closed.
absl::Status BuildReopenStore(const std::string& dir, uint64_t n) {
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir, StoreOptions{});
  if (!store.ok()) return store.status();
  absl::StatusOr<StoredStream*> stream = (*store)->CreateStream(Config("reopen", SyncMode::kNever));
  if (!stream.ok()) return stream.status();
  absl::Status s;
  for (uint64_t i = 1; i <= n && s.ok(); ++i) s = (*stream)->Append(Msg(i)).status();
  absl::Status c = (*store)->Close();
  return s.ok() ? c : s;
}

// The same as a bare engine log in `dir`.
absl::Status BuildReopenLog(const std::string& dir, uint64_t n) {
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(dir, EngineOptions(SyncMode::kNever));
  if (!log.ok()) return log.status();
  absl::Status s;
  for (uint64_t i = 1; i <= n && s.ok(); ++i) s = (*log)->Append(Msg(i)).status();
  absl::Status c = (*log)->Close();
  return s.ok() ? c : s;
}

ReopenData& ReopenStreams() {
  static ReopenData d = [] {
    ReopenData r;
    r.store_dir = BenchRoot() + "/reopen-store";
    r.log_dir = BenchRoot() + "/reopen-log";
    const uint64_t n = kReopenBytes / FrameBytes();
    Clock::time_point t0 = Clock::now();
    r.status = BuildReopenStore(r.store_dir, n);
    r.store_build_s = Seconds(Clock::now() - t0);
    if (!r.status.ok()) return r;
    t0 = Clock::now();
    r.status = BuildReopenLog(r.log_dir, n);
    r.log_build_s = Seconds(Clock::now() - t0);
    if (r.status.ok()) {
      std::fprintf(stderr, "index_bench: 1 GiB streams built: store %.2f s, engine log %.2f s\n", r.store_build_s,
                   r.log_build_s);
    }
    return r;
  }();
  return d;
}

struct OpenResult {
  double open_ns = 0, close_ns = 0;
  engine::RecoveryStats rec;
  uint64_t last = 0, indexed = 0, log_bytes = 0;
};

// Opens the store (or the bare log), then closes it; times both.
absl::Status TimedOpen(bool store, OpenResult* out) {
  ReopenData& d = ReopenStreams();
  const Clock::time_point t0 = Clock::now();
  if (store) {
    absl::StatusOr<std::unique_ptr<Store>> s = Store::Open(d.store_dir, StoreOptions{});
    const Clock::time_point t1 = Clock::now();
    if (!s.ok()) return s.status();
    StoredStream* st = (*s)->Find("reopen");
    if (st == nullptr) return absl::NotFoundError("stream reopen");
    out->rec = st->log().recovery();
    out->last = st->log().last_seq();
    out->indexed = st->indexed_seq();
    out->log_bytes = st->log().stats().bytes;
    absl::Status c = (*s)->Close();
    out->open_ns = std::chrono::duration<double, std::nano>(t1 - t0).count();
    out->close_ns = std::chrono::duration<double, std::nano>(Clock::now() - t1).count();
    return c;
  }
  LogOptions opt = EngineOptions(SyncMode::kNever);
  opt.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(d.log_dir, opt);
  const Clock::time_point t1 = Clock::now();
  if (!log.ok()) return log.status();
  out->rec = (*log)->recovery();
  out->last = (*log)->last_seq();
  out->log_bytes = (*log)->stats().bytes;
  absl::Status c = (*log)->Close();
  out->open_ns = std::chrono::duration<double, std::nano>(t1 - t0).count();
  out->close_ns = std::chrono::duration<double, std::nano>(Clock::now() - t1).count();
  return c;
}

void ReportOpens(benchmark::State& state, const std::vector<double>& open_ns, const std::vector<double>& close_ns,
                 const OpenResult& last) {
  AddLatencyCounters(state, open_ns);
  double sum = 0;
  for (double c : close_ns) sum += c;
  state.counters["close_ms"] = close_ns.empty() ? 0 : sum / static_cast<double>(close_ns.size()) / 1e6;
  state.counters["segments"] = static_cast<double>(last.rec.segments);
  state.counters["frames_scanned"] = static_cast<double>(last.rec.frames_scanned);
  state.counters["bytes_scanned"] = static_cast<double>(last.rec.bytes_scanned);
  state.counters["log_bytes"] = static_cast<double>(last.log_bytes);
  state.counters["last_seq"] = static_cast<double>(last.last);
}

void BM_StoreReopen(benchmark::State& state, bool store) {
  ReleaseSeekStore();  // nothing open across the forks of the next benchmark
  ReopenData& d = ReopenStreams();
  if (!d.status.ok()) return Fail(state, "build 1 GiB streams", d.status);
  std::vector<double> open_ns, close_ns;
  OpenResult r;
  for (auto _ : state) {
    if (absl::Status s = TimedOpen(store, &r); !s.ok()) {
      Fail(state, "reopen", s);
      break;
    }
    state.SetIterationTime(r.open_ns / 1e9);
    open_ns.push_back(r.open_ns);
    close_ns.push_back(r.close_ns);
  }
  ReportOpens(state, open_ns, close_ns, r);
  state.counters["build_s"] = store ? d.store_build_s : d.log_build_s;
}

// Each iteration: a child process opens the stream (through a Store, or as
// a bare log), appends <MiB> MiB of 128-byte messages under sync=never and
// _exit()s without closing: the tail is neither synced nor indexed, and
// there is no clean-close record. Then the timed open recovers the log
// (scan and sync of the tail) and, for the store, indexes the tail. The
// stream grows by <MiB> MiB per iteration.
void BM_ReopenAfterKill(benchmark::State& state, bool store) {
  ReleaseSeekStore();
  ReopenData& d = ReopenStreams();
  if (!d.status.ok()) return Fail(state, "build 1 GiB streams", d.status);
  const uint64_t tail_msgs = static_cast<uint64_t>(state.range(0)) * kMiB / FrameBytes();
  std::vector<double> open_ns, close_ns;
  OpenResult r;
  uint64_t wrong = 0;
  for (auto _ : state) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      if (store) {
        absl::StatusOr<std::unique_ptr<Store>> s = Store::Open(d.store_dir, StoreOptions{});
        if (!s.ok()) _exit(2);
        StoredStream* st = (*s)->Find("reopen");
        if (st == nullptr) _exit(2);
        for (uint64_t i = 1; i <= tail_msgs; ++i) {
          if (!st->Append(Msg(i)).ok()) _exit(3);
        }
        _exit(0);  // here, before the destructors would close the store cleanly
      } else {
        LogOptions opt = EngineOptions(SyncMode::kNever);
        opt.create_if_missing = false;
        absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(d.log_dir, opt);
        if (!log.ok()) _exit(2);
        for (uint64_t i = 1; i <= tail_msgs; ++i) {
          if (!(*log)->Append(Msg(i)).ok()) _exit(3);
        }
        _exit(0);
      }
    }
    int wstatus = 0;
    if (pid < 0 || ::waitpid(pid, &wstatus, 0) != pid || !WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
      state.SkipWithError(absl::StrCat("writer child failed (status ", wstatus, ")").c_str());
      break;
    }
    const uint64_t before = r.last;
    if (absl::Status s = TimedOpen(store, &r); !s.ok()) {
      Fail(state, "reopen", s);
      break;
    }
    if (before != 0 && r.last != before + tail_msgs) ++wrong;  // the whole tail survived
    if (store && r.indexed != r.last) ++wrong;                  // and is indexed
    if (r.rec.frames_scanned == 0) ++wrong;                     // and was recovered, not closed cleanly
    state.SetIterationTime(r.open_ns / 1e9);
    open_ns.push_back(r.open_ns);
    close_ns.push_back(r.close_ns);
  }
  ReportOpens(state, open_ns, close_ns, r);
  state.counters["tail_msgs"] = static_cast<double>(tail_msgs);
  state.counters["wrong"] = static_cast<double>(wrong);
}

// ---- registration ----

// ---------------------------------------------------------------- consumer acks

// BM_ConsumerAcks/<batch>/<sync>: a durable consumer on a stream of 128-byte
// messages takes `batch` messages (Next), acknowledges each (Ack), and
// commits its state once per batch (Commit, synced or not). Timed apart:
// the acknowledgement side (Ack calls + the commit) and the whole cycle.
void BM_ConsumerAcks(benchmark::State& state, bool sync) {
  const uint64_t batch = static_cast<uint64_t>(state.range(0));
  const uint64_t msgs = std::max<uint64_t>(batch * state.max_iterations, 1);
  bench::ScratchDir dir("acks");
  auto store = Store::Open(dir.path(), {});
  if (!store.ok()) return bench::Fail(state, "open store", store.status());
  auto stream = (*store)->CreateStream(Config("ACKS", SyncMode::kNever));
  if (!stream.ok()) return bench::Fail(state, "create stream", stream.status());
  for (uint64_t i = 0; i < msgs; ++i) {
    if (absl::StatusOr<uint64_t> a = (*stream)->Append(Msg(i)); !a.ok()) return bench::Fail(state, "append", a.status());
  }
  ConsumerConfig cc;
  cc.name = "C";
  cc.max_ack_pending = -1;
  auto consumer = (*stream)->CreateConsumer(cc, 0);
  if (!consumer.ok()) return bench::Fail(state, "create consumer", consumer.status());
  Consumer* c = *consumer;
  std::vector<uint64_t> seqs(batch);
  double ack_s = 0, cycle_s = 0;
  uint64_t acked = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    Delivery d;
    size_t n = 0;
    for (; n < batch; ++n) {
      absl::StatusOr<bool> r = c->Next(0, &d);
      if (!r.ok()) return bench::Fail(state, "next", r.status());
      if (!*r) break;
      seqs[n] = d.record.sequence;
    }
    const auto t1 = Clock::now();
    for (size_t i = 0; i < n; ++i) {
      if (absl::Status a = c->Ack(seqs[i]); !a.ok()) return bench::Fail(state, "ack", a);
    }
    if (absl::Status cm = c->Commit(sync); !cm.ok()) return bench::Fail(state, "commit", cm);
    const auto t2 = Clock::now();
    ack_s += Seconds(t2 - t1);
    cycle_s += Seconds(t2 - t0);
    acked += n;
    state.SetIterationTime(Seconds(t2 - t0));
  }
  if (acked != msgs) return bench::Fail(state, "count", absl::InternalError(absl::StrCat("acked ", acked, " of ", msgs)));
  state.counters["acks_per_s"] = static_cast<double>(acked) / ack_s;
  state.counters["deliver_ack_per_s"] = static_cast<double>(acked) / cycle_s;
  state.counters["commit_us"] = ack_s / static_cast<double>(state.iterations()) * 1e6;
  (void)(*store)->Close();
}

void Register() {
  for (SyncMode m : {SyncMode::kNever, SyncMode::kInterval, SyncMode::kAlways}) {
    for (bool staged : {false, true}) {
      if (staged && m != SyncMode::kAlways) continue;  // staging applies to kAlways only
      benchmark::RegisterBenchmark(absl::StrCat("BM_IndexAppend/", ModeName(m), staged ? "_staged" : "").c_str(),
                                   BM_IndexAppend, m, staged)
          ->Iterations(1)
          ->Repetitions(9)
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  for (bool sync : {false, true}) {
    for (int batch : {1, 100, 1000, 10000}) {
      if (sync && batch == 1) continue;
      benchmark::RegisterBenchmark(absl::StrCat("BM_ConsumerAcks/", sync ? "synced" : "unsynced").c_str(),
                                   BM_ConsumerAcks, sync)
          ->Arg(batch)
          ->Iterations(batch == 1 ? 20'000 : std::max(20, 2'000'000 / batch / (sync ? 10 : 1)))
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
    }
  }
  benchmark::RegisterBenchmark("BM_AckLatencyAlways", BM_AckLatencyAlways)
      ->Arg(1)
      ->Arg(100)
      ->Iterations(300)
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
  for (SeekHow h : {SeekHow::kSeqIndex, SeekHow::kTimeIndex, SeekHow::kSeqScan, SeekHow::kTimeScan}) {
    const bool scan = h == SeekHow::kSeqScan || h == SeekHow::kTimeScan;
    benchmark::RegisterBenchmark(absl::StrCat("BM_Seek/", SeekName(h)).c_str(), BM_Seek, h)
        ->Iterations(scan ? 300 : 100'000)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::RegisterBenchmark("BM_SeekPart/lookup", BM_SeekPart, true)
      ->Iterations(100'000)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_SeekPart/position", BM_SeekPart, false)
      ->Iterations(100'000)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_SeekPremapped", BM_SeekPremapped)
      ->Iterations(100'000)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  for (bool list : {true, false}) {
    benchmark::RegisterBenchmark(list ? "BM_SeekCost/list_dir" : "BM_SeekCost/open_segment", BM_SeekCost, list)
        ->Iterations(20'000)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  }
  for (bool store : {false, true}) {
    benchmark::RegisterBenchmark(absl::StrCat("BM_StoreReopen/", store ? "store" : "engine").c_str(),
                                 BM_StoreReopen, store)
        ->Iterations(20)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
  for (int mib : {8, 64}) {
    for (bool store : {false, true}) {
      benchmark::RegisterBenchmark(absl::StrCat("BM_ReopenAfterKill/", store ? "store" : "engine").c_str(),
                                   BM_ReopenAfterKill, store)
          ->Arg(mib)
          ->Iterations(5)
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
}

}  // namespace
}  // namespace shortbus::index

int main(int argc, char** argv) {
  return shortbus::bench::RunBenchmarks("index_bench", argc, argv, shortbus::index::Register,
                                        shortbus::index::ReleaseSeekStore);
}
