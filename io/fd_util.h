// Small fd helpers shared by the pollers and the listeners (internal).
#ifndef SHORTBUS_IO_FD_UTIL_H_
#define SHORTBUS_IO_FD_UTIL_H_

#include <string_view>

#include "absl/status/status.h"

namespace shortbus::io {

// Sets or clears O_NONBLOCK on fd.
absl::Status SetNonBlocking(int fd, bool on);

// An error status "<what>: <strerror(err)>" with a code that fits err
// (kNotFound, kAlreadyExists, kPermissionDenied, kUnavailable, else
// kInternal).
absl::Status ErrnoStatus(std::string_view what, int err);

}  // namespace shortbus::io

#endif  // SHORTBUS_IO_FD_UTIL_H_
