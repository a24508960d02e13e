// Per-stream options of the log engine. Every field has a safe default; a
// zero limit means "no limit".
#ifndef SHORTBUS_ENGINE_OPTIONS_H_
#define SHORTBUS_ENGINE_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace shortbus::engine {

class FileSystem;

// When an appended message counts as durable (see Log::durable_seq()).
enum class SyncMode {
  kAlways,    // durable once fdatasync covering it returned; appends that
              // arrive while a sync runs share the next one (group commit)
  kInterval,  // a background fdatasync every sync_interval
  kNever,     // the OS writes back when it likes; synced only at Close/Sync
};
// "always", "interval", "never": the names flags, configurations and
// reports use.
std::string_view SyncModeName(SyncMode mode);
std::optional<SyncMode> ParseSyncMode(std::string_view name);

// What an append does when it would exceed max_msgs or max_bytes.
enum class DiscardPolicy {
  kOld,  // expire the oldest messages (their segments are deleted once empty)
  kNew,  // refuse the append with ResourceExhausted
};

enum class Compression { kNone, kLz4 };

struct RetentionLimits {
  uint64_t max_msgs = 0;
  uint64_t max_bytes = 0;  // bytes of frames on disk, padding included
  absl::Duration max_age = absl::ZeroDuration();
  uint32_t max_msg_size = 0;  // subject + headers + payload; 0 = what fits a segment
  DiscardPolicy discard = DiscardPolicy::kOld;
};

// Something recovery or a scan found wrong. `tail` is true for a cut tail
// (a writer that died mid-append: expected after a crash, nothing that was
// durable is lost) and false for corruption of data that had been durable.
struct CorruptionReport {
  std::string file;
  uint64_t offset = 0;
  uint64_t bytes = 0;  // bytes dropped or quarantined
  std::string reason;
  bool tail = false;
};

using CorruptionReporter = std::function<void(const CorruptionReport&)>;

inline constexpr uint64_t kMinSegmentSize = uint64_t{1} << 20;
inline constexpr uint64_t kMaxSegmentSize = uint64_t{1} << 32;
inline constexpr uint64_t kDefaultSegmentSize = uint64_t{64} << 20;

struct LogOptions {
  // Size of each segment file, preallocated. [kMinSegmentSize, kMaxSegmentSize],
  // a multiple of 4096. Used for new segments; existing ones keep their size.
  uint64_t segment_size = kDefaultSegmentSize;
  SyncMode sync = SyncMode::kInterval;
  absl::Duration sync_interval = absl::Seconds(1);
  // Under kAlways: Append and AppendBatch wake the syncer at once. A caller
  // that appends in bursts (the server: every publish of one read) sets
  // false and calls Log::RequestSync() after each burst, so that one sync
  // covers the whole burst instead of its first message, and the rest the
  // next sync. WaitDurable asks for a sync itself either way.
  bool sync_on_append = true;
  // Under kAlways: Append and AppendBatch put frames in a writer-owned
  // buffer (kStageBytes) and Log::Publish() writes them to the segment with
  // one pwrite and makes them visible; they are not readable, durable or
  // counted in last_seq() before that. Every sync cleans the pages the
  // writer is filling, so a store through the mapping takes a write-protect
  // fault (a TLB shootdown on the other CPU) on each page again after each
  // sync; a write does not. For a caller that publishes once per burst (the
  // server: per turn of its loop). Ignored in other modes.
  bool defer_publish = false;
  RetentionLimits retention;
  Compression compression = Compression::kNone;
  // Payloads shorter than this are stored raw even with kLz4.
  uint32_t compress_min_bytes = 256;
  // How far ahead of the writer the background thread faults pages in.
  // 0 disables pre-faulting.
  uint64_t prefault_window = uint64_t{4} << 20;
  // Create and preallocate the next segment before the active one fills.
  bool precreate_next_segment = true;
  bool create_if_missing = true;
  // Called (from the opening thread during Open, later from the background
  // thread) for every cut tail and every corruption found.
  CorruptionReporter reporter;
  // nullptr = DefaultFileSystem(). Must outlive the Log.
  FileSystem* fs = nullptr;
  // Source of frame timestamps and of "now" for max_age, in ns since the
  // Unix epoch. Empty = CLOCK_REALTIME. Tests install a fake clock.
  std::function<int64_t()> clock;
};

// Checks ranges; InvalidArgument naming the field otherwise.
absl::Status ValidateLogOptions(const LogOptions& o);

}  // namespace shortbus::engine

#endif  // SHORTBUS_ENGINE_OPTIONS_H_
