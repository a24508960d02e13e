// Listening sockets for EventLoop::AddListener. Both return a non-blocking,
// close-on-exec socket that is already listening; the caller owns it until
// it hands it to a loop.
#ifndef SHORTBUS_IO_LISTEN_H_
#define SHORTBUS_IO_LISTEN_H_

#include <sys/types.h>

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"

namespace shortbus::io {

struct TcpListener {
  int fd = -1;
  uint16_t port = 0;  // the bound port (the kernel's choice when asked for 0)
};

// Binds host:port (host: a numeric IPv4/IPv6 address or a name resolved
// with getaddrinfo; the first address that binds wins) with SO_REUSEADDR.
// port 0 picks a free port, reported in TcpListener::port.
// Errors: kAlreadyExists (EADDRINUSE), kPermissionDenied, kNotFound (host
// does not resolve), kInternal.
absl::StatusOr<TcpListener> ListenTcp(std::string_view host, uint16_t port);

// Creates a Unix stream socket at path whose file has exactly mode (e.g.
// 0600), whatever the umask: the socket is bound to a temporary name beside
// path, chmod-ed, then hard-linked to path, so path never exists with a
// wider mode. An existing socket file at path is replaced only when nothing
// listens on it (connect() is refused); a live one is left alone.
// Errors: kAlreadyExists "something listens on PATH" (a live socket) or
// "PATH exists and is not a socket"; kInvalidArgument (path too long for
// sockaddr_un); kPermissionDenied; kInternal.
absl::StatusOr<int> ListenUnix(std::string_view path, mode_t mode);

}  // namespace shortbus::io

#endif  // SHORTBUS_IO_LISTEN_H_
