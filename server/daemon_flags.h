// shortbusd's command line: the flags of the design brief ("Interfaces").
//
//   --data DIR               data directory (default ./data), created 0700
//   --listen unix:PATH       repeatable; default, when none is given:
//   --listen tcp://HOST:PORT   unix:<data>/shortbus.sock and tcp://127.0.0.1:4222
//   --config FILE            JSON options (server_options.h)
//   --sync always|interval|never, --sync-interval DURATION
//                            default durability of streams (kept for them)
//   --io auto|uring|epoll    event loop backend
//   --help, --version
//
// Both "--flag VALUE" and "--flag=VALUE" are accepted. Parsing never exits:
// the caller prints and chooses the exit code (kUsageExit for a bad flag).
#ifndef SHORTBUS_SERVER_DAEMON_FLAGS_H_
#define SHORTBUS_SERVER_DAEMON_FLAGS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/options.h"
#include "io/event_loop.h"

namespace shortbus::server {

// Exit code for an unknown flag or a bad value (documented in --help).
inline constexpr int kUsageExit = 2;

struct ListenAddress {
  enum class Kind { kUnix, kTcp } kind;
  std::string path;  // kUnix
  std::string host;  // kTcp (brackets removed from an IPv6 literal)
  uint16_t port = 0; // kTcp; 0 = ephemeral
  // As given on the command line ("unix:/x/s.sock", "tcp://127.0.0.1:0").
  std::string text;
};


struct DaemonFlags {
  std::string data_dir = "./data";
  std::vector<ListenAddress> listen;  // filled with the defaults when empty
  std::string config_file;            // empty: built-in defaults
  engine::SyncMode sync = engine::SyncMode::kInterval;
  absl::Duration sync_interval = absl::Seconds(1);
  io::Backend backend = io::Backend::kAuto;
  std::string backend_name = "auto";
  bool help = false;
  bool version = false;
};

// Parses "unix:PATH" or "tcp://HOST:PORT" (HOST may be "[v6]").
absl::StatusOr<ListenAddress> ParseListenAddress(std::string_view text);

// InvalidArgument, one line naming the flag, for an unknown flag, a missing
// or bad value. The default listeners are added when none was given.
absl::StatusOr<DaemonFlags> ParseDaemonFlags(int argc, const char* const* argv);

std::string DaemonHelpText();

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_DAEMON_FLAGS_H_
