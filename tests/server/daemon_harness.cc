#include "tests/server/daemon_harness.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace shortbus::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr Millis kPoll{5};

int Connected(int fd, const sockaddr* addr, socklen_t len) {
  if (fd < 0) return -1;
  if (::connect(fd, addr, len) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr && *base ? base : "/tmp") + "/shortbusd_XXXXXX";
  if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

std::string ShortbusdPath() {
  const char* p = std::getenv("SHORTBUSD");
  return p != nullptr ? p : "server/shortbusd";
}

Child::Child(const std::string& binary, const std::vector<std::string>& args,
             std::string log_path)
    : log_path_(std::move(log_path)) {
  std::vector<std::string> all = {binary};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
    if (::getppid() != parent) ::_exit(127);
    const int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (log >= 0) {
      ::dup2(log, 1);
      ::dup2(log, 2);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
}

Child::~Child() {
  if (pid_ > 0 && !exited_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
  }
}

std::string Child::Log() const { return ReadFileOr(log_path_, ""); }

std::optional<int> Child::WaitExit(Millis limit) {
  if (pid_ <= 0) return std::nullopt;
  if (!exited_) {
    WaitFor([&] {
      exited_ = ::waitpid(pid_, &status_, WNOHANG) == pid_;
      return exited_;
    }, limit);
  }
  if (!exited_) return std::nullopt;
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
}

std::optional<int> Child::Terminate(Millis limit) {
  if (pid_ > 0 && !exited_) ::kill(pid_, SIGTERM);
  return WaitExit(limit);
}

bool WaitFor(const std::function<bool()>& cond, Millis limit) {
  const auto until = Clock::now() + limit;
  for (;;) {
    if (cond()) return true;
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(kPoll);
  }
}

std::string ReadFileOr(const std::string& path, std::string fallback) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fallback;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool WriteFile(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  return static_cast<bool>(out.flush());
}

int NatsServerPort(std::string_view s) {
  const size_t start = s.find("\"nats://");
  if (start == std::string_view::npos) return 0;
  const size_t end = s.find('"', start + 1);
  if (end == std::string_view::npos) return 0;
  const size_t colon = s.rfind(':', end);
  if (colon == std::string_view::npos || colon <= start + 7 || colon + 1 == end) return 0;
  int port = 0;
  for (size_t i = colon + 1; i < end; ++i) {
    if (s[i] < '0' || s[i] > '9' || port > 65535) return 0;
    port = port * 10 + (s[i] - '0');
  }
  return port <= 65535 ? port : 0;
}

int WaitReady(Child& child, const std::string& data_dir, bool wait_port) {
  int port = 0;
  const bool up = WaitFor([&] {
    if (!child.running() || child.WaitExit(Millis(0)).has_value()) return true;
    if (wait_port) {
      const std::string s = ReadFileOr(data_dir + "/shortbus.port", "");
      if (s.empty() || s.back() != '\n') return false;
      port = std::atoi(s.c_str());
      return port > 0;
    }
    return child.Log().find("listening on") != std::string::npos;
  });
  if (!up || !child.running()) return -1;
  return port;
}

int ConnectUnix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return -1;
  std::memcpy(addr.sun_path, path.data(), path.size());
  return Connected(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0),
                   reinterpret_cast<sockaddr*>(&addr), sizeof addr);
}

int ConnectTcp(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return Connected(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0),
                   reinterpret_cast<sockaddr*>(&addr), sizeof addr);
}

bool WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool ReadUntil(int fd, std::string* out, const std::function<bool(const std::string&)>& pred,
               Millis limit, bool* eof) {
  const auto until = Clock::now() + limit;
  char buf[64 * 1024];
  for (;;) {
    if (pred(*out)) return true;
    const auto left = std::chrono::duration_cast<Millis>(until - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return pred(*out);
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      if (eof != nullptr) *eof = true;
      return pred(*out);
    }
    out->append(buf, static_cast<size_t>(n));
  }
}

bool ReadUntilContains(int fd, std::string* out, std::string_view needle, Millis limit) {
  return ReadUntil(
      fd, out, [&](const std::string& s) { return s.find(needle) != std::string::npos; }, limit);
}

bool ReadUntilEof(int fd, std::string* out, Millis limit) {
  bool eof = false;
  ReadUntil(fd, out, [&](const std::string&) { return eof; }, limit, &eof);
  return eof;
}

}  // namespace shortbus::testing
