// Options of the protocol core and the daemon's `--config FILE`.
//
// The config file is JSON with keys named as in nats-server's config
// (docs/protocol.md, "Configuration file"); an unknown key is an error
// naming it. Defaults follow nats-server 2.9.
#ifndef SHORTBUS_SERVER_SERVER_OPTIONS_H_
#define SHORTBUS_SERVER_SERVER_OPTIONS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/permissions.h"

namespace shortbus::server {

struct UserPassword {
  std::string user;
  std::string password;
  // Null: may publish and subscribe to anything.
  std::shared_ptr<const Permissions> permissions = nullptr;
};

struct ServerOptions {
  // INFO "server_name"; empty means the generated server_id.
  std::string server_name;
  // INFO "host"/"port": what the daemon listens on (set by the glue).
  std::string host = "127.0.0.1";
  int port = 4222;

  int64_t max_payload = 1 << 20;      // bytes of a PUB/HPUB payload
  int64_t max_control_line = 4096;    // argument bytes of a control line
  int64_t max_connections = 64 * 1024;
  // Subscriptions one connection may hold; 0: no limit (nats-server's
  // default; shortbus bounds it, docs/protocol.md "Limits").
  int64_t max_subscriptions = 64 * 1024;
  absl::Duration ping_interval = absl::Minutes(2);
  int64_t max_pings_out = 2;          // unanswered PINGs before Stale Connection
  // A subscriber whose queued output exceeds this is a slow consumer.
  int64_t max_pending = 64 << 20;
  // For the glue: how long a flush may block before the client is cut off.
  absl::Duration write_deadline = absl::Seconds(10);

  // Authentication: a token, or users with passwords (not both).
  std::string auth_token;
  std::vector<UserPassword> users;
  // authorization.permissions (alias default_permissions): for the token
  // and for every user without permissions of its own. Null: none.
  std::shared_ptr<const Permissions> default_permissions;
  absl::Duration auth_timeout = absl::Seconds(2);

  // INFO "jetstream": true when the daemon serves streams (server/jetstream.h).
  bool jetstream = false;

  bool auth_required() const { return !auth_token.empty() || !users.empty(); }
};

// InvalidArgument naming the first bad field.
absl::Status ValidateOptions(const ServerOptions& options);

// Applies the JSON config `text` over `base` (defaults when omitted) and
// validates the result. InvalidArgument names the offending key.
absl::StatusOr<ServerOptions> ParseConfig(std::string_view text,
                                          const ServerOptions& base = {});
// Reads `path` and parses it; NotFound/PermissionDenied etc. for the file.
absl::StatusOr<ServerOptions> LoadConfigFile(const std::string& path,
                                             const ServerOptions& base = {});

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_SERVER_OPTIONS_H_
