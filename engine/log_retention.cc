// Retention: the cursor at the first retained frame, moving forward as
// messages expire (max_msgs, max_bytes, max_age), and deletion of segments
// that hold only expired messages.
//
// Invariant (under retention_mu_): when first_seq_ <= last_seq_, the frame
// with sequence first_seq_ starts at cursor_off_ in cursor_seg_; otherwise
// the cursor is where that frame will be written.
#include "absl/strings/str_cat.h"
#include "engine/coding.h"
#include "engine/frame.h"
#include "engine/log_impl.h"

namespace shortbus::engine {

std::shared_ptr<Segment> Log::Impl::SegmentStartingAtOrAfter(uint64_t seq) {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& seg : segments_) {
    if (seg->base_seq >= seq) return seg;
  }
  return nullptr;
}

void Log::Impl::InitRetentionCursor() {
  std::lock_guard<std::mutex> l(mu_);
  if (segments_.empty()) {
    cursor_seg_ = nullptr;
    cursor_off_ = kSegmentDataOffset;
    return;
  }
  cursor_seg_ = segments_.front();
  cursor_off_ = kSegmentDataOffset;
  first_seq_.store(cursor_seg_->base_seq, std::memory_order_release);
}

void Log::Impl::Expire(const ExpiryRule& rule) {
  uint64_t first = first_seq_.load(std::memory_order_relaxed);
  const uint64_t last = last_seq_.load(std::memory_order_acquire);
  const uint64_t start_first = first;
  while (first <= last) {
    if (cursor_seg_ == nullptr || (cursor_seg_->sealed.load(std::memory_order_acquire) &&
                                   first > cursor_seg_->last_seq)) {
      // The cursor's segment is used up: the next one starts after it
      // (an empty segment, left by damage at its first frame, starts at
      // `first` itself and would be found again for ever).
      std::shared_ptr<Segment> next =
          SegmentStartingAtOrAfter(cursor_seg_ == nullptr ? first : std::max(first, cursor_seg_->base_seq + 1));
      if (next == nullptr) break;
      // Past a gap left by corruption (reported at open) the stream goes on
      // at the next segment: the missing sequences count as gone.
      first = std::max(first, next->base_seq);
      cursor_seg_ = std::move(next);
      cursor_off_ = kSegmentDataOffset;
      continue;
    }
    Segment* seg = cursor_seg_.get();
    const uint64_t retained = retained_bytes_.load(std::memory_order_relaxed);
    // Whole rest of a sealed segment at once, when every frame in it would go.
    if (seg->sealed.load(std::memory_order_acquire)) {
      const uint64_t rest = seg->end - cursor_off_;
      const bool by_seq = seg->last_seq < rule.keep_from_seq;
      const bool by_bytes = rule.max_bytes != 0 && retained >= rest && retained - rest >= rule.max_bytes;
      const bool by_age = rule.age_cutoff_ns != 0 && seg->last_ts < rule.age_cutoff_ns;
      if (by_seq || by_bytes || by_age) {
        retained_bytes_.fetch_sub(std::min(rest, retained), std::memory_order_relaxed);
        first = seg->last_seq + 1;
        cursor_off_ = seg->end;
        continue;
      }
    }
    const char* f = seg->file.data() + cursor_off_;
    uint32_t len = 0;
    uint64_t seq = 0;
    if (!PeekFrame(f, seg->file.size() - cursor_off_, &len, &seq) || seq != first) {
      if (retention_stuck_at_ != first) {  // once, not at every housekeeping tick
        retention_stuck_at_ = first;
        Report({seg->file.path(), cursor_off_, 0,
                absl::StrCat("retention cursor expected sequence ", first, " and found none"), false});
      }
      break;
    }
    const int64_t ts = static_cast<int64_t>(DecodeFixed64(f + 24));
    const bool expire = seq < rule.keep_from_seq ||
                        (rule.max_bytes != 0 && retained > rule.max_bytes) ||
                        (rule.age_cutoff_ns != 0 && ts < rule.age_cutoff_ns);
    if (!expire) break;
    const uint64_t padded = AlignUp(len, kFrameAlign);
    retained_bytes_.fetch_sub(std::min<uint64_t>(padded, retained), std::memory_order_relaxed);
    cursor_off_ += padded;
    ++first;
  }
  if (first != start_first) {
    first_seq_.store(first, std::memory_order_release);
    meta_.set_first_seq(first);
  }
}

void Log::Impl::ExpireForLimits() {
  const RetentionLimits& lim = opt_.retention;
  const uint64_t last = next_seq_ - 1;
  const uint64_t first = first_seq_.load(std::memory_order_relaxed);
  const bool over_msgs = lim.max_msgs != 0 && last + 1 - first > lim.max_msgs;
  const bool over_bytes =
      lim.max_bytes != 0 && retained_bytes_.load(std::memory_order_relaxed) > lim.max_bytes;
  if (!over_msgs && !over_bytes) return;
  ExpiryRule rule;
  if (lim.max_msgs != 0 && last >= lim.max_msgs) rule.keep_from_seq = last - lim.max_msgs + 1;
  rule.max_bytes = lim.max_bytes;
  std::lock_guard<std::mutex> l(retention_mu_);
  Expire(rule);
}

void Log::Impl::ExpireByAge() {
  if (opt_.retention.max_age <= absl::ZeroDuration()) return;
  ExpiryRule rule;
  rule.age_cutoff_ns = Now() - absl::ToInt64Nanoseconds(opt_.retention.max_age);
  if (rule.age_cutoff_ns <= 0) return;
  std::lock_guard<std::mutex> l(retention_mu_);
  Expire(rule);
}

void Log::Impl::EnforceRetention() {
  ExpireByAge();
  DeleteExpiredSegments();
}

void Log::Impl::ExpireBefore(uint64_t seq) {
  {
    ExpiryRule rule;
    rule.keep_from_seq = std::min(seq, last_seq_.load(std::memory_order_acquire) + 1);
    std::lock_guard<std::mutex> l(retention_mu_);
    Expire(rule);
  }
  DeleteExpiredSegments();
}

void Log::Impl::DeleteExpiredSegments() {
  const uint64_t first = first_seq_.load(std::memory_order_acquire);
  std::vector<std::shared_ptr<Segment>> doomed;
  {
    std::lock_guard<std::mutex> l(mu_);
    while (segments_.size() > 1 && segments_.front()->sealed.load(std::memory_order_acquire) &&
           segments_.front()->last_seq < first) {
      doomed.push_back(std::move(segments_.front()));
      segments_.pop_front();
    }
  }
  if (doomed.empty()) return;
  // Readers keep their own mappings: removing the name never pulls pages
  // from under them; the space returns when the last mapping goes.
  for (const auto& seg : doomed) {
    if (absl::Status s = fs_->Remove(seg->file.path()); !s.ok() && !absl::IsNotFound(s)) {
      Report({seg->file.path(), 0, 0, absl::StrCat("cannot delete expired segment: ", s.message()),
              false});
    }
  }
  (void)fs_->SyncDir(dir_);  // best effort: a lost unlink is redone at the next open
}

}  // namespace shortbus::engine
