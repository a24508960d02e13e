#include "engine/options.h"

#include "absl/strings/str_cat.h"

namespace shortbus::engine {

std::string_view SyncModeName(SyncMode mode) {
  switch (mode) {
    case SyncMode::kAlways: return "always";
    case SyncMode::kInterval: return "interval";
    case SyncMode::kNever: return "never";
  }
  return "?";
}

std::optional<SyncMode> ParseSyncMode(std::string_view name) {
  for (SyncMode m : {SyncMode::kAlways, SyncMode::kInterval, SyncMode::kNever}) {
    if (name == SyncModeName(m)) return m;
  }
  return std::nullopt;
}

absl::Status ValidateLogOptions(const LogOptions& o) {
  if (o.segment_size < kMinSegmentSize || o.segment_size > kMaxSegmentSize ||
      o.segment_size % 4096 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "segment_size ", o.segment_size, " must be a multiple of 4096 in [", kMinSegmentSize, ", ",
        kMaxSegmentSize, "]"));
  }
  if (o.sync == SyncMode::kInterval && o.sync_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("sync_interval must be positive");
  }
  if (o.retention.max_age < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("max_age must not be negative");
  }
  return absl::OkStatus();
}

}  // namespace shortbus::engine
