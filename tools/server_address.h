// Where the CLI finds the server, as the brief fixes it: --server URL, else
// $SHORTBUS_URL, else ./data/shortbus.sock when it exists, else
// nats://127.0.0.1:4222. URLs: unix:///path/to/sock (also unix:PATH) and
// nats://[user:password@|token@]host:port (tcp:// accepted too);
// credentials otherwise from the environment (AddCredentialsFromEnv).
#ifndef SHORTBUS_TOOLS_SERVER_ADDRESS_H_
#define SHORTBUS_TOOLS_SERVER_ADDRESS_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace shortbus::tools {

struct ServerAddress {
  bool unix_socket = false;
  std::string path;  // unix
  std::string host;  // tcp
  int port = 4222;
  // Credentials from the URL's user part: "user:password" or a token.
  std::string user, password, token;
  std::string ToString() const;  // for messages: unix:///p or nats://host:port
};

absl::StatusOr<ServerAddress> ParseServerUrl(std::string_view url);

// `flag` is the --server value ("" when not given); `env_url` $SHORTBUS_URL
// (nullptr when unset).
absl::StatusOr<ServerAddress> ResolveServerAddress(const std::string& flag, const char* env_url);

// Credentials for an address whose URL carries none (any URL, the Unix
// socket's too): $SHORTBUS_USER with $SHORTBUS_PASSWORD, else
// $SHORTBUS_TOKEN (each nullptr when unset). The environment keeps secrets
// out of the argument list, which every user of the machine can read.
void AddCredentialsFromEnv(ServerAddress* address, const char* user, const char* password, const char* token);

}  // namespace shortbus::tools

#endif  // SHORTBUS_TOOLS_SERVER_ADDRESS_H_
