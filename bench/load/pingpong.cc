#include "bench/load/pingpong.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace shortbus::load {
namespace {

void NoDelay(int fd, const Address& a) {
  if (a.unix_socket) return;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// The child: echoes one connection until it closes, then exits.
[[noreturn]] void Echo(int listener, const Address& a) {
  const int fd = accept(listener, nullptr, nullptr);
  if (fd < 0) _exit(1);
  NoDelay(fd, a);
  char buf[64 << 10];
  while (true) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) _exit(n == 0 ? 0 : 1);
    for (ssize_t done = 0; done < n;) {
      const ssize_t w = write(fd, buf + done, static_cast<size_t>(n - done));
      if (w <= 0) _exit(1);
      done += w;
    }
  }
}

void WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = write(fd, p, n);
    if (w <= 0) Die(std::string("pingpong write: ") + std::strerror(errno));
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void ReadAll(int fd, char* p, size_t n, double timeout_s) {
  while (n > 0) {
    pollfd pfd{fd, POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(timeout_s * 1000));
    if (ready == 0) Die("pingpong: no echo in time");
    if (ready < 0 && errno == EINTR) continue;
    const ssize_t r = read(fd, p, n);
    if (r <= 0) Die(r == 0 ? "pingpong: echo peer closed" : std::string("pingpong read: ") + std::strerror(errno));
    p += r;
    n -= static_cast<size_t>(r);
  }
}

}  // namespace

void RunPingPong(const PingPongOptions& o, const Address& listen_at, Report report) {
  if (o.size < 1 || o.msgs < 1) Die("pingpong needs --size and --msgs >= 1");
  sockaddr_storage sa;
  socklen_t len;
  const int listener = OpenSocket(listen_at, &sa, &len);
  if (listen_at.unix_socket) unlink(listen_at.path.c_str());
  if (bind(listener, reinterpret_cast<sockaddr*>(&sa), len) != 0 || ::listen(listener, 1) != 0) {
    Die("pingpong listen " + listen_at.text + ": " + std::strerror(errno));
  }
  // The address the child listens on, with the port the kernel chose.
  if (getsockname(listener, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    Die(std::string("getsockname: ") + std::strerror(errno));
  }
  const pid_t child = fork();
  if (child < 0) Die(std::string("fork: ") + std::strerror(errno));
  if (child == 0) Echo(listener, listen_at);
  close(listener);
  const int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0) {
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    Die("pingpong connect " + listen_at.text + ": " + std::strerror(errno));
  }
  NoDelay(fd, listen_at);
  std::vector<char> out(static_cast<size_t>(o.size), 'x'), in(out.size());
  Latencies lat;
  lat.Reserve(static_cast<size_t>(o.msgs));
  for (long i = 0; i < o.warmup + o.msgs; ++i) {
    const Clock::time_point t0 = Clock::now();
    WriteAll(fd, out.data(), out.size());
    ReadAll(fd, in.data(), in.size(), o.timeout);
    const Clock::time_point t1 = Clock::now();
    if (i >= o.warmup) lat.Add(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  close(fd);
  int status = 0;
  waitpid(child, &status, 0);
  if (listen_at.unix_socket) unlink(listen_at.path.c_str());
  report.Int("size", o.size);
  report.Int("msgs", o.msgs);
  const std::string figures = lat.AddTo(&report);
  report.Print(listen_at.text + " echo peer: " + std::to_string(o.msgs) + " round trips of " +
               std::to_string(o.size) + " B; " + figures);
}

}  // namespace shortbus::load
