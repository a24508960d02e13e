#include "server/daemon.h"

#include <arpa/inet.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "io/listen.h"

namespace shortbus::server {
namespace {

// Loopback: "localhost", 127.0.0.0/8, ::1, and ::ffff:127.0.0.0/104.
// Anything else (0.0.0.0, ::, a name, an interface's address) may be
// reachable from other machines.
bool IsLoopback(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) != 1) return false;
  if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
  return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

// The data directory holds every message: only the daemon's user should
// read it. EnsureDataDir creates it 0700; one that already existed is left
// as it is, with a warning when others may enter it.
void WarnIfDataDirIsOpen(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || (st.st_mode & 0077) == 0) return;
  std::fprintf(stderr,
               "shortbusd: warning: data directory %s has mode %04o: other users may read the "
               "stored messages (chmod 700 %s)\n",
               dir.c_str(), static_cast<unsigned>(st.st_mode & 07777), dir.c_str());
}

}  // namespace

// JsHost over the event loop: posts, one-shot timers, the wall clock.
class Daemon::LoopJsHost : public JsHost {
 public:
  explicit LoopJsHost(io::EventLoop* loop) : loop_(loop) {}
  void Post(std::function<void()> task) override { loop_->Post(std::move(task)); }
  uint64_t AddTimer(absl::Duration delay, std::function<void()> fn) override {
    return loop_->AddTimer(delay, absl::ZeroDuration(), std::move(fn)).value;
  }
  void CancelTimer(uint64_t id) override { loop_->CancelTimer(io::TimerId{id}); }
  int64_t NowNs() override { return absl::ToUnixNanos(absl::Now()); }

 private:
  io::EventLoop* const loop_;
};

Daemon::Daemon(const DaemonFlags& flags, std::unique_ptr<index::Store> store)
    : flags_(flags), store_(std::move(store)), port_file_(flags.data_dir + "/shortbus.port") {}

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Create(const DaemonFlags& flags) {
  if (absl::Status s = EnsureDataDir(flags.data_dir); !s.ok()) return s;
  WarnIfDataDirIsOpen(flags.data_dir);
  index::StoreOptions store_options;
  // JetStream asks for each sync=always stream's sync once per loop turn
  // (JetStream::WantSync), so a group commit covers every publish of a read.
  store_options.sync_on_append = false;
  store_options.defer_publish = true;
  store_options.reporter = [](const engine::CorruptionReport& r) {
    std::fprintf(stderr, "shortbusd: %s %s: %s (offset %llu, %llu bytes)\n", r.tail ? "recovered" : "CORRUPTION",
                 r.file.c_str(), r.reason.c_str(), static_cast<unsigned long long>(r.offset),
                 static_cast<unsigned long long>(r.bytes));
  };
  absl::StatusOr<std::unique_ptr<index::Store>> store = index::Store::Open(flags.data_dir, store_options);
  if (!store.ok()) return store.status();
  ServerOptions options;
  if (!flags.config_file.empty()) {
    absl::StatusOr<ServerOptions> loaded = LoadConfigFile(flags.config_file);
    if (!loaded.ok()) return loaded.status();
    options = *std::move(loaded);
  }
  options.jetstream = true;
  std::unique_ptr<Daemon> d(new Daemon(flags, *std::move(store)));
  ::unlink(d->port_file_.c_str());  // a stale one from a daemon that died
  io::LoopOptions loop_options;
  loop_options.backend = flags.backend;
  loop_options.on_accept_shortage = [daemon = d.get()](io::ListenerId id, int error) {
    daemon->OnAcceptShortage(id, error);
  };
  absl::StatusOr<std::unique_ptr<io::EventLoop>> loop = io::EventLoop::Create(loop_options);
  if (!loop.ok()) return loop.status();
  d->loop_ = *std::move(loop);
  d->transport_ = std::make_unique<LoopTransport>(d->loop_.get(), options.write_deadline,
                                                  options.max_pending);
  if (absl::Status s = d->Listen(options); !s.ok()) return s;
  return d;
}

