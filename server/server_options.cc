#include "server/server_options.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/absl_view.h"

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

// A subject or a list of subjects; `queues`: entries may be "subject queue".
absl::Status GetSubjects(const Json& v, std::string_view key, std::vector<std::string>* out) {
  if (v.is_string()) {
    out->push_back(v.get<std::string>());
    return absl::OkStatus();
  }
  if (!v.is_array()) return Bad(key, "must be a subject or an array of subjects");
  for (const Json& e : v) {
    if (!e.is_string()) return Bad(key, "must be a subject or an array of subjects");
    out->push_back(e.get<std::string>());
  }
  return absl::OkStatus();
}

// `publish`/`subscribe`: a list (the allow list) or {allow, deny}.
absl::Status GetRules(const Json& v, std::string_view key, std::optional<std::vector<std::string>>* allow,
                      std::vector<std::string>* deny) {
  if (!v.is_object()) {
    allow->emplace();
    return GetSubjects(v, key, &**allow);
  }
  for (const auto& [k, e] : v.items()) {
    absl::Status s;
    if (k == "allow") {
      allow->emplace();
      s = GetSubjects(e, absl::StrCat(Av(key), ".allow"), &**allow);
    } else if (k == "deny") {
      s = GetSubjects(e, absl::StrCat(Av(key), ".deny"), deny);
    } else {
      return Bad(absl::StrCat(Av(key), ".", k), "is not a known key (allow, deny)");
    }
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status GetSubRules(const std::vector<std::string>& in, std::string_view key, std::vector<SubRule>* out) {
  for (const std::string& text : in) {
    SubRule r;
    if (absl::Status s = ParseSubRule(text, &r); !s.ok()) return Bad(key, Sv(s.message()));
    out->push_back(std::move(r));
  }
  return absl::OkStatus();
}

// allow_responses: true | false | {max, expires}. max 0 and expires 0 mean
// the defaults; below 0, no limit (nats-server's reading).
absl::Status GetResponses(const Json& v, std::string_view key, std::optional<ResponsePermission>* out) {
  if (v.is_boolean()) {
    if (v.get<bool>()) out->emplace();
    return absl::OkStatus();
  }
  if (!v.is_object()) return Bad(key, "must be true, false or {\"max\": N, \"expires\": \"2m\"}");
  ResponsePermission r;
  for (const auto& [k, e] : v.items()) {
    if (k == "max" || k == "max_msgs" || k == "max_messages" || k == "max_responses") {
      if (!e.is_number_integer()) return Bad(absl::StrCat(Av(key), ".", k), "must be an integer");
      if (e.get<int64_t>() != 0) r.max_msgs = e.get<int64_t>();
    } else if (k == "expires" || k == "expiration" || k == "ttl") {
      absl::Duration d;
      if (!e.is_string() || !absl::ParseDuration(e.get<std::string>(), &d)) {
        return Bad(absl::StrCat(Av(key), ".", k), "must be a duration such as \"2m\"");
      }
      if (d != absl::ZeroDuration()) r.expires = d;
    } else {
      return Bad(absl::StrCat(Av(key), ".", k), "is not a known key (max, expires)");
    }
  }
  *out = r;
  return absl::OkStatus();
}

absl::Status ParsePermissions(const Json& v, std::string_view key, std::shared_ptr<const Permissions>* out) {
  if (!v.is_object()) return Bad(key, "must be an object");
  auto p = std::make_shared<Permissions>();
  for (const auto& [k, e] : v.items()) {
    const std::string sub_key = absl::StrCat(Av(key), ".", k);
    absl::Status s;
    if (k == "publish" || k == "pub") {
      s = GetRules(e, sub_key, &p->publish_allow, &p->publish_deny);
    } else if (k == "subscribe" || k == "sub") {
      std::optional<std::vector<std::string>> allow;
      std::vector<std::string> deny;
      s = GetRules(e, sub_key, &allow, &deny);
      if (s.ok() && allow) s = GetSubRules(*allow, sub_key, &p->subscribe_allow.emplace());
      if (s.ok()) s = GetSubRules(deny, sub_key, &p->subscribe_deny);
    } else if (k == "allow_responses" || k == "publish_allow_responses") {
      s = GetResponses(e, sub_key, &p->responses);
    } else {
      return Bad(sub_key, "is not a known key (publish, subscribe, allow_responses)");
    }
    if (!s.ok()) return s;
  }
  // Responses without a publish allow list: responses and nothing else.
  if (p->responses && !p->publish_allow) p->publish_allow.emplace();
  if (absl::Status s = p->Validate(); !s.ok()) return Bad(key, Sv(s.message()));
  *out = std::move(p);
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
      if (auto s = ParsePermissions(v, "authorization.users[].permissions", &out->permissions); !s.ok()) {
        return s;
      }
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
    } else if (key == "permissions" || key == "default_permissions") {
      s = ParsePermissions(v, absl::StrCat("authorization.", key), &o->default_permissions);
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
  for (UserPassword& u : o->users) {
    if (u.permissions == nullptr) u.permissions = o->default_permissions;
  }
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
    } else if (key == "max_subscriptions" || key == "max_subs") {
      s = GetInt(v, key, 0, &o.max_subscriptions);
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
