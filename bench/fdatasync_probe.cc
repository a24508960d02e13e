// What an fdatasync costs on this file system for the ways a segment can be
// written: preallocated (posix_fallocate: unwritten extents) or zero-filled
// first (written blocks), and with or without one 8-byte store per cycle
// through a shared mapping of the same file (or of another file). Each
// cycle writes the next CHUNK bytes with pwrite, makes the store, then
// times one fdatasync. docs/architecture.md ("Deferred publication") quotes
// it.
//
// usage: fdatasync_probe DIR [--cycles N] [--chunk BYTES]
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr uint64_t kFileBytes = uint64_t{64} << 20;

enum class Store { kNone, kSameFile, kOtherFile };

struct Case {
  const char* name;
  bool zero_filled;
  Store store;
};

bool Check(bool ok, const char* what) {
  if (!ok) std::fprintf(stderr, "fdatasync_probe: %s: %s\n", what, std::strerror(errno));
  return ok;
}

bool WriteAll(int fd, const char* p, size_t n, uint64_t off) {
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (w < 0 && errno == EINTR) continue;
    if (!Check(w > 0, "pwrite")) return false;
    p += w;
    n -= static_cast<size_t>(w);
    off += static_cast<uint64_t>(w);
  }
  return true;
}

// p50, p90, p99 of the cycles' fdatasync times in microseconds; empty on error.
std::vector<double> Run(const std::string& dir, const Case& c, int cycles, size_t chunk) {
  const std::string path = dir + "/probe.seg", other = dir + "/probe.other";
  ::unlink(path.c_str());
  ::unlink(other.c_str());
  std::vector<double> us;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  const int ofd = ::open(other.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  if (!Check(fd >= 0 && ofd >= 0, "open")) return us;
  bool ok = Check(::posix_fallocate(fd, 0, kFileBytes) == 0, "posix_fallocate") &&
            Check(::ftruncate(ofd, 4096) == 0, "ftruncate");
  if (ok && c.zero_filled) {
    const std::vector<char> zeros(1 << 20, 0);
    for (uint64_t off = 0; ok && off < kFileBytes; off += zeros.size()) ok = WriteAll(fd, zeros.data(), zeros.size(), off);
    ok = ok && Check(::fdatasync(fd) == 0, "fdatasync");
  }
  void* map = ok ? ::mmap(nullptr, kFileBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
  void* omap = ok ? ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ofd, 0) : MAP_FAILED;
  ok = ok && Check(map != MAP_FAILED && omap != MAP_FAILED, "mmap");
  const std::vector<char> data(chunk, 'x');
  for (int i = 0; ok && i < cycles; ++i) {
    const uint64_t off = 4096 + static_cast<uint64_t>(i) * chunk;
    if (off + chunk > kFileBytes) break;
    ok = WriteAll(fd, data.data(), chunk, off);
    if (c.store == Store::kSameFile) *static_cast<volatile uint64_t*>(map) = static_cast<uint64_t>(i);
    if (c.store == Store::kOtherFile) *static_cast<volatile uint64_t*>(omap) = static_cast<uint64_t>(i);
    const auto t0 = std::chrono::steady_clock::now();
    ok = ok && Check(::fdatasync(fd) == 0, "fdatasync");
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  if (map != MAP_FAILED) ::munmap(map, kFileBytes);
  if (omap != MAP_FAILED) ::munmap(omap, 4096);
  ::close(fd);
  ::close(ofd);
  ::unlink(path.c_str());
  ::unlink(other.c_str());
  if (!ok || us.empty()) return {};
  std::sort(us.begin(), us.end());
  const auto at = [&](double q) { return us[std::min(us.size() - 1, static_cast<size_t>(q * us.size()))]; };
  return {at(0.50), at(0.90), at(0.99)};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fdatasync_probe DIR [--cycles N] [--chunk BYTES]\n");
    return 2;
  }
  const std::string dir = argv[1];
  int cycles = 1000;
  size_t chunk = 48 << 10;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--cycles") == 0) cycles = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--chunk") == 0) chunk = static_cast<size_t>(std::atol(argv[i + 1]));
    else {
      std::fprintf(stderr, "fdatasync_probe: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  if (cycles <= 0 || chunk == 0) {
    std::fprintf(stderr, "fdatasync_probe: --cycles and --chunk must be positive\n");
    return 2;
  }
  const Case cases[] = {
      {"preallocated, pwrite only", false, Store::kNone},
      {"preallocated, + a store through its mapping", false, Store::kSameFile},
      {"zero-filled, pwrite only", true, Store::kNone},
      {"zero-filled, + a store through its mapping", true, Store::kSameFile},
      {"zero-filled, + a store through another file's mapping", true, Store::kOtherFile},
  };
  std::printf("| blocks and stores (%d cycles of %zu bytes) | fdatasync p50 us | p90 | p99 |\n", cycles, chunk);
  std::printf("| --- | ---: | ---: | ---: |\n");
  for (const Case& c : cases) {
    const std::vector<double> r = Run(dir, c, cycles, chunk);
    if (r.empty()) return 1;
    std::printf("| %s | %.0f | %.0f | %.0f |\n", c.name, r[0], r[1], r[2]);
  }
  return 0;
}
