// Test helpers that run the real shortbusd binary (or nats-server) as a
// child process and talk to it over raw sockets. Every wait is bounded and
// waits for a condition; every process is stopped by its pid.
#ifndef SHORTBUS_TESTS_SERVER_DAEMON_HARNESS_H_
#define SHORTBUS_TESTS_SERVER_DAEMON_HARNESS_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shortbus::testing {

using Millis = std::chrono::milliseconds;
inline constexpr Millis kWaitLimit{10000};

// A fresh directory under $TMPDIR, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

// The shortbusd binary under test: $SHORTBUSD (set by meson).
std::string ShortbusdPath();

// A child process with stdout and stderr going to a log file.
class Child {
 public:
  Child(const std::string& binary, const std::vector<std::string>& args, std::string log_path);
  ~Child();  // SIGKILL if still running
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  std::string Log() const;
  // The exit status (WEXITSTATUS; 128+signal if killed), or nullopt if it
  // is still running after `limit`.
  std::optional<int> WaitExit(Millis limit = kWaitLimit);
  // SIGTERM, then WaitExit.
  std::optional<int> Terminate(Millis limit = kWaitLimit);
  bool running() const { return !exited_; }

 private:
  pid_t pid_ = -1;
  std::string log_path_;
  bool exited_ = false;
  int status_ = 0;
};

// Polls `cond` every few milliseconds until it holds or `limit` passes.
bool WaitFor(const std::function<bool()>& cond, Millis limit = kWaitLimit);

// Starts shortbusd with `args` and waits for `<data>/shortbus.port` (when
// `wait_port`) or for the start-up line in its log. Returns the port (0 if
// none) or -1 if it did not come up (the child is left for inspection).
int WaitReady(Child& child, const std::string& data_dir, bool wait_port);

std::string ReadFileOr(const std::string& path, std::string fallback);
// Replaces `path` with `text`; false on failure.
bool WriteFile(const std::string& path, std::string_view text);

// The port of the first "nats://HOST:PORT" in the text of a nats-server
// ports file ({"nats":["nats://127.0.0.1:34567"]}, possibly half written),
// or 0. Plain string work, not <regex>: g++ 12 under ASan warns
// (-Wmaybe-uninitialized, an error here) inside libstdc++'s regex.
int NatsServerPort(std::string_view ports_text);

// Connected blocking sockets with a receive timeout; -1 on failure.
int ConnectUnix(const std::string& path);
int ConnectTcp(int port);

// Writes all of `bytes`; false on error.
bool WriteAll(int fd, std::string_view bytes);
// Reads into *out until pred(*out) holds, EOF (sets *eof) or `limit`.
bool ReadUntil(int fd, std::string* out, const std::function<bool(const std::string&)>& pred,
               Millis limit = kWaitLimit, bool* eof = nullptr);
// Reads until `needle` appears in *out.
bool ReadUntilContains(int fd, std::string* out, std::string_view needle,
                       Millis limit = kWaitLimit);
// Reads until EOF (true) or `limit` (false), keeping what arrives in *out.
bool ReadUntilEof(int fd, std::string* out, Millis limit = kWaitLimit);

}  // namespace shortbus::testing

#endif  // SHORTBUS_TESTS_SERVER_DAEMON_HARNESS_H_
