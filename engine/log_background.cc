// The background thread of a Log: group-commit and interval syncs,
// pre-faulting ahead of the writer, preparing the next segment, and age
// retention. Also the synchronous Sync() and Close().
#include <chrono>

#include "absl/strings/str_cat.h"
#include "engine/coding.h"
#include "engine/frame.h"
#include "engine/log_impl.h"
#include "engine/thread_name.h"

namespace shortbus::engine {
namespace {
// How often the background thread looks at max_age and deletable segments
// when nothing else wakes it.
constexpr absl::Duration kHousekeepingPeriod = absl::Seconds(1);

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}
}  // namespace

absl::Status Log::Impl::Start() {
  bg_ = std::thread([this] {
    NameThisThread("sb-log");
    BackgroundLoop();
  });
  return absl::OkStatus();
}

void Log::Impl::WakeBackground(bool want_sync) {
  {
    std::lock_guard<std::mutex> l(bg_mu_);
    if (want_sync) {
      sync_wanted_ = true;
      sync_requested_.store(true, std::memory_order_release);
    }
  }
  bg_cv_.notify_one();
}

void Log::Impl::PrepareSync() {
  if (opt_.sync != SyncMode::kAlways || opt_.sync_on_append || !can_poll_) return;
  {
    std::lock_guard<std::mutex> l(bg_mu_);
    if (sync_wanted_ || sync_soon_) return;
    sync_soon_ = true;
  }
  bg_cv_.notify_one();
}

// Polls for the request PrepareSync announced, bounded; pause keeps the
// sibling hyperthread's share. Called without bg_mu_.
void Log::Impl::AwaitSyncRequest() {
  const auto until = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(kSyncSoonPollLimit);
  while (!sync_requested_.load(std::memory_order_acquire)) {
    if (std::chrono::steady_clock::now() >= until) return;
    for (int i = 0; i < 16; ++i) CpuRelax();
  }
}

void Log::Impl::Fail(const absl::Status& s) {
  {
    std::lock_guard<std::mutex> l(bg_mu_);
    if (failure_.ok()) failure_ = s;
  }
  failed_flag_.store(true, std::memory_order_release);
  durable_cv_.notify_all();
}

void Log::Impl::BackgroundLoop() {
  // Deadlines on the monotonic clock: a wall clock stepped back must not
  // stop syncs (the interval bounds what power loss can take).
  using Clock = std::chrono::steady_clock;
  const bool interval = opt_.sync == SyncMode::kInterval;
  const auto sync_every = absl::ToChronoNanoseconds(opt_.sync_interval);
  const auto housekeeping_every = absl::ToChronoNanoseconds(kHousekeepingPeriod);
  Clock::time_point next_sync = Clock::now() + sync_every;
  Clock::time_point next_housekeeping = Clock::now() + housekeeping_every;
  while (true) {
    bool do_sync = false;
    {
      std::unique_lock<std::mutex> l(bg_mu_);
      Clock::time_point deadline = next_housekeeping;
      if (interval && next_sync < deadline) deadline = next_sync;
      if (!stop_ && !sync_wanted_ && !sync_soon_) bg_cv_.wait_until(l, deadline);
      if (stop_) return;
      if (sync_soon_ && !sync_wanted_) {
        l.unlock();
        AwaitSyncRequest();
        l.lock();
        if (stop_) return;
      }
      sync_soon_ = false;
      do_sync = sync_wanted_;
      sync_wanted_ = false;
      sync_requested_.store(false, std::memory_order_relaxed);
    }
    const Clock::time_point now = Clock::now();
    if (interval && now >= next_sync) {
      do_sync = true;
      next_sync = now + sync_every;
    }
    // The sync first: acknowledgements wait for it, pre-faulting waits for nobody.
    if (do_sync && !failed_flag_.load(std::memory_order_acquire)) {
      if (absl::Status s = SyncNow(); !s.ok()) Fail(s);
    }
    PrefaultAhead();
    PrepareNextSegment();
    if (now >= next_housekeeping) {
      next_housekeeping = now + housekeeping_every;
      EnforceRetention();
    }
  }
}

