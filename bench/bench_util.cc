#include "bench/bench_util.h"

#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace shortbus::bench {
namespace {

const char*& Program() {
  static const char* program = "bench";
  return program;
}

}  // namespace

std::string& BenchRoot() {
  static std::string root;
  return root;
}

ScratchDir::ScratchDir(const char* name) {
  static int counter = 0;
  path_ = absl::StrCat(BenchRoot(), "/", name, "-", ++counter);
  std::filesystem::remove_all(path_);
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string StatusText(const absl::Status& s) {
  return absl::StrCat(absl::StatusCodeToString(s.code()), ": ", std::string(s.message()));
}

void Fail(benchmark::State& state, const std::string& what, const absl::Status& s) {
  const std::string msg = absl::StrCat(what, ": ", StatusText(s));
  std::fprintf(stderr, "%s: %s\n", Program(), msg.c_str());
  state.SkipWithError(msg.c_str());
}

void FlagError(benchmark::State& state, const ErrorFlag& flag, const std::string& what, const absl::Status& s) {
  const std::string msg = absl::StrCat(flag.label, ": ", what, ": ", StatusText(s));
  std::fprintf(stderr, "%s: %s\n", Program(), msg.c_str());
  state.SetLabel(msg);
  state.counters[flag.counter] = 1;
}

void AddLatencyCounters(benchmark::State& state, std::vector<double> ns, const std::string& prefix,
                        Latency which) {
  if (ns.empty()) return;
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) {
    size_t i = std::min(ns.size() - 1, static_cast<size_t>(q * static_cast<double>(ns.size())));
    return ns[i] / 1e3;
  };
  state.counters[prefix + "p50_us"] = at(0.50);
  if (which == Latency::kFull) state.counters[prefix + "p90_us"] = at(0.90);
  state.counters[prefix + "p99_us"] = at(0.99);
  if (which != Latency::kFull) return;
  double sum = 0;
  for (double x : ns) sum += x;
  state.counters[prefix + "p999_us"] = at(0.999);
  state.counters[prefix + "max_us"] = ns.back() / 1e3;
  state.counters[prefix + "mean_us"] = sum / static_cast<double>(ns.size()) / 1e3;
  state.counters[prefix + "samples"] = static_cast<double>(ns.size());
}

std::string FileSystemName(const std::string& path) {
  struct statfs st;
  if (::statfs(path.c_str(), &st) != 0) return "unknown";
  switch (static_cast<uint64_t>(st.f_type)) {
    case 0xEF53: return "ext4";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x01021994: return "tmpfs";
    case 0x794c7630: return "overlayfs";
    case 0x2FC12FC1: return "zfs";
    case 0xF2F52010: return "f2fs";
  }
  return absl::StrFormat("0x%x", static_cast<uint64_t>(st.f_type));
}

uint64_t NamedThreadsCpuNs(const std::string& name) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string got;
    if (!std::getline(comm, got) || got != name) continue;
    std::ifstream schedstat(task.path() / "schedstat");
    uint64_t on_cpu_ns = 0;  // first field: time spent on the CPU
    if (schedstat >> on_cpu_ns) total += on_cpu_ns;
  }
  return total;
}

const char* ModeName(engine::SyncMode m) { return engine::SyncModeName(m).data(); }

int RunBenchmarks(const char* program, int argc, char** argv, void (*register_benchmarks)(),
                  void (*before_cleanup)()) {
  Program() = program;
  register_benchmarks();
  benchmark::Initialize(&argc, argv);  // exits on --help
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const char* base = std::getenv("SHORTBUS_BENCH_DIR");
  if (base == nullptr || *base == '\0') base = std::getenv("TMPDIR");
  if (base == nullptr || *base == '\0') base = "/tmp";
  std::error_code ec;
  std::filesystem::create_directories(base, ec);
  BenchRoot() = absl::StrCat(std::filesystem::absolute(base).string(), "/shortbus-bench-", ::getpid());
  std::filesystem::create_directories(BenchRoot(), ec);
  if (ec) {
    std::fprintf(stderr, "%s: cannot create %s: %s\n", program, BenchRoot().c_str(), ec.message().c_str());
    return 1;
  }
  benchmark::AddCustomContext("bench_dir", BenchRoot());
  benchmark::AddCustomContext("bench_fs", FileSystemName(BenchRoot()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (before_cleanup != nullptr) before_cleanup();
  std::filesystem::remove_all(BenchRoot(), ec);
  return 0;
}

}  // namespace shortbus::bench
