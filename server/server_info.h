// The INFO line a client receives on connect:
//   INFO {json} \r\n        (a space before CRLF, as nats-server writes it)
// Fields, in nats-server 2.9's order: server_id, server_name, version,
// proto, go, host, port, headers, auth_required (only when required),
// max_payload, jetstream (only when streams are served), client_id,
// client_ip (only when known). "version" is the
// nats-server version whose client protocol shortbus speaks, because
// clients gate features on it; "go" names shortbus and its version.
#ifndef SHORTBUS_SERVER_SERVER_INFO_H_
#define SHORTBUS_SERVER_SERVER_INFO_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "server/server_options.h"

namespace shortbus::server {

inline constexpr std::string_view kNatsProtocolVersion = "2.9.10";
inline constexpr std::string_view kShortbusVersion = "shortbus 0.1.0";

// A fresh server id shaped like nats-server's: 'N' and 55 base32 letters.
std::string NewServerId();

std::string InfoLine(const ServerOptions& options, std::string_view server_id,
                     uint64_t client_id, std::string_view client_ip);

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_SERVER_INFO_H_