void Log::Impl::PrefaultAhead() {
  if (opt_.prefault_window == 0) return;
  std::shared_ptr<Segment> seg;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (segments_.empty()) return;
    seg = segments_.back();
  }
  const uint64_t written = CommittedEnd(seg->file.data()).load(std::memory_order_acquire);
  const uint64_t target = std::min(seg->file.size(), AlignUp(written + opt_.prefault_window, 4096));
  uint64_t from = std::max(seg->prefaulted_end, AlignUp(written, 4096));
  if (target > from) {
    fs_->Prefault(seg->file.data() + from, target - from, PrefaultForWrite());
    seg->prefaulted_end = target;
  }
}

// A writable pre-fault leaves the writer no fault at all, but its dirty zero
// pages are written back like data, and a sync write-protects the whole
// window again. Under sync=always syncs never stop, so the window would be
// written (and re-faulted) over and over: there pages are pre-faulted clean
// and read-only, and the writer's first store to each takes a write-protect
// fault. With a sync a second (interval) or none, writable wins
// (docs/benchmarks.md).
bool Log::Impl::PrefaultForWrite() const { return opt_.sync != SyncMode::kAlways; }

void Log::Impl::PrepareNextSegment() {
  if (!opt_.precreate_next_segment) return;
  // Held while the file is made, so that a roll meanwhile waits for this
  // file instead of racing to create the same name.
  std::lock_guard<std::mutex> pl(prepare_mu_);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (prepared_ != nullptr || segments_.empty()) return;
  }
  const std::string path = PreparedSegmentPath(dir_);
  absl::StatusOr<std::shared_ptr<Segment>> seg = CreateSegmentFile(path);
  if (!seg.ok()) return;  // disk full and the like: the writer retries and reports at roll
  if (opt_.prefault_window != 0) {
    const uint64_t n = std::min((*seg)->file.size(), opt_.prefault_window);
    fs_->Prefault((*seg)->file.data(), n, PrefaultForWrite());
    (*seg)->prefaulted_end = n;
  }
  std::lock_guard<std::mutex> l(mu_);
  prepared_ = std::move(*seg);
}

// Sync protocol for one segment (docs/architecture.md, "Durability"):
//   1. fsync the directory if the segment's name is new;
//   2. fdatasync the segment: frames up to the target are durable;
//   3. only then write the sync record describing them (it becomes durable
//      with the next sync; until then recovery scans a little more);
//   4. a sealed segment gets its final sealed record, synced at once.
absl::Status Log::Impl::SyncNow() {
  std::lock_guard<std::mutex> sl(sync_mu_);
  sync_batch_.clear();
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& seg : segments_) {
      if (!seg->seal_durable) sync_batch_.push_back(seg);
    }
  }
  uint64_t durable = 0;
  for (const auto& seg : sync_batch_) {
    const bool sealed = seg->sealed.load(std::memory_order_acquire);
    SyncRecord target;
    target.sealed = sealed;
    if (sealed) {
      target.synced_end = seg->end;
      target.last_seq = seg->last_seq;
      target.last_ts = seg->last_ts;
    } else {
      const uint64_t off = seg->published_frame_off.load(std::memory_order_acquire);
      if (off == 0) {
        target.synced_end = seg->synced_end;
        target.last_seq = seg->synced_last_seq;
        target.last_ts = seg->synced_last_ts;
      } else {
        const char* f = seg->file.data() + off;
        target.synced_end = off + AlignUp(DecodeFixed32(f), kFrameAlign);
        target.last_seq = DecodeFixed64(f + 16);
        target.last_ts = static_cast<int64_t>(DecodeFixed64(f + 24));
      }
    }
    if (target.synced_end == seg->synced_end && !sealed) {
      durable = std::max(durable, seg->synced_last_seq);
      continue;
    }
    if (!seg->name_durable) {
      if (absl::Status s = fs_->SyncDir(dir_); !s.ok()) return s;
      seg->name_durable = true;
    }
    if (absl::Status s = seg->file.Sync(); !s.ok()) return s;
    syncs_.fetch_add(1, std::memory_order_relaxed);
    EncodeSyncRecord(seg->file.data(), target);
    if (sealed) {
      if (absl::Status s = seg->file.Sync(); !s.ok()) return s;
      syncs_.fetch_add(1, std::memory_order_relaxed);
      seg->seal_durable = true;
    }
    seg->synced_end = target.synced_end;
    seg->synced_last_seq = target.last_seq;
    seg->synced_last_ts = target.last_ts;
    durable = std::max(durable, target.last_seq);
  }
  sync_batch_.clear();
  if (durable > durable_seq_.load(std::memory_order_relaxed)) {
    std::function<void(uint64_t)> cb;
    {
      std::lock_guard<std::mutex> l(bg_mu_);
      durable_seq_.store(durable, std::memory_order_release);
      cb = durable_cb_;
    }
    durable_cv_.notify_all();
    if (cb) cb(durable);
  }
  return absl::OkStatus();
}

