// NATS message headers as JetStream reads and writes them.
//
// A header block is "NATS/1.0[ <code>[ <text>]]\r\n" followed by
// "Name: value\r\n" lines and an empty line "\r\n". Names are matched
// exactly (as nats-server does); the value is trimmed of spaces.
#ifndef SHORTBUS_SERVER_JS_HEADERS_H_
#define SHORTBUS_SERVER_JS_HEADERS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shortbus::server {

inline constexpr std::string_view kMsgIdHeader = "Nats-Msg-Id";
inline constexpr std::string_view kExpectedStreamHeader = "Nats-Expected-Stream";
inline constexpr std::string_view kExpectedLastSeqHeader = "Nats-Expected-Last-Sequence";
inline constexpr std::string_view kExpectedLastSubjectSeqHeader = "Nats-Expected-Last-Subject-Sequence";
inline constexpr std::string_view kExpectedLastMsgIdHeader = "Nats-Expected-Last-Msg-Id";

// The value of header `name` in `block`, or nullopt.
std::optional<std::string_view> HeaderValue(std::string_view block, std::string_view name);

// Parses a decimal header value; nullopt when it is not one.
std::optional<uint64_t> ParseHeaderNumber(std::string_view value);

// "NATS/1.0 <code> <text>\r\n" + "Name: value\r\n" for each extra + "\r\n".
std::string StatusHeaders(int code, std::string_view text,
                          const std::vector<std::pair<std::string_view, std::string>>& extra = {});

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_JS_HEADERS_H_
