#include "server/auth.h"

#include <string_view>

namespace shortbus::server {
namespace {

bool SecretEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

}  // namespace

AuthResult Authenticate(const ServerOptions& server, const ClientOptions& client) {
  AuthResult r;
  if (!server.auth_token.empty()) {
    r.ok = SecretEquals(client.auth_token, server.auth_token);
    r.permissions = server.default_permissions;
    return r;
  }
  if (server.users.empty()) {
    r.ok = true;
    r.permissions = server.default_permissions;
    return r;
  }
  const UserPassword* matched = nullptr;
  for (const UserPassword& u : server.users) {
    const bool ok = u.user == client.user && SecretEquals(client.pass, u.password);
    if (ok) matched = &u;
  }
  if (matched != nullptr) {
    r.ok = true;
    r.permissions = matched->permissions;
  }
  return r;
}

}  // namespace shortbus::server
