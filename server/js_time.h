// Times in the JetStream API: RFC 3339 in UTC with up to nine fractional
// digits, trailing zeros dropped ("2026-11-23T21:59:01.12345Z"), as Go's
// time.RFC3339Nano writes them.
#ifndef SHORTBUS_SERVER_JS_TIME_H_
#define SHORTBUS_SERVER_JS_TIME_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shortbus::server {

std::string FormatJsTime(int64_t unix_ns);
// Any RFC 3339 time (with offset); nullopt when it is not one.
std::optional<int64_t> ParseJsTime(std::string_view text);

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_JS_TIME_H_
