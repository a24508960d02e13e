// Running the `shortbus` CLI (or any program) from the end-to-end tests as a
// user would: a child process with its standard input given and its output
// collected, and a fixture that starts the server under test for it.
#ifndef SHORTBUS_TESTS_E2E_CLI_PROCESS_H_
#define SHORTBUS_TESTS_E2E_CLI_PROCESS_H_

#include <sys/types.h>

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/e2e/server_launcher.h"

namespace shortbus::e2e {

// The default bound of every wait below.
inline constexpr std::chrono::milliseconds kCliLimit = std::chrono::seconds(10);

// A child process (a program and its arguments, without $SHORTBUS_URL in its
// environment) with its standard input given and closed, and its output
// (stdout and stderr apart) collected; killed (SIGKILL) and reaped when
// destroyed if it has not exited.
class Process {
 public:
  Process(const std::string& program, const std::vector<std::string>& args, const std::string& stdin_data = "");
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // True once the process has exited (its code in code()).
  bool Exited();
  // Waits (bounded) for the exit; its code, or -1 when it did not exit in time.
  int Wait(std::chrono::milliseconds limit = kCliLimit);
  // Waits (bounded) until `cond` holds, reading output meanwhile.
  bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit = kCliLimit);
  // Standard output's complete lines so far.
  std::vector<std::string> Lines();
  // The exit code (128 + signal when killed by one); meaningful once Exited().
  int code() const { return code_; }
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

 private:
  static constexpr int kRunning = -1000;
  void Drain();
  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
  int code_ = kRunning;
  std::string out_, err_;
};

// The CLI's path ($SHORTBUS_BIN, set by meson); "" when not set.
std::string ShortbusBin();

// A fixture with the server under test started (the target from the
// environment, see TargetFromEnv; skipped when there is none) and the CLI's
// path known.
class CliServerTest : public ::testing::Test {
 protected:
  void SetUp() override;
  // `args` followed by --server and the server's URL.
  std::vector<std::string> With(std::vector<std::string> args) const;

  Target target_;
  std::unique_ptr<ServerProcess> server_;
};

}  // namespace shortbus::e2e

#endif  // SHORTBUS_TESTS_E2E_CLI_PROCESS_H_
