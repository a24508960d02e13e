// Helpers shared by engine_bench and index_bench: the bench root and its
// scratch directories, error reporting, latency counters, names for the
// JSON context and benchmark names, and main() itself (RunBenchmarks).
#ifndef SHORTBUS_BENCH_BENCH_UTIL_H_
#define SHORTBUS_BENCH_BENCH_UTIL_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "benchmark/benchmark.h"
#include "engine/log.h"

namespace shortbus::bench {

// The directory of this run ($SHORTBUS_BENCH_DIR, else $TMPDIR, else /tmp,
// then shortbus-bench-<pid>), set by RunBenchmarks and removed at exit.
std::string& BenchRoot();

// A fresh, empty directory under the bench root; removed by the destructor.
class ScratchDir {
 public:
  explicit ScratchDir(const char* name);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// "<code>: <message>".
std::string StatusText(const absl::Status& s);

// Prints "<program>: <what>: <code>: <message>" and skips the benchmark
// with that error.
void Fail(benchmark::State& state, const std::string& what, const absl::Status& s);

// For benchmarks that run repetitions: Google Benchmark 1.7.1 crashes
// computing the aggregates when the first repetition was skipped with an
// error (ComputeStats reads its statistics, which error runs lack). So such
// a run records the error in its label ("<label>: <what>: <code>:
// <message>") and sets the counter `counter` to 1, and the loop runs out
// doing nothing; bench/report.py reports it as failed.
struct ErrorFlag {
  const char* counter;  // e.g. "bench_error"
  const char* label;    // e.g. "error"
};
void FlagError(benchmark::State& state, const ErrorFlag& flag, const std::string& what, const absl::Status& s);

// Which percentiles AddLatencyCounters reports.
enum class Latency {
  kP50P99,  // <prefix>p50_us, p99_us
  kFull,    // also p90_us, p999_us, max_us, mean_us and samples
};

// Percentiles of per-operation latencies (ns), as microsecond counters named
// <prefix>p50_us etc.
void AddLatencyCounters(benchmark::State& state, std::vector<double> ns, const std::string& prefix = "",
                        Latency which = Latency::kFull);

// The file system `path` is on ("ext4", "tmpfs", ... or its magic in hex).
std::string FileSystemName(const std::string& path);

// CPU time (ns) used so far by this process's live threads named `name`
// (engine/thread_name.h), from /proc/self/task/*/schedstat. A thread that
// has exited no longer counts: read it while the threads run.
uint64_t NamedThreadsCpuNs(const std::string& name);

// "never", "interval", "always": as in benchmark names.
const char* ModeName(engine::SyncMode m);

// The whole of main(): registers the benchmarks, parses the flags, creates
// the bench root (reported in the JSON context as bench_dir and bench_fs),
// runs, then calls `before_cleanup` (if not null) and removes the bench
// root. `program` prefixes error messages on stderr.
int RunBenchmarks(const char* program, int argc, char** argv, void (*register_benchmarks)(),
                  void (*before_cleanup)());

}  // namespace shortbus::bench

#endif  // SHORTBUS_BENCH_BENCH_UTIL_H_
