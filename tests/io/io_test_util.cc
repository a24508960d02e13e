#include "tests/io/io_test_util.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <filesystem>

namespace shortbus::io::test {

std::vector<BackendCase> AllBackends() {
  BackendCase epoll{"epoll", {}};
  epoll.options.backend = Backend::kEpoll;
  BackendCase uring{"uring", {}};
  uring.options.backend = Backend::kUring;
  BackendCase single{"uring_single", {}};
  single.options.backend = Backend::kUring;
  single.options.uring_buffer_rings = false;
  return {epoll, uring, single};
}

void PrintTo(const BackendCase& c, std::ostream* os) { *os << c.name; }

std::string BackendCaseName(const ::testing::TestParamInfo<BackendCase>& info) {
  return info.param.name;
}

std::unique_ptr<EventLoop> MakeLoop(const BackendCase& c, std::string* why) {
  auto loop = EventLoop::Create(c.options);
  if (!loop.ok()) {
    *why = std::string(loop.status().message());
    return nullptr;
  }
  // The buffer-ring case must really run with buffer rings.
  if (c.name == "uring" && (*loop)->backend_name() != "uring") {
    *why = "kernel lacks provided buffer rings";
    return nullptr;
  }
  return *std::move(loop);
}

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

LoopThread::LoopThread(std::unique_ptr<EventLoop>& loop) : owner_(loop), loop_(loop.get()) {
  thread_ = std::thread([this] {
    absl::Status st = loop_->Run();
    std::lock_guard<std::mutex> lock(mu_);
    status_ = st;
  });
}

LoopThread::~LoopThread() {
  loop_->Stop();
  thread_.join();
  owner_.reset();
}

absl::Status LoopThread::run_status() {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

void LoopThread::RunSync(const std::function<void()>& fn) {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  loop_->Post([&] {
    fn();
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    cv.notify_one();
  });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "shortbus_io_XXXXXX").string();
  char* p = mkdtemp(tmpl.data());
  if (p == nullptr) abort();
  path_ = p;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

int ConnectTcp(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int ConnectUnix(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool WriteAll(int fd, const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    const ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

namespace {
// Waits for fd to be readable; false on timeout.
bool PollIn(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}
}  // namespace

bool ReadExactly(int fd, void* data, size_t len, std::chrono::milliseconds timeout) {
  char* p = static_cast<char*>(data);
  while (len > 0) {
    if (!PollIn(fd, timeout)) return false;
    const ssize_t n = recv(fd, p, len, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

bool ReadUntilEof(int fd, std::string* rest, std::chrono::milliseconds timeout) {
  char buf[65536];
  for (;;) {
    if (!PollIn(fd, timeout)) return false;
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
    rest->append(buf, static_cast<size_t>(n));
  }
}

void EchoHandler::OnAccept(EventLoop&, ConnId id, const PeerInfo& peer) {
  {
    std::lock_guard<std::mutex> lock(mu);
    ids.push_back(id);
    peers.emplace_back(peer.address);
  }
  accepted.fetch_add(1);
}

void EchoHandler::OnData(EventLoop& loop, ConnId id, const char* data, size_t len) {
  bytes.fetch_add(len, std::memory_order_relaxed);
  loop.Send(id, data, len);
}

void EchoHandler::OnClose(EventLoop&, ConnId, CloseReason reason, int) {
  {
    std::lock_guard<std::mutex> lock(mu);
    reasons.push_back(reason);
  }
  closed.fetch_add(1);
}

}  // namespace shortbus::io::test
