// Times and durations as people type and read them: the CLI's flags and
// the human protocol verbs (REPLAY since=TIME).
//
// DURATION: one or more <number><unit> parts, units ns us ms s m h d
// (d = 24 h), or a bare 0, e.g. `500ms`, `10m`, `2h`, `1d`, `1h30m`; fractions allowed
// (`1.5h`). Never negative.
// TIME: RFC 3339 (`2024-05-01T12:00:00Z`, `2024-05-01T14:00:00.5+02:00`),
// or a DURATION meaning that long before now (`10m` = ten minutes ago).
#ifndef SHORTBUS_SERVER_TIME_TEXT_H_
#define SHORTBUS_SERVER_TIME_TEXT_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace shortbus::server {

// InvalidArgument naming the text when it is not a DURATION.
absl::StatusOr<absl::Duration> ParseDurationArg(std::string_view text);
// InvalidArgument naming the text when it is neither form.
absl::StatusOr<absl::Time> ParseTimeArg(std::string_view text, absl::Time now);
// UTC, nanoseconds always shown: 2024-05-01T12:00:00.000000001Z.
std::string FormatRfc3339(absl::Time t);
// Compact human form: 0s, 1.5s, 10m, 2h, 1d12h, 250ms.
std::string FormatDurationArg(absl::Duration d);

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_TIME_TEXT_H_
