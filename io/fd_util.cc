#include "io/fd_util.h"

#include <errno.h>
#include <fcntl.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace shortbus::io {

absl::Status SetNonBlocking(int fd, bool on) {
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return ErrnoStatus("fcntl(F_GETFL)", errno);
  const int want = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (want != flags && fcntl(fd, F_SETFL, want) != 0) return ErrnoStatus("fcntl(F_SETFL)", errno);
  return absl::OkStatus();
}

absl::Status ErrnoStatus(std::string_view what, int err) {
  std::string msg = absl::StrCat(absl::string_view(what.data(), what.size()), ": ", strerror(err));
  switch (err) {
    case ENOENT: return absl::NotFoundError(msg);
    case EEXIST:
    case EADDRINUSE: return absl::AlreadyExistsError(msg);
    case EACCES:
    case EPERM: return absl::PermissionDeniedError(msg);
    case ENOSYS:
    case EOPNOTSUPP:
    case EAGAIN: return absl::UnavailableError(msg);
    default: return absl::InternalError(msg);
  }
}

}  // namespace shortbus::io
