// Running a copy of the current test binary as a child process, for tests
// that kill a writer or read from another process.
#ifndef SHORTBUS_TESTS_ENGINE_CHILD_PROCESS_H_
#define SHORTBUS_TESTS_ENGINE_CHILD_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace shortbus::engine::testing {

// An owned file descriptor, closed by the destructor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Reset();

 private:
  int fd_;
};

// A pipe whose ends are close-on-exec. False (errno set) on failure.
bool MakePipe(Fd* read_end, Fd* write_end);

// Starts `/proc/self/exe --gtest_filter=<filter> --gtest_brief=1` with
// GTEST_* removed from the environment and `env` ("NAME=value") added, and
// its standard output on /dev/null. Each (fd, child_fd) of `pass` appears in
// the child as child_fd. The child dies with the parent (PR_SET_PDEATHSIG).
// Returns the pid, or -1.
pid_t SpawnSelf(const std::string& filter, const std::vector<std::string>& env,
                const std::vector<std::pair<int, int>>& pass);

// A child process, SIGKILLed and reaped by the destructor unless already
// reaped, so that a failed assertion leaves nothing running.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // SIGKILL, then reap; returns the wait status.
  int KillAndWait();
  // Reaps; returns the wait status (or -1).
  int Wait();

 private:
  pid_t pid_;
};

// "exited with code N", "killed by signal N", ...
std::string DescribeWaitStatus(int status);

// splitmix64: a well-mixed 64-bit hash of x, for contents derived from a
// sequence number.
uint64_t Mix(uint64_t x);

}  // namespace shortbus::engine::testing

#endif  // SHORTBUS_TESTS_ENGINE_CHILD_PROCESS_H_
