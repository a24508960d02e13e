#include "tools/server_address.h"

#include <sys/stat.h>

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace shortbus::tools {

std::string ServerAddress::ToString() const {
  return unix_socket ? absl::StrCat("unix://", path) : absl::StrCat("nats://", host, ":", port);
}

absl::StatusOr<ServerAddress> ParseServerUrl(std::string_view url) {
  ServerAddress a;
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("server URL '", std::string(url), "': ", std::string(why)));
  };
  if (url.substr(0, 7) == "unix://" || url.substr(0, 5) == "unix:") {
    a.unix_socket = true;
    a.path = std::string(url.substr(url.substr(0, 7) == "unix://" ? 7 : 5));
    if (a.path.empty()) return bad("no socket path");
    return a;
  }
  std::string_view rest;
  if (url.substr(0, 7) == "nats://") rest = url.substr(7);
  else if (url.substr(0, 6) == "tcp://") rest = url.substr(6);
  else return bad("expected unix:///path or nats://host:port");
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view cred = rest.substr(0, at);
    rest = rest.substr(at + 1);
    if (size_t colon = cred.find(':'); colon != std::string_view::npos) {
      a.user = std::string(cred.substr(0, colon));
      a.password = std::string(cred.substr(colon + 1));
    } else {
      a.token = std::string(cred);
    }
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  std::string_view host = rest, port;
  if (!rest.empty() && rest.front() == '[') {  // [v6]:port
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad("unclosed [");
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port = rest.substr(close + 2);
  } else if (size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty()) return bad("no host");
  a.host = std::string(host);
  if (!port.empty()) {
    int p = 0;
    if (!absl::SimpleAtoi(absl::string_view(port.data(), port.size()), &p) || p <= 0 || p > 65535) {
      return bad("bad port");
    }
    a.port = p;
  }
  return a;
}

absl::StatusOr<ServerAddress> ResolveServerAddress(const std::string& flag, const char* env_url) {
  if (!flag.empty()) return ParseServerUrl(flag);
  if (env_url != nullptr && *env_url != '\0') return ParseServerUrl(env_url);
  struct stat st;
  if (::stat("data/shortbus.sock", &st) == 0 && S_ISSOCK(st.st_mode)) return ParseServerUrl("unix:data/shortbus.sock");
  return ParseServerUrl("nats://127.0.0.1:4222");
}

void AddCredentialsFromEnv(ServerAddress* address, const char* user, const char* password, const char* token) {
  if (!address->user.empty() || !address->token.empty()) return;  // the URL's own win
  if (user != nullptr && *user != '\0') {
    address->user = user;
    address->password = password != nullptr ? password : "";
  } else if (token != nullptr && *token != '\0') {
    address->token = token;
  }
}

}  // namespace shortbus::tools
