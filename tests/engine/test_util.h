// Helpers shared by the engine tests.
#ifndef SHORTBUS_TESTS_ENGINE_TEST_UTIL_H_
#define SHORTBUS_TESTS_ENGINE_TEST_UTIL_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "engine/log.h"
#include "engine/options.h"

namespace shortbus::engine::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it
// when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Options for tests: 1 MiB segments, no background sync, prefault off, and
// a reporter that collects into `reports` (which must outlive the Log).
LogOptions SmallOptions(std::vector<CorruptionReport>* reports = nullptr);

// Payload of `len` bytes derived from `seq`, so a test can check what it reads.
std::string PayloadFor(uint64_t seq, size_t len);

// Every record a new Reader serves from the start of the stream in `dir`,
// expecting no error and payloads made by PayloadFor(seq, payload_len):
// their sequences.
std::vector<uint64_t> ReadSequences(const std::string& dir, size_t payload_len);

// Names of the files in `dir`, sorted.
std::vector<std::string> ListDir(const std::string& dir);

// Base sequences of the segment files in a stream directory, ascending.
std::vector<uint64_t> SegmentBases(const std::string& dir);

// Reads/writes a whole file.
std::string ReadFile(const std::string& path);
// Polls `cond` every millisecond until it holds or `limit` passes; returns
// its last value.
bool WaitUntil(const std::function<bool()>& cond, absl::Duration limit = absl::Seconds(30));
void WriteFileAt(const std::string& path, uint64_t offset, const std::string& bytes);

}  // namespace shortbus::engine::testing

#endif  // SHORTBUS_TESTS_ENGINE_TEST_UTIL_H_
