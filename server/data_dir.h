// The daemon's data directory: creating it, the one-daemon-per-directory
// lock, and the small files the daemon publishes there (shortbus.port).
//
// Locking happens in one place: DataDirLock::Acquire, over
// index::LockDataDirectory (flock on <data>/LOCK holding the pid). When the
// daemon opens an index::Store on the directory (the streams issue), the
// Store takes that same lock itself (Store::Open), so the daemon must then
// open the Store *instead of* acquiring a DataDirLock, never both: flock is
// per open file, and a second flock from the same process would fail.
#ifndef SHORTBUS_SERVER_DATA_DIR_H_
#define SHORTBUS_SERVER_DATA_DIR_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shortbus::server {

// Creates `dir` (and missing parents) if it does not exist; the directory
// itself is created with mode 0700. An existing directory is left as it is.
absl::Status EnsureDataDir(const std::string& dir);

// Holds <dir>/LOCK for its lifetime.
class DataDirLock {
 public:
  // Unavailable "data directory DIR is in use by pid N" when another
  // process holds it.
  static absl::StatusOr<DataDirLock> Acquire(const std::string& dir);
  DataDirLock(DataDirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DataDirLock& operator=(DataDirLock&& other) noexcept;
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// Writes `contents` to `path` so that readers see the old file or the whole
// new one: written to a temporary beside it, then renamed over it.
absl::Status WriteFileAtomically(const std::string& path, std::string_view contents);

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_DATA_DIR_H_
