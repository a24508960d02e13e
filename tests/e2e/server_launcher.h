// Starts and stops the server under test (nats-server or shortbusd) for the
// end-to-end tests: loopback only, an ephemeral port, a private temp
// directory, readiness by connecting (bounded), stop by pid (SIGTERM, then
// SIGKILL after a bounded wait) or kill (SIGKILL), restart on the same port
// and the same data directory.
//
// The Node tests have the same launcher in node/server.mjs; keep the two in
// step (arguments, files, time limits).
#ifndef SHORTBUS_TESTS_E2E_SERVER_LAUNCHER_H_
#define SHORTBUS_TESTS_E2E_SERVER_LAUNCHER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace shortbus::e2e {

// Which server the tests run against: meson passes E2E_SERVER_KIND
// ("nats-server" or "shortbusd") and E2E_SERVER_BIN (its path).
struct Target {
  std::string kind;
  std::string binary;
};
// Empty kind when the environment does not say.
Target TargetFromEnv();

struct ServerOptions {
  // Non-empty: clients must present this token.
  std::string token;
  // Non-empty user: clients must present this user and password.
  std::string user;
  std::string password;
  // JetStream on: nats-server gets `-js -sd DIR/js`; shortbusd needs
  // nothing (streams are always on, stored under its --data directory).
  // Also on when the environment has E2E_JETSTREAM=1.
  bool jetstream = false;
  // Non-empty: a JSON config file given to either server as it is
  // (nats-server -c FILE: its config format reads JSON; shortbusd
  // --config FILE), so the same authorization and limits run on both.
  // Takes the place of `token` and `user`.
  std::string config_json;
  // Appended to shortbusd's arguments (e.g. "--sync=always"); nats-server
  // ignores them.
  std::vector<std::string> shortbusd_args;
  // shortbusd's --data directory; "" = data/ in the private temp directory.
  std::string data_dir;

  static ServerOptions Token(std::string token) {
    ServerOptions o;
    o.token = std::move(token);
    return o;
  }
  static ServerOptions UserPassword(std::string user, std::string password) {
    ServerOptions o;
    o.user = std::move(user);
    o.password = std::move(password);
    return o;
  }
};

class ServerProcess {
 public:
  ServerProcess(Target target, ServerOptions options);
  ~ServerProcess();  // Stops the server and removes its directory.
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts on an ephemeral port and waits until it accepts connections.
  // Returns "" on success, else what went wrong (with the server's log).
  std::string Start();
  // Stops (if running), then starts again on the same port and the same
  // data directory (streams and consumers persist).
  std::string Restart();
  // SIGTERM, up to 10 s for it to exit, then SIGKILL. Returns the wait
  // status, or -1 when nothing was running.
  int Stop();
  // SIGKILL at once (a crash: nothing is flushed), then waits for it.
  // Returns the wait status, or -1 when nothing was running.
  int Kill();

  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  // nats://127.0.0.1:PORT
  std::string url() const;
  // shortbusd's --data directory (ServerOptions::data_dir, or data/ in the
  // private temp directory).
  std::string data_dir() const;
  // The last lines of the server's standard output and error.
  std::string LogTail() const;
  const Target& target() const { return target_; }
  // Whether JetStream is on (the option or E2E_JETSTREAM=1).
  bool jetstream() const;

 private:
  std::string StartOn(int port);
  std::string WaitReady();
  // The port the server says it listens on, or 0 when not (yet) known.
  int ReadPortFile() const;

  Target target_;
  ServerOptions options_;
  std::string dir_;  // private temp directory
  pid_t pid_ = -1;
  int port_ = 0;
};

// A server of the target the environment names (TargetFromEnv) with
// `options`, started: *error is what Start() returned ("" when it started).
// Null, with *error saying why, when the environment names no target.
std::unique_ptr<ServerProcess> StartServerFromEnv(std::string* error, ServerOptions options = {});

}  // namespace shortbus::e2e

#endif  // SHORTBUS_TESTS_E2E_SERVER_LAUNCHER_H_
