#include "tests/engine/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

extern char** environ;

namespace shortbus::engine::testing {

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    Reset();
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

void Fd::Reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool MakePipe(Fd* read_end, Fd* write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  *read_end = Fd(fds[0]);
  *write_end = Fd(fds[1]);
  return true;
}

pid_t SpawnSelf(const std::string& filter, const std::vector<std::string>& env,
                const std::vector<std::pair<int, int>>& pass) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "GTEST_", 6) != 0) env_strings.push_back(*e);
  }
  env_strings.insert(env_strings.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string exe = "/proc/self/exe";
  std::string filter_arg = "--gtest_filter=" + filter;
  std::string brief = "--gtest_brief=1";
  std::vector<char*> argv = {exe.data(), filter_arg.data(), brief.data(), nullptr};
  const pid_t parent = ::getpid();
  const int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid != 0) {
    if (devnull >= 0) ::close(devnull);
    return pid;
  }
  // Child: only async-signal-safe calls from here to execve.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);
  if (devnull >= 0) ::dup2(devnull, 1);  // quiet gtest; the child's reasons go to stderr
  for (const auto& [fd, child_fd] : pass) {
    if (fd == child_fd) {
      ::fcntl(child_fd, F_SETFD, 0);
    } else if (::dup2(fd, child_fd) < 0) {
      ::_exit(127);
    }
  }
  ::execve(exe.c_str(), argv.data(), envp.data());
  ::_exit(127);
}

Child::~Child() {
  if (pid_ > 0) (void)KillAndWait();
}

int Child::KillAndWait() {
  ::kill(pid_, SIGKILL);
  return Wait();
}

int Child::Wait() {
  int status = -1;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  pid_ = -1;
  return r < 0 ? -1 : status;
}

std::string DescribeWaitStatus(int status) {
  if (status == -1) return "not reaped";
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace shortbus::engine::testing
