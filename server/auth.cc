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

bool Authenticate(const ServerOptions& server, const ClientOptions& client) {
  if (!server.auth_token.empty()) return SecretEquals(client.auth_token, server.auth_token);
  if (server.users.empty()) return true;
  bool ok = false;
  for (const UserPassword& u : server.users) {
    ok |= u.user == client.user && SecretEquals(client.pass, u.password);
  }
  return ok;
}

}  // namespace shortbus::server
