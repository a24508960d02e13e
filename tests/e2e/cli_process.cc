#include "tests/e2e/cli_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

namespace shortbus::e2e {

using Clock = std::chrono::steady_clock;

Process::Process(const std::string& program, const std::vector<std::string>& args, const std::string& stdin_data) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) return;
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    std::vector<char*> argv{const_cast<char*>(program.c_str())};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::unsetenv("SHORTBUS_URL");
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (!stdin_data.empty()) (void)!::write(in[1], stdin_data.data(), stdin_data.size());
  ::close(in[1]);
  out_fd_ = out[0];
  err_fd_ = err[0];
  ::fcntl(out_fd_, F_SETFL, O_NONBLOCK);
  ::fcntl(err_fd_, F_SETFL, O_NONBLOCK);
}

Process::~Process() {
  if (pid_ > 0 && code_ == kRunning) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
  if (err_fd_ >= 0) ::close(err_fd_);
}

bool Process::Exited() {
  Drain();
  if (code_ != kRunning || pid_ <= 0) return true;
  int status;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    Drain();
    return true;
  }
  return false;
}

int Process::Wait(std::chrono::milliseconds limit) {
  return WaitFor([&] { return Exited(); }, limit) ? code_ : -1;
}

bool Process::WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit) {
  const auto end = Clock::now() + limit;
  while (true) {
    Drain();
    if (cond()) return true;
    if (Clock::now() > end) return false;
    pollfd p[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
    ::poll(p, 2, 10);
  }
}

std::vector<std::string> Process::Lines() {
  Drain();
  std::vector<std::string> lines;
  std::istringstream in(out_.substr(0, out_.rfind('\n') + 1));
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

void Process::Drain() {
  char buf[4096];
  ssize_t n;
  while (out_fd_ >= 0 && (n = ::read(out_fd_, buf, sizeof buf)) > 0) out_.append(buf, static_cast<size_t>(n));
  while (err_fd_ >= 0 && (n = ::read(err_fd_, buf, sizeof buf)) > 0) err_.append(buf, static_cast<size_t>(n));
}

std::string ShortbusBin() {
  const char* bin = std::getenv("SHORTBUS_BIN");
  return bin == nullptr ? "" : bin;
}

void CliServerTest::SetUp() {
  target_ = TargetFromEnv();
  if (target_.kind.empty()) GTEST_SKIP() << "E2E_SERVER_KIND not set (run through meson)";
  ASSERT_FALSE(ShortbusBin().empty()) << "SHORTBUS_BIN is set by meson";
  server_ = std::make_unique<ServerProcess>(target_, ServerOptions());
  const std::string err = server_->Start();
  ASSERT_TRUE(err.empty()) << err;
}

std::vector<std::string> CliServerTest::With(std::vector<std::string> args) const {
  args.push_back("--server");
  args.push_back(server_->url());
  return args;
}

}  // namespace shortbus::e2e
