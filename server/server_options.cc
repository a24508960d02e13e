#include "server/server_options.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace shortbus::server {
namespace {

using Json = nlohmann::json;

absl::Status Bad(std::string_view key, std::string_view what) {
  std::string m = "config: \"";
  m.append(key).append("\" ").append(what);
  return absl::InvalidArgumentError(m);
}

absl::Status GetInt(const Json& v, std::string_view key, int64_t min, int64_t* out) {
  if (!v.is_number_integer()) return Bad(key, "must be an integer");
  const int64_t x = v.get<int64_t>();
  if (x < min) return Bad(key, absl::StrCat("must be at least ", min));
  *out = x;
  return absl::OkStatus();
}

absl::Status GetString(const Json& v, std::string_view key, std::string* out) {
  if (!v.is_string()) return Bad(key, "must be a string");
  *out = v.get<std::string>();
  return absl::OkStatus();
}

// A duration string ("2m", "500ms", "1h30m") or a number of seconds.
absl::Status GetDuration(const Json& v, std::string_view key, absl::Duration* out) {
  absl::Duration d;
  if (v.is_number()) {
    d = absl::Seconds(v.get<double>());
  } else if (!v.is_string() || !absl::ParseDuration(v.get<std::string>(), &d)) {
    return Bad(key, "must be a duration such as \"2m\" or a number of seconds");
  }
  if (d <= absl::ZeroDuration()) return Bad(key, "must be positive");
  *out = d;
  return absl::OkStatus();
}

absl::Status ParseUser(const Json& u, UserPassword* out) {
  if (!u.is_object()) return Bad("authorization.users", "entries must be objects");
  for (const auto& [key, v] : u.items()) {
    if (key == "user") {
      if (auto s = GetString(v, "authorization.users[].user", &out->user); !s.ok()) return s;
    } else if (key == "password") {
      if (auto s = GetString(v, "authorization.users[].password", &out->password); !s.ok()) {
        return s;
      }
    } else if (key == "permissions") {
      return Bad("authorization.users[].permissions", "is not supported yet");
    } else {
      return Bad(absl::StrCat("authorization.users[].", key), "is not a known key");
    }
  }
  if (out->user.empty()) return Bad("authorization.users[].user", "must not be empty");
  return absl::OkStatus();
}

absl::Status ParseAuthorization(const Json& a, ServerOptions* o) {
  if (!a.is_object()) return Bad("authorization", "must be an object");
  UserPassword single;
  for (const auto& [key, v] : a.items()) {
    absl::Status s;
    if (key == "token") {
      s = GetString(v, "authorization.token", &o->auth_token);
    } else if (key == "user") {
      s = GetString(v, "authorization.user", &single.user);
    } else if (key == "password") {
      s = GetString(v, "authorization.password", &single.password);
    } else if (key == "timeout") {
      s = GetDuration(v, "authorization.timeout", &o->auth_timeout);
    } else if (key == "users") {
      if (!v.is_array()) return Bad("authorization.users", "must be an array");
      for (const Json& u : v) {
        UserPassword up;
        if (s = ParseUser(u, &up); !s.ok()) return s;
        o->users.push_back(std::move(up));
      }
    } else {
      return Bad(absl::StrCat("authorization.", key), "is not a known key");
    }
    if (!s.ok()) return s;
  }
  if (!single.user.empty()) o->users.push_back(std::move(single));
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateOptions(const ServerOptions& o) {
  if (o.max_payload < 1 || o.max_payload > (64 << 20)) {
    return Bad("max_payload", "must be between 1 and 67108864");
  }
  if (o.max_control_line < 32) return Bad("max_control_line", "must be at least 32");
  if (o.max_connections < 1) return Bad("max_connections", "must be at least 1");
  if (o.max_pings_out < 1) return Bad("ping_max", "must be at least 1");
  if (o.max_pending < o.max_payload) {
    return Bad("max_pending", "must be at least max_payload");
  }
  if (!o.auth_token.empty() && !o.users.empty()) {
    return Bad("authorization", "takes a token or users, not both");
  }
  for (size_t i = 0; i < o.users.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (o.users[i].user == o.users[j].user) {
        return Bad("authorization.users", absl::StrCat("names \"", o.users[i].user, "\" twice"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ServerOptions> ParseConfig(std::string_view text, const ServerOptions& base) {
  const Json root = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return absl::InvalidArgumentError("config: not valid JSON");
  if (!root.is_object()) return absl::InvalidArgumentError("config: must be a JSON object");
  ServerOptions o = base;
  bool pings_set = false;
  for (const auto& [key, v] : root.items()) {
    absl::Status s;
    if (key == "server_name") {
      s = GetString(v, key, &o.server_name);
    } else if (key == "max_payload") {
      s = GetInt(v, key, 1, &o.max_payload);
    } else if (key == "max_control_line") {
      s = GetInt(v, key, 1, &o.max_control_line);
    } else if (key == "max_connections") {
      s = GetInt(v, key, 1, &o.max_connections);
    } else if (key == "ping_interval") {
      s = GetDuration(v, key, &o.ping_interval);
    } else if (key == "ping_max" || key == "max_pings_out") {
      if (pings_set) return Bad(key, "repeats ping_max/max_pings_out");
      pings_set = true;
      s = GetInt(v, key, 1, &o.max_pings_out);
    } else if (key == "max_pending") {
      s = GetInt(v, key, 1, &o.max_pending);
    } else if (key == "write_deadline") {
      s = GetDuration(v, key, &o.write_deadline);
    } else if (key == "authorization") {
      s = ParseAuthorization(v, &o);
    } else {
      return Bad(key, "is not a known key");
    }
    if (!s.ok()) return s;
  }
  if (absl::Status s = ValidateOptions(o); !s.ok()) return s;
  return o;
}

absl::StatusOr<ServerOptions> LoadConfigFile(const std::string& path, const ServerOptions& base) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("config: cannot open ", path));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("config: cannot read ", path));
  absl::StatusOr<ServerOptions> o = ParseConfig(text.str(), base);
  if (!o.ok()) {
    return absl::Status(o.status().code(), absl::StrCat(path, ": ", o.status().message()));
  }
  return o;
}

}  // namespace shortbus::server
