// JSON text for the wire, the index and the command line.
#ifndef SHORTBUS_SERVER_JSON_TEXT_H_
#define SHORTBUS_SERVER_JSON_TEXT_H_

#include <string>

#include "nlohmann/json.hpp"

namespace shortbus::server {

// Strings from clients and users (names and subjects from request subjects
// or arguments, stored subjects, values echoed in errors) may hold invalid
// UTF-8, on which a plain dump() throws; such bytes become U+FFFD instead,
// as Go's encoding/json (nats-server) writes them.
template <typename J>
std::string DumpJson(const J& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_JSON_TEXT_H_
