#include "server/time_text.h"

#include <cctype>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace shortbus::server {
namespace {

absl::Status NotADuration(std::string_view text) {
  return absl::InvalidArgumentError(
      absl::StrCat("'", std::string(text), "': not a duration (e.g. 30s, 10m, 2h, 1d, 1h30m)"));
}

}  // namespace

absl::StatusOr<absl::Duration> ParseDurationArg(std::string_view text) {
  if (text.empty()) return NotADuration(text);
  if (text == "0") return absl::ZeroDuration();
  absl::Duration total;
  size_t i = 0;
  while (i < text.size()) {
    const size_t num_start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    const size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    const std::string number(text.substr(num_start, unit_start - num_start));
    const std::string unit(text.substr(unit_start, i - unit_start));
    if (number.empty() || unit.empty()) return NotADuration(text);
    absl::Duration part;
    if (unit == "d") {
      double days = 0;
      if (!absl::SimpleAtod(number, &days)) return NotADuration(text);
      part = absl::Hours(24) * days;
    } else if (unit == "ns" || unit == "us" || unit == "ms" || unit == "s" || unit == "m" || unit == "h") {
      if (!absl::ParseDuration(number + unit, &part)) return NotADuration(text);
    } else {
      return NotADuration(text);
    }
    total += part;
  }
  return total;
}

absl::StatusOr<absl::Time> ParseTimeArg(std::string_view text, absl::Time now) {
  if (absl::StatusOr<absl::Duration> ago = ParseDurationArg(text); ago.ok()) return now - *ago;
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, std::string(text), &t, &err)) return t;
  return absl::InvalidArgumentError(absl::StrCat(
      "'", std::string(text), "': not a time (RFC 3339 like 2024-05-01T12:00:00Z, or how long ago like 10m, 2h, 1d)"));
}

std::string FormatRfc3339(absl::Time t) { return absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", t, absl::UTCTimeZone()); }

std::string FormatDurationArg(absl::Duration d) {
  if (d < absl::Hours(24)) return absl::FormatDuration(d);
  const int64_t days = absl::IDivDuration(d, absl::Hours(24), &d);
  return d == absl::ZeroDuration() ? absl::StrCat(days, "d") : absl::StrCat(days, "d", absl::FormatDuration(d));
}

}  // namespace shortbus::server
