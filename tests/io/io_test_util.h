// Shared by the io tests: the backends to run on, a loop on its own thread,
// plain blocking client sockets, and an echo handler.
#ifndef SHORTBUS_TESTS_IO_IO_TEST_UTIL_H_
#define SHORTBUS_TESTS_IO_IO_TEST_UTIL_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "io/event_loop.h"

namespace shortbus::io::test {

// One backend configuration: "epoll", "uring" (buffer rings), "uring_single".
struct BackendCase {
  std::string name;
  LoopOptions options;
};
std::vector<BackendCase> AllBackends();
void PrintTo(const BackendCase& c, std::ostream* os);
std::string BackendCaseName(const ::testing::TestParamInfo<BackendCase>& info);

// Creates a loop for c, or returns nullptr with *why set when the backend
// is unavailable on this kernel (the test then skips).
std::unique_ptr<EventLoop> MakeLoop(const BackendCase& c, std::string* why);

// Waits up to timeout for pred; true if it held. Polls every millisecond.
bool WaitFor(const std::function<bool()>& pred,
             std::chrono::milliseconds timeout = std::chrono::seconds(20));

// Runs a loop on its own thread; the destructor stops and joins it, then
// destroys the loop (so handlers declared before the LoopThread outlive
// every callback, including the OnClose calls of the loop's destructor).
class LoopThread {
 public:
  explicit LoopThread(std::unique_ptr<EventLoop>& loop);
  ~LoopThread();
  // Runs fn on the loop thread and waits for it.
  void RunSync(const std::function<void()>& fn);
  absl::Status run_status();

 private:
  std::unique_ptr<EventLoop>& owner_;
  EventLoop* loop_;
  std::mutex mu_;
  absl::Status status_;
  std::thread thread_;
};

// A temporary directory, removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Blocking client sockets (SIGPIPE-free writes, poll-bounded reads).
int ConnectTcp(uint16_t port);
int ConnectUnix(const std::string& path);
bool WriteAll(int fd, const void* data, size_t len);
// Reads exactly len bytes, or fails after timeout without progress.
bool ReadExactly(int fd, void* data, size_t len,
                 std::chrono::milliseconds timeout = std::chrono::seconds(20));
// True when the peer has closed (read returns 0) within timeout, draining
// any bytes still in flight into *rest.
bool ReadUntilEof(int fd, std::string* rest,
                  std::chrono::milliseconds timeout = std::chrono::seconds(20));

// Echoes every byte back; records accepts and closes.
class EchoHandler : public ConnectionHandler {
 public:
  void OnAccept(EventLoop& loop, ConnId id, const PeerInfo& peer) override;
  void OnData(EventLoop& loop, ConnId id, const char* data, size_t len) override;
  void OnClose(EventLoop& loop, ConnId id, CloseReason reason, int error) override;

  std::atomic<int> accepted{0};
  std::atomic<int> closed{0};
  std::atomic<uint64_t> bytes{0};
  // Written on the loop thread; read after WaitFor(closed...).
  std::mutex mu;
  std::vector<ConnId> ids;
  std::vector<CloseReason> reasons;
  std::vector<std::string> peers;
};

}  // namespace shortbus::io::test

#endif  // SHORTBUS_TESTS_IO_IO_TEST_UTIL_H_
