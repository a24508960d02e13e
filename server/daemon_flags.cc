#include "server/daemon_flags.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace shortbus::server {
namespace {

absl::Status Bad(std::string_view flag, std::string_view value, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "bad value for ", absl::string_view(flag.data(), flag.size()), ": \"",
      absl::string_view(value.data(), value.size()), "\" (",
      absl::string_view(why.data(), why.size()), ")"));
}


}  // namespace

absl::StatusOr<ListenAddress> ParseListenAddress(std::string_view text) {
  ListenAddress a;
  a.text = std::string(text);
  if (text.starts_with("unix:")) {
    a.kind = ListenAddress::Kind::kUnix;
    a.path = std::string(text.substr(5));
    if (a.path.starts_with("//")) a.path.erase(0, 2);  // unix:///abs/path
    if (a.path.empty()) return Bad("--listen", text, "unix: needs a path");
    return a;
  }
  if (!text.starts_with("tcp://")) {
    return Bad("--listen", text, "expected unix:PATH or tcp://HOST:PORT");
  }
  a.kind = ListenAddress::Kind::kTcp;
  std::string_view rest = text.substr(6);
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) return Bad("--listen", text, "missing :PORT");
  std::string_view host = rest.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) return Bad("--listen", text, "missing HOST");
  uint32_t port = 0;
  const std::string_view port_text = rest.substr(colon + 1);
  if (!absl::SimpleAtoi(absl::string_view(port_text.data(), port_text.size()), &port) ||
      port > 65535) {
    return Bad("--listen", text, "PORT must be 0..65535");
  }
  a.host = std::string(host);
  a.port = static_cast<uint16_t>(port);
  return a;
}

absl::StatusOr<DaemonFlags> ParseDaemonFlags(int argc, const char* const* argv) {
  DaemonFlags f;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      f.help = true;
      continue;
    }
    if (arg == "--version") {
      f.version = true;
      continue;
    }
    std::string_view name = arg;
    std::string_view value;
    bool has_value = false;
    if (const size_t eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    const bool known = name == "--data" || name == "--listen" || name == "--config" ||
                       name == "--sync" || name == "--sync-interval" || name == "--io";
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag: ", absl::string_view(name.data(), name.size())));
    }
    if (!has_value) {
      if (i + 1 >= argc) {
        return absl::InvalidArgumentError(
            absl::StrCat("missing value for ", absl::string_view(name.data(), name.size())));
      }
      value = argv[++i];
    }
    if (name == "--data") {
      if (value.empty()) return Bad(name, value, "empty");
      f.data_dir = std::string(value);
    } else if (name == "--listen") {
      absl::StatusOr<ListenAddress> a = ParseListenAddress(value);
      if (!a.ok()) return a.status();
      f.listen.push_back(*std::move(a));
    } else if (name == "--config") {
      if (value.empty()) return Bad(name, value, "empty");
      f.config_file = std::string(value);
    } else if (name == "--sync") {
      std::optional<engine::SyncMode> s = engine::ParseSyncMode(value);
      if (!s) return Bad(name, value, "always, interval or never");
      f.sync = *s;
    } else if (name == "--sync-interval") {
      absl::Duration d;
      if (!absl::ParseDuration(absl::string_view(value.data(), value.size()), &d) ||
          d <= absl::ZeroDuration()) {
        return Bad(name, value, "a positive duration such as 1s or 200ms");
      }
      f.sync_interval = d;
    } else {  // --io
      absl::StatusOr<io::Backend> b = io::ParseBackend(value);
      if (!b.ok()) return Bad(name, value, "auto, uring or epoll");
      f.backend = *b;
      f.backend_name = std::string(value);
    }
  }
  if (f.listen.empty()) {
    f.listen.push_back(*ParseListenAddress("unix:" + f.data_dir + "/shortbus.sock"));
    f.listen.push_back(*ParseListenAddress("tcp://127.0.0.1:4222"));
  }
  return f;
}

std::string DaemonHelpText() {
  return R"(usage: shortbusd [flags]

shortbusd serves the NATS client protocol over Unix sockets and TCP.

  --data DIR               data directory (default ./data; created with mode 0700).
                           Holds LOCK (one daemon per directory), shortbus.sock
                           and shortbus.port.
  --listen unix:PATH       listen on a Unix socket (file mode 0600)
  --listen tcp://HOST:PORT listen on TCP; PORT 0 picks a free port. The TCP port
                           is written to DIR/shortbus.port once connections are
                           accepted. Repeatable. Default, when no --listen is
                           given: unix:DIR/shortbus.sock and tcp://127.0.0.1:4222
  --config FILE            JSON options (limits, pings, authorization);
                           see docs/protocol.md
  --sync always|interval|never
                           default durability for streams (default interval)
  --sync-interval DURATION sync period under interval (default 1s)
  --io auto|uring|epoll    event loop backend (default auto: io_uring when the
                           kernel allows it, else epoll)
  --help                   this text
  --version                print the version

Flags take their value as "--flag VALUE" or "--flag=VALUE".
SIGTERM or SIGINT: stop accepting, flush what is queued to clients, remove
the socket and port files, exit 0.
Exit codes: 0 clean stop, 1 start-up or run failure (data directory in use,
address in use, bad config file), 2 unknown flag or bad flag value.
)";
}

}  // namespace shortbus::server
