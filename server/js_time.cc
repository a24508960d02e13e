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

std::optional<int64_t> ParseSinceTime(std::string_view text, int64_t now_ns) {
  if (std::optional<int64_t> t = ParseJsTime(text)) return t;
  // Days are not an absl duration unit: "1d" and "1d12h" are read here.
  int64_t days = 0;
  size_t d = text.find('d');
  if (d != std::string_view::npos) {
    int64_t n = 0;
    for (size_t i = 0; i < d; ++i) {
      if (text[i] < '0' || text[i] > '9' || n > 100000) return std::nullopt;
      n = n * 10 + (text[i] - '0');
    }
    if (d == 0) return std::nullopt;
    days = n;
    text.remove_prefix(d + 1);
  }
  absl::Duration dur = absl::Hours(24 * days);
  if (!text.empty()) {
    absl::Duration rest;
    if (!absl::ParseDuration(std::string(text), &rest) || rest < absl::ZeroDuration()) return std::nullopt;
    dur += rest;
  } else if (days == 0) {
    return std::nullopt;
  }
  return now_ns - absl::ToInt64Nanoseconds(dur);
}

}  // namespace shortbus::server
