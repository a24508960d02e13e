#include "io/listen.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "io/fd_util.h"

namespace shortbus::io {
namespace {

constexpr int kBacklog = SOMAXCONN;

uint16_t BoundPort(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
}

bool FillUnixAddr(const std::string& path, sockaddr_un* addr) {
  if (path.empty() || path.size() >= sizeof(addr->sun_path)) return false;
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  std::memcpy(addr->sun_path, path.data(), path.size());
  return true;
}

// True if a process accepts (or queues) connections on the socket at path.
bool SomethingListens(const sockaddr_un& addr) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  const int rc = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int err = errno;
  close(fd);
  // EAGAIN: a listener whose backlog is full is still alive.
  return rc == 0 || err == EAGAIN || err == EINPROGRESS;
}

}  // namespace

absl::StatusOr<TcpListener> ListenTcp(std::string_view host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  const std::string host_str(host);
  const std::string port_str = std::to_string(port);
  addrinfo* res = nullptr;
  const int gai = getaddrinfo(host_str.empty() ? nullptr : host_str.c_str(), port_str.c_str(),
                              &hints, &res);
  if (gai != 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot resolve '", host_str, "': ", gai_strerror(gai)));
  }
  absl::Status last = absl::NotFoundError(absl::StrCat("no address for '", host_str, "'"));
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                          ai->ai_protocol);
    if (fd < 0) {
      last = ErrnoStatus("socket", errno);
      continue;
    }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, kBacklog) != 0) {
      last = ErrnoStatus(absl::StrCat("listen on ", host_str, ":", port), errno);
      close(fd);
      continue;
    }
    freeaddrinfo(res);
    return TcpListener{fd, BoundPort(fd)};
  }
  freeaddrinfo(res);
  return last;
}

absl::StatusOr<int> ListenUnix(std::string_view path_view, mode_t mode) {
  const std::string path(path_view);
  const std::string tmp = absl::StrCat(path, ".", getpid(), ".tmp");
  sockaddr_un addr, tmp_addr;
  if (!FillUnixAddr(path, &addr) || !FillUnixAddr(tmp, &tmp_addr)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unix socket path too long (max ", sizeof(addr.sun_path) - 16,
                     " bytes) or empty: '", path, "'"));
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("socket(AF_UNIX)", errno);
  unlink(tmp.c_str());  // our own leftover from a crash (the name holds our pid)
  auto fail = [&](absl::Status st) {
    close(fd);
    unlink(tmp.c_str());
    return st;
  };
  if (bind(fd, reinterpret_cast<const sockaddr*>(&tmp_addr), sizeof(tmp_addr)) != 0) {
    return fail(ErrnoStatus(absl::StrCat("bind ", tmp), errno));
  }
  if (chmod(tmp.c_str(), mode) != 0) return fail(ErrnoStatus(absl::StrCat("chmod ", tmp), errno));
  if (listen(fd, kBacklog) != 0) return fail(ErrnoStatus("listen", errno));
  // link() fails with EEXIST instead of replacing: a live socket is never
  // unlinked by a race between the check and the replacement.
  for (int attempt = 0; link(tmp.c_str(), path.c_str()) != 0; ++attempt) {
    if (errno != EEXIST || attempt == 3) {
      return fail(ErrnoStatus(absl::StrCat("link ", path), errno));
    }
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) continue;  // gone meanwhile: retry
    if (!S_ISSOCK(st.st_mode)) {
      return fail(absl::AlreadyExistsError(absl::StrCat(path, " exists and is not a socket")));
    }
    if (SomethingListens(addr)) {
      return fail(absl::AlreadyExistsError(absl::StrCat(
          "something listens on ", path, " (another shortbusd?); not replacing it")));
    }
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      return fail(ErrnoStatus(absl::StrCat("unlink stale socket ", path), errno));
    }
  }
  unlink(tmp.c_str());
  return fd;
}

}  // namespace shortbus::io
