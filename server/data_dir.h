// The daemon's data directory: creating it, and the small files the daemon
// publishes there (shortbus.port). The one-daemon-per-directory lock is the
// index::Store's (<data>/LOCK, taken by Store::Open, naming the pid).
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

// Writes `contents` to `path` so that readers see the old file or the whole
// new one: written to a temporary beside it, then renamed over it.
absl::Status WriteFileAtomically(const std::string& path, std::string_view contents);

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_DATA_DIR_H_
