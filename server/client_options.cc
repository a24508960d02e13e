#include "server/client_options.h"

#include "nlohmann/json.hpp"

namespace shortbus::server {

absl::Status ApplyConnectJson(std::string_view json, ClientOptions* options) {
  const nlohmann::json j =
      nlohmann::json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("CONNECT: not a JSON object");
  }
  ClientOptions o = *options;
  for (const auto& [key, v] : j.items()) {
    bool* flag = nullptr;
    std::string* text = nullptr;
    if (key == "verbose") flag = &o.verbose;
    else if (key == "pedantic") flag = &o.pedantic;
    else if (key == "echo") flag = &o.echo;
    else if (key == "headers") flag = &o.headers;
    else if (key == "no_responders") flag = &o.no_responders;
    else if (key == "tls_required") flag = &o.tls_required;
    else if (key == "name") text = &o.name;
    else if (key == "lang") text = &o.lang;
    else if (key == "version") text = &o.version;
    else if (key == "auth_token") text = &o.auth_token;
    else if (key == "user") text = &o.user;
    else if (key == "pass") text = &o.pass;
    if (flag != nullptr) {
      if (!v.is_boolean()) return absl::InvalidArgumentError("CONNECT: " + key + " must be a boolean");
      *flag = v.get<bool>();
    } else if (text != nullptr) {
      if (!v.is_string()) return absl::InvalidArgumentError("CONNECT: " + key + " must be a string");
      *text = v.get<std::string>();
    } else if (key == "protocol") {
      if (!v.is_number_integer()) {
        return absl::InvalidArgumentError("CONNECT: protocol must be an integer");
      }
      o.protocol = v.get<int64_t>();
    }
  }
  *options = std::move(o);
  return absl::OkStatus();
}

}  // namespace shortbus::server
