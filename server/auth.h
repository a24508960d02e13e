// Checks a client's CONNECT credentials against the configured ones.
#ifndef SHORTBUS_SERVER_AUTH_H_
#define SHORTBUS_SERVER_AUTH_H_

#include "server/client_options.h"
#include "server/server_options.h"

namespace shortbus::server {

// True when `server` requires no authentication, or `client` carries the
// token (auth_token) or a configured user with its password (user, pass).
// Comparisons take time independent of where the strings differ.
bool Authenticate(const ServerOptions& server, const ClientOptions& client);

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_AUTH_H_
