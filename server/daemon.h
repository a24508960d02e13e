// shortbusd: one daemon over one data directory. Owns the directory lock,
// the event loop, the listeners, the protocol core and the glue between
// them (docs/architecture.md, "shortbusd: threads and ownership").
//
// Life: Create() does everything that can fail at start-up (data
// directory, lock, config, event loop, listeners) and reports it as a
// Status; Run() serves until Shutdown() (any thread, e.g. on SIGTERM) has
// stopped accepting, removed the socket and port files, and flushed and
// closed every connection (bounded by the write deadline, at most
// kShutdownFlush).
#ifndef SHORTBUS_SERVER_DAEMON_H_
#define SHORTBUS_SERVER_DAEMON_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "io/event_loop.h"
#include "server/daemon_flags.h"
#include "index/store.h"
#include "server/data_dir.h"
#include "server/human_verbs.h"
#include "server/jetstream.h"
#include "server/js_host.h"
#include "server/loop_transport.h"
#include "server/server_core.h"

namespace shortbus::server {

// The longest a shutdown waits for clients to take their queued output.
inline constexpr absl::Duration kShutdownFlush = absl::Seconds(5);

class Daemon {
 public:
  static absl::StatusOr<std::unique_ptr<Daemon>> Create(const DaemonFlags& flags);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // On the calling thread, until shut down. Once the loop runs: writes
  // <data>/shortbus.port (the first TCP listener's port) and prints the
  // start-up line to stderr.
  absl::Status Run();
  // Thread-safe; the first call starts the shutdown, later ones do nothing.
  void Shutdown();

 private:
  class LoopJsHost;
  Daemon(const DaemonFlags& flags, std::unique_ptr<index::Store> store);
  absl::Status Listen(const ServerOptions& base);
  void OnRunning();
  // Logs that a listener ran out of fds (error != 0) or accepts again (0).
  void OnAcceptShortage(io::ListenerId id, int error);
  void BeginShutdown();
  void RemoveFiles();
  // Commits consumer state and closes the store (syncing every log).
  void CloseStreams();

  DaemonFlags flags_;
  std::unique_ptr<index::Store> store_;  // holds <data>/LOCK
  std::string port_file_;
  std::vector<std::string> unix_paths_;  // socket files to remove at exit
  std::vector<std::string> listening_;   // "unix:PATH", "tcp://HOST:PORT"
  // Per listener (by ListenerId), for OnAcceptShortage's rate limit.
  struct AcceptLog {
    absl::Time last = absl::InfinitePast();  // last "cannot accept" line
    bool logged = false;                     // this episode was logged
  };
  static constexpr absl::Duration kAcceptLogEvery = absl::Seconds(10);
  std::vector<AcceptLog> accept_logs_;
  int tcp_port_ = -1;                    // first TCP listener's real port
  bool shutting_down_ = false;
  // Destroyed loop first (it delivers OnClose to the transport, which tells
  // the core), then the core, then the transport.
  std::unique_ptr<LoopTransport> transport_;
  HumanVerbs human_verbs_;  // the core's verb extension: outlives it
  std::unique_ptr<ServerCore> core_;
  std::unique_ptr<JsHost> js_host_;
  std::unique_ptr<JetStream> jetstream_;  // destroyed before the core and the store
  std::unique_ptr<io::EventLoop> loop_;
};

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_DAEMON_H_
