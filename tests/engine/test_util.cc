#include "tests/engine/test_util.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "absl/time/clock.h"
#include "engine/reader.h"
#include "engine/segment_header.h"

namespace shortbus::engine::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/shortbus-test-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

LogOptions SmallOptions(std::vector<CorruptionReport>* reports) {
  LogOptions o;
  o.segment_size = kMinSegmentSize;
  o.sync = SyncMode::kNever;
  o.prefault_window = 0;
  if (reports != nullptr) {
    o.reporter = [reports](const CorruptionReport& r) { reports->push_back(r); };
  }
  return o;
}

std::string PayloadFor(uint64_t seq, size_t len) {
  std::string s(len, '\0');
  uint64_t x = seq * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < len; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>('a' + (x % 26));
  }
  return s;
}

std::vector<uint64_t> ReadSequences(const std::string& dir, size_t payload_len) {
  std::vector<uint64_t> seqs;
  absl::StatusOr<std::unique_ptr<Reader>> r = Reader::Open(dir);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return seqs;
  Record rec;
  while (true) {
    absl::Status s = (*r)->Next(&rec);
    if (IsEndOfData(s)) break;
    EXPECT_TRUE(s.ok()) << s;
    if (!s.ok()) break;
    EXPECT_EQ(rec.payload, PayloadFor(rec.sequence, payload_len)) << "sequence " << rec.sequence;
    seqs.push_back(rec.sequence);
  }
  return seqs;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<uint64_t> SegmentBases(const std::string& dir) {
  std::vector<uint64_t> bases;
  for (const std::string& name : ListDir(dir)) {
    uint64_t base;
    if (ParseSegmentFileName(name, &base)) bases.push_back(base);
  }
  std::sort(bases.begin(), bases.end());
  return bases;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool WaitUntil(const std::function<bool()>& cond, absl::Duration limit) {
  const absl::Time deadline = absl::Now() + limit;
  while (!cond() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  return cond();
}

void WriteFileAt(const std::string& path, uint64_t offset, const std::string& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY);
  if (fd < 0) throw std::runtime_error("open " + path);
  ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
  ::close(fd);
  if (n != static_cast<ssize_t>(bytes.size())) throw std::runtime_error("pwrite " + path);
}

}  // namespace shortbus::engine::testing
