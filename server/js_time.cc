#include "server/js_time.h"

#include "absl/time/time.h"

namespace shortbus::server {

std::string FormatJsTime(int64_t unix_ns) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", absl::FromUnixNanos(unix_ns), absl::UTCTimeZone());
}

std::optional<int64_t> ParseJsTime(std::string_view text) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(text), &t, &err)) return std::nullopt;
  return absl::ToUnixNanos(t);
}

}  // namespace shortbus::server
