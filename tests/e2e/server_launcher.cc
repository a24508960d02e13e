#include "tests/e2e/server_launcher.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "tests/server/daemon_harness.h"

namespace shortbus::e2e {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr auto kStartLimit = std::chrono::seconds(10);
constexpr auto kStopLimit = std::chrono::seconds(10);
constexpr auto kPoll = std::chrono::milliseconds(10);

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool AcceptsConnections(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

Target TargetFromEnv() {
  const char* kind = std::getenv("E2E_SERVER_KIND");
  const char* bin = std::getenv("E2E_SERVER_BIN");
  if (kind == nullptr || bin == nullptr) return {};
  return {kind, bin};
}

ServerProcess::ServerProcess(Target target, ServerOptions options)
    : target_(std::move(target)), options_(std::move(options)) {
  std::string tmpl = (fs::temp_directory_path() / "shortbus-e2e-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) != nullptr) dir_ = tmpl;
}

ServerProcess::~ServerProcess() {
  Stop();
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

std::string ServerProcess::url() const {
  return "nats://127.0.0.1:" + std::to_string(port_);
}

std::string ServerProcess::data_dir() const {
  return options_.data_dir.empty() ? (fs::path(dir_) / "data").string() : options_.data_dir;
}

std::string ServerProcess::LogTail() const {
  std::string log = ReadFile(fs::path(dir_) / "server.log");
  constexpr size_t kTail = 4000;
  if (log.size() > kTail) log = "..." + log.substr(log.size() - kTail);
  return log;
}

bool ServerProcess::jetstream() const {
  const char* env = std::getenv("E2E_JETSTREAM");
  return options_.jetstream || (env != nullptr && std::string_view(env) == "1");
}

std::string ServerProcess::Start() { return StartOn(0); }

std::string ServerProcess::Restart() {
  Stop();
  return StartOn(port_);
}

std::string ServerProcess::StartOn(int port) {
  if (dir_.empty()) return "no temp directory";
  if (running()) return "already running";
  const fs::path dir(dir_);
  const fs::path config = dir / "config.json";
  if (!options_.config_json.empty()) std::ofstream(config) << options_.config_json << "\n";
  std::vector<std::string> args = {target_.binary};
  if (target_.kind == "nats-server") {
    if (!options_.config_json.empty()) args.insert(args.end(), {"-c", config.string()});
    // -p -1 is nats-server's "any free port"; it reports the one it chose in
    // <dir>/nats-server_<pid>.ports once it listens. Read that rather than
    // binding port 0 ourselves and handing the number over (a race).
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().extension() == ".ports") fs::remove(e.path());
    }
    args.insert(args.end(), {"-a", "127.0.0.1", "-p", port == 0 ? "-1" : std::to_string(port),
                             "--ports_file_dir", dir_});
    if (!options_.token.empty()) args.insert(args.end(), {"--auth", options_.token});
    if (!options_.user.empty()) {
      args.insert(args.end(), {"--user", options_.user, "--pass", options_.password});
    }
    // The store outlives restarts: it is in the private directory.
    if (jetstream()) args.insert(args.end(), {"-js", "-sd", (dir / "js").string()});
  } else if (target_.kind == "shortbusd") {
    const fs::path data = data_dir();
    fs::create_directories(data);
    fs::remove(data / "shortbus.port");
    args.insert(args.end(), {"--data", data.string(), "--listen",
                             "tcp://127.0.0.1:" + std::to_string(port)});
    // E2E_SERVER_IO picks the daemon's event loop backend (epoll, uring).
    if (const char* io = std::getenv("E2E_SERVER_IO"); io != nullptr && *io != '\0') {
      args.push_back(std::string("--io=") + io);
    }
    if (!options_.config_json.empty()) {
      args.insert(args.end(), {"--config", config.string()});
    } else if (!options_.token.empty() || !options_.user.empty()) {
      nlohmann::json auth;
      if (!options_.token.empty()) auth["token"] = options_.token;
      if (!options_.user.empty()) {
        auth["users"] = {{{"user", options_.user}, {"password", options_.password}}};
      }
      std::ofstream(config) << nlohmann::json{{"authorization", auth}}.dump(2) << "\n";
      args.insert(args.end(), {"--config", config.string()});
    }
    args.insert(args.end(), options_.shortbusd_args.begin(), options_.shortbusd_args.end());
  } else {
    return "unknown server kind '" + target_.kind + "' (E2E_SERVER_KIND)";
  }

  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log_path = (dir / "server.log").string();
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return "cannot open " + log_path;
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls here: the test process has threads.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
    if (::getppid() != parent) ::_exit(127);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  if (pid < 0) return "fork failed";
  pid_ = pid;
  std::string error = WaitReady();
  if (!error.empty()) {
    Stop();
    return error + "\n--- server log (" + target_.binary + ") ---\n" + LogTail();
  }
  if (port != 0 && port_ != port) return "restarted on port " + std::to_string(port_);
  return "";
}

int ServerProcess::ReadPortFile() const {
  if (target_.kind == "shortbusd") {
    // A bare number and a newline, written once the daemon accepts connections.
    std::string s = ReadFile(fs::path(data_dir()) / "shortbus.port");
    if (s.empty() || s.back() != '\n') return 0;
    return std::atoi(s.c_str());
  }
  // {"nats":["nats://127.0.0.1:34567"]}; possibly half written.
  const fs::path ports =
      fs::path(dir_) / (fs::path(target_.binary).filename().string() + "_" +
                        std::to_string(pid_) + ".ports");
  return shortbus::testing::NatsServerPort(ReadFile(ports));
}

std::string ServerProcess::WaitReady() {
  const auto deadline = Clock::now() + kStartLimit;
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return "server exited during start-up (" +
             (WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                                : "signal " + std::to_string(WTERMSIG(status))) +
             (WIFEXITED(status) && WEXITSTATUS(status) == 127 ? ": could not run it" : "") +
             ")";
    }
    int port = ReadPortFile();
    if (port > 0 && AcceptsConnections(port)) {
      port_ = port;
      return "";
    }
    std::this_thread::sleep_for(kPoll);
  }
  return "server not accepting connections within 10 s";
}

int ServerProcess::Stop() {
  if (pid_ <= 0) return -1;
  int status = 0;
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + kStopLimit;
  while (Clock::now() < deadline) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return status;
    }
    std::this_thread::sleep_for(kPoll);
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

int ServerProcess::Kill() {
  if (pid_ <= 0) return -1;
  int status = 0;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

std::unique_ptr<ServerProcess> StartServerFromEnv(std::string* error, ServerOptions options) {
  Target target = TargetFromEnv();
  if (target.kind.empty()) {
    *error = "E2E_SERVER_KIND and E2E_SERVER_BIN are not set (run through meson test)";
    return nullptr;
  }
  auto server = std::make_unique<ServerProcess>(target, std::move(options));
  *error = server->Start();
  return server;
}

}  // namespace shortbus::e2e