absl::Status Daemon::Listen(const ServerOptions& base) {
  ServerOptions options = base;
  bool have_tcp = false;
  for (const ListenAddress& a : flags_.listen) {
    if (a.kind == ListenAddress::Kind::kUnix) {
      absl::StatusOr<int> fd = io::ListenUnix(a.path, 0600);
      if (!fd.ok()) return fd.status();
      unix_paths_.push_back(a.path);
      absl::StatusOr<io::ListenerId> l = loop_->AddListener(*fd, transport_.get(), a.path);
      if (!l.ok()) return l.status();
      listening_.push_back("unix:" + a.path);
      continue;
    }
    absl::StatusOr<io::TcpListener> tcp = io::ListenTcp(a.host, a.port);
    if (!tcp.ok()) {
      return absl::Status(tcp.status().code(),
                          absl::StrCat(a.text, ": ", tcp.status().message()));
    }
    absl::StatusOr<io::ListenerId> l = loop_->AddListener(tcp->fd, transport_.get());
    if (!l.ok()) return l.status();
    const bool v6 = a.host.find(':') != std::string::npos;
    listening_.push_back(absl::StrCat("tcp://", v6 ? "[" : "", a.host, v6 ? "]" : "", ":",
                                      tcp->port));
    if (!have_tcp) {
      have_tcp = true;
      tcp_port_ = tcp->port;
      options.host = a.host;
      options.port = tcp->port;
    }
    if (!IsLoopback(a.host) && !options.auth_required()) {
      std::fprintf(stderr,
                   "shortbusd: warning: %s accepts connections from other machines and no "
                   "authentication is configured: anyone who can reach it may publish, "
                   "subscribe and manage streams (set authorization in --config, or listen "
                   "on 127.0.0.1)\n",
                   listening_.back().c_str());
    }
  }
  core_ = std::make_unique<ServerCore>(std::move(options), transport_.get(), &human_verbs_);
  transport_->set_core(core_.get());
  js_host_ = std::make_unique<LoopJsHost>(loop_.get());
  JsDefaults defaults;
  defaults.sync = flags_.sync;
  defaults.sync_interval = flags_.sync_interval;
  jetstream_ = std::make_unique<JetStream>(store_.get(), core_.get(), js_host_.get(), defaults);
  if (absl::Status s = jetstream_->Start(); !s.ok()) return s;
  core_->SetPublishObserver(jetstream_.get());
  human_verbs_.set_jetstream(jetstream_.get());
  return absl::OkStatus();
}

Daemon::~Daemon() {
  CloseStreams();
  loop_.reset();  // closes what is left while the core and transport live
  RemoveFiles();
}

void Daemon::CloseStreams() {
  if (jetstream_ != nullptr) jetstream_->Stop();  // commits consumers; no more posts
  if (store_ != nullptr) {
    absl::Status s = store_->Close();
    if (!s.ok()) std::fprintf(stderr, "shortbusd: closing the streams: %s\n", std::string(s.message()).c_str());
  }
}

absl::Status Daemon::Run() {
  loop_->Post([this] { OnRunning(); });
  const absl::Duration tick = core_->TimerInterval();
  loop_->AddTimer(tick, tick, [this] { core_->OnTimer(absl::Now()); });
  absl::Status status = loop_->Run();
  CloseStreams();
  RemoveFiles();
  return status;
}

// The start-up line first: whoever sees the port file (scripts, tests)
// finds the line already in the log (stderr is unbuffered).
void Daemon::OnRunning() {
  std::fprintf(stderr, "shortbusd: listening on %s (io %s, pid %d, data %s)\n",
               absl::StrJoin(listening_, ", ").c_str(),
               std::string(loop_->backend_name()).c_str(), static_cast<int>(::getpid()),
               flags_.data_dir.c_str());
  if (tcp_port_ >= 0) {
    absl::Status s = WriteFileAtomically(port_file_, absl::StrCat(tcp_port_, "\n"));
    if (!s.ok()) std::fprintf(stderr, "shortbusd: %s\n", std::string(s.message()).c_str());
  }
}

void Daemon::OnAcceptShortage(io::ListenerId id, int error) {
  if (id.value >= listening_.size()) return;
  if (accept_logs_.size() < listening_.size()) accept_logs_.resize(listening_.size());
  AcceptLog& log = accept_logs_[id.value];
  const char* name = listening_[id.value].c_str();
  if (error == 0) {
    if (log.logged) std::fprintf(stderr, "shortbusd: %s: accepting again\n", name);
    log.logged = false;
    return;
  }
  // Under lasting pressure episodes follow each other as fds come and go:
  // one line per kAcceptLogEvery at most.
  const absl::Time now = absl::Now();
  if (now - log.last < kAcceptLogEvery) return;
  log.last = now;
  log.logged = true;
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  std::fprintf(stderr,
               "shortbusd: %s: cannot accept: %s (open files limit %llu); new clients wait in "
               "the listen backlog, retried every %lld ms\n",
               name, std::strerror(error), static_cast<unsigned long long>(nofile.rlim_cur),
               static_cast<long long>(absl::ToInt64Milliseconds(io::kAcceptBackoff)));
}

void Daemon::Shutdown() {
  loop_->Post([this] { BeginShutdown(); });
}

void Daemon::BeginShutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  loop_->StopAccepting();
  RemoveFiles();
  const absl::Duration flush = std::min(kShutdownFlush, core_->options().write_deadline);
  transport_->DrainAll(flush, [this] { loop_->Stop(); });
  // In case a close never completes: stop anyway a little after the bound.
  loop_->AddTimer(flush + absl::Seconds(1), absl::ZeroDuration(), [this] { loop_->Stop(); });
}

void Daemon::RemoveFiles() {
  for (const std::string& path : unix_paths_) ::unlink(path.c_str());
  unix_paths_.clear();
  if (tcp_port_ >= 0) ::unlink(port_file_.c_str());
}

}  // namespace shortbus::server
