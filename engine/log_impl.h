// Internal state of a Log. Not a public header.
//
// Ownership (who may touch what):
//   writer thread   : everything under "writer" below, and the active
//                     segment's bytes beyond its committed end.
//   background      : sync state of every segment, prefault progress,
//                     preparing the next segment, age expiry, deletion.
//   mu_             : segments_ and prepared_ (the list, not the bytes).
//   prepare_mu_     : making next.seg.tmp (background or a roll); outer to mu_.
//   retention_mu_   : the retention cursor and first_seq_ advances.
//   bg_mu_          : the background thread's wake-up flags, failure,
//                     durable waiters.
//   sync_mu_        : serialises SyncNow() between background and callers.
// Invariants: first_seq_ <= last_seq_ + 1; durable_seq_ <= last_seq_;
//   every segment but the last is sealed; segments_ is sorted by base_seq.
#ifndef SHORTBUS_ENGINE_LOG_IMPL_H_
#define SHORTBUS_ENGINE_LOG_IMPL_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/log.h"
#include "engine/segment_file.h"
#include "engine/stream_meta.h"

namespace shortbus::engine {

struct Segment {
  SegmentFile file;
  uint64_t base_seq = 0;
  int64_t first_ts = 0;  // timestamp of the first frame; 0 while empty

  // Writer-owned; final, and readable by any thread, once `sealed` is true.
  uint64_t end = kSegmentDataOffset;
  uint64_t last_seq = 0;  // base_seq - 1 while empty
  int64_t last_ts = 0;
  uint64_t written_frame_off = 0;  // last frame written, not yet published

  // Offset of the last frame appended in this process's life (0: none),
  // stored with release order after the frame is whole.
  std::atomic<uint64_t> published_frame_off{0};
  std::atomic<bool> sealed{false};

  // Background-owned (under sync_mu_).
  uint64_t synced_end = kSegmentDataOffset;
  uint64_t synced_last_seq = 0;
  int64_t synced_last_ts = 0;
  bool seal_durable = false;
  bool name_durable = true;
  uint64_t prefaulted_end = 0;
};

class Log::Impl {
 public:
  Impl(std::string dir, LogOptions options, StreamMeta meta);
  ~Impl();

  absl::Status Recover();                 // log_recovery.cc
  absl::Status UnsealForAppend(Segment* seg);
  absl::Status Start();                   // log_background.cc
  absl::StatusOr<uint64_t> Append(const Message& msg);
  absl::StatusOr<uint64_t> AppendBatch(absl::Span<const Message> msgs);
  absl::Status WaitDurable(uint64_t seq, absl::Duration timeout);
  absl::Status Sync();
  absl::Status Close();
  void EnforceRetention();
  void ExpireBefore(uint64_t seq);
  LogStats stats() const;

  // log.cc
  // The padded frame size if `msg` can be appended at all.
  absl::StatusOr<uint64_t> CheckMessage(const Message& msg) const;
  // Under discard=new: whether `msgs` more messages of `frame_bytes` fit.
  absl::Status CheckRoom(uint64_t msgs, uint64_t frame_bytes) const;
  // `now` (0 = read the clock) stamps a message that carries no timestamp.
  absl::StatusOr<uint64_t> WriteOne(const Message& msg, int64_t now);
  absl::Status WriteStaged();  // the stage to the active segment; fails the log on error
  absl::Status Publish();  // the stage written, then frames made visible
  void PublishUnlessDeferred();   // Append's tail: publish (and wake) unless staging
  absl::Status PublishDeferred();  // Log::Publish
  absl::Status Roll();
  absl::StatusOr<std::shared_ptr<Segment>> CreateSegmentFile(const std::string& path);
  absl::Status CheckFailed() const;    // closed or failed
  absl::Status FailureStatus() const;  // failed only
  int64_t Now() const { return opt_.clock(); }

  // log_background.cc
  void BackgroundLoop();
  void WakeBackground(bool want_sync);
  void PrepareSync();
  void AwaitSyncRequest();
  absl::Status SyncNow();
  void Fail(const absl::Status& s);
  void PrepareNextSegment();
  void PrefaultAhead();
  bool PrefaultForWrite() const;

  // log_retention.cc
  struct ExpiryRule {
    uint64_t keep_from_seq = 0;  // expire sequences below this
    uint64_t max_bytes = 0;      // expire while retained bytes exceed this
    int64_t age_cutoff_ns = 0;   // expire timestamps below this
  };
  void InitRetentionCursor();
  void Expire(const ExpiryRule& rule);  // REQUIRES: retention_mu_ held
  void ExpireForLimits();               // writer, discard=old
  void ExpireByAge();
  void DeleteExpiredSegments();
  std::shared_ptr<Segment> SegmentStartingAtOrAfter(uint64_t seq);

  void Report(CorruptionReport r);

  const std::string dir_;
  LogOptions opt_;
  FileSystem* const fs_;
  StreamMeta meta_;
  RecoveryStats recovery_;

  mutable std::mutex mu_;
  std::deque<std::shared_ptr<Segment>> segments_;
  std::shared_ptr<Segment> prepared_;
  std::mutex prepare_mu_;  // held while a next segment file is being made
  Segment* active_ = nullptr;  // writer's view of segments_.back()

  // writer
  uint64_t next_seq_ = 1;
  int64_t last_ts_ = 0;
  uint64_t prefault_trigger_ = 0;
  uint64_t max_frame_ = 0;  // largest padded frame a segment can hold
  // defer_publish under kAlways: frames [stage_from_, stage_from_ + stage_len_)
  // of the active segment are in stage_, not yet in the file.
  bool stage_writes_ = false;
  std::unique_ptr<char[]> stage_;
  uint64_t stage_from_ = 0;
  uint64_t stage_len_ = 0;

  std::atomic<uint64_t> first_seq_{1};
  std::atomic<uint64_t> last_seq_{0};
  std::atomic<uint64_t> durable_seq_{0};
  std::atomic<uint64_t> retained_bytes_{0};
  std::atomic<uint64_t> syncs_{0};
  std::atomic<bool> failed_flag_{false};

  std::mutex retention_mu_;
  std::shared_ptr<Segment> cursor_seg_;
  uint64_t cursor_off_ = kSegmentDataOffset;
  uint64_t retention_stuck_at_ = 0;  // sequence where expiry met a damaged frame

  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  std::condition_variable durable_cv_;
  bool stop_ = false;
  bool sync_wanted_ = false;
  bool sync_soon_ = false;  // PrepareSync: a request is expected; poll for it
  // Mirrors sync_wanted_ being set, for AwaitSyncRequest to poll without bg_mu_.
  std::atomic<bool> sync_requested_{false};
  bool can_poll_ = false;  // more than one CPU in this process's affinity
  absl::Status failure_;
  std::function<void(uint64_t)> durable_cb_;
  std::thread bg_;

  std::mutex sync_mu_;
  std::vector<std::shared_ptr<Segment>> sync_batch_;  // reused by SyncNow

  bool closed_ = false;
  absl::Status close_status_;  // what the first Close returned

  std::mutex report_mu_;  // reporter calls come from the writer and the background
  bool recovering_ = false;  // Report counts into recovery_ only during Open
};

std::string SegmentPath(const std::string& dir, uint64_t base_seq);
std::string PreparedSegmentPath(const std::string& dir);

}  // namespace shortbus::engine

#endif  // SHORTBUS_ENGINE_LOG_IMPL_H_