absl::Status Log::Impl::WaitDurable(uint64_t seq, absl::Duration timeout) {
  if (seq > last_seq_.load(std::memory_order_acquire)) {
    return absl::InvalidArgumentError(absl::StrCat("sequence ", seq, " was not appended"));
  }
  if (durable_seq_.load(std::memory_order_acquire) >= seq) return absl::OkStatus();
  if (opt_.sync != SyncMode::kAlways || !opt_.sync_on_append) WakeBackground(true);
  const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(
                                                               std::min(timeout, absl::Hours(24 * 365)));
  std::unique_lock<std::mutex> l(bg_mu_);
  while (durable_seq_.load(std::memory_order_acquire) < seq) {
    if (!failure_.ok()) return failure_;
    if (durable_cv_.wait_until(l, deadline) == std::cv_status::timeout &&
        durable_seq_.load(std::memory_order_acquire) < seq) {
      return absl::DeadlineExceededError(absl::StrCat("sequence ", seq, " not durable in time"));
    }
  }
  return absl::OkStatus();
}

absl::Status Log::Impl::Sync() {
  if (absl::Status s = CheckFailed(); !s.ok()) return s;
  if (absl::Status s = Publish(); !s.ok()) return s;
  absl::Status s = SyncNow();
  if (!s.ok()) Fail(s);
  return s;
}

absl::Status Log::Impl::Close() {
  if (closed_) return close_status_;
  closed_ = true;
  // Staged frames go to the file before the final sync (a failed write fails the log).
  if (!failed_flag_.load(std::memory_order_acquire)) (void)Publish();
  {
    std::lock_guard<std::mutex> l(bg_mu_);
    stop_ = true;
  }
  bg_cv_.notify_all();
  if (bg_.joinable()) bg_.join();
  absl::Status s = FailureStatus();
  if (s.ok()) s = SyncNow();
  if (s.ok() && active_ != nullptr) {
    // Everything is durable now: mark the end clean, so the next Open
    // neither reads a frame nor looks past the end for junk.
    Segment* seg = active_;
    EncodeSyncRecord(seg->file.data(),
                     SyncRecord{seg->synced_end, seg->synced_last_seq, seg->synced_last_ts, false, true});
    s = seg->file.Sync();
  }
  std::shared_ptr<Segment> prepared;
  {
    std::lock_guard<std::mutex> l(mu_);
    prepared = std::move(prepared_);
  }
  if (prepared != nullptr) {
    prepared->file = SegmentFile();
    (void)fs_->Remove(PreparedSegmentPath(dir_));
  }
  if (!s.ok()) Fail(s);
  meta_.Release();
  close_status_ = s;
  return s;
}

}  // namespace shortbus::engine
