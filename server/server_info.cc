#include "server/server_info.h"

#include <random>

#include "nlohmann/json.hpp"

namespace shortbus::server {

std::string NewServerId() {
  static constexpr char kBase32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  std::string id = "N";
  while (id.size() < 56) id.push_back(kBase32[gen() % 32]);
  return id;
}

std::string InfoLine(const ServerOptions& options, std::string_view server_id,
                     uint64_t client_id, std::string_view client_ip) {
  nlohmann::ordered_json j;
  j["server_id"] = server_id;
  j["server_name"] = options.server_name.empty() ? server_id : options.server_name;
  j["version"] = kNatsProtocolVersion;
  j["proto"] = 1;
  j["go"] = kShortbusVersion;
  j["host"] = options.host;
  j["port"] = options.port;
  j["headers"] = true;
  if (options.auth_required()) j["auth_required"] = true;
  j["max_payload"] = options.max_payload;
  if (options.jetstream) j["jetstream"] = true;
  j["client_id"] = client_id;
  if (!client_ip.empty()) j["client_ip"] = client_ip;
  return "INFO " + j.dump() + " \r\n";
}

}  // namespace shortbus::server
