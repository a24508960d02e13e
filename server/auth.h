// Checks a client's CONNECT credentials against the configured ones.
#ifndef SHORTBUS_SERVER_AUTH_H_
#define SHORTBUS_SERVER_AUTH_H_

#include <memory>

#include "server/client_options.h"
#include "server/permissions.h"
#include "server/server_options.h"

namespace shortbus::server {

struct AuthResult {
  bool ok = false;
  // What the client may do once connected; null: anything. The matched
  // user's permissions, else authorization.permissions (docs/protocol.md,
  // "Authorization").
  std::shared_ptr<const Permissions> permissions;
};

// ok when `server` requires no authentication, or `client` carries the
// token (auth_token) or a configured user with its password (user, pass).
// Comparisons take time independent of where the strings differ, and every
// user is compared.
AuthResult Authenticate(const ServerOptions& server, const ClientOptions& client);

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_AUTH_H_
