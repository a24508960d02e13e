#include "engine/log.h"

#include <lz4.h>
#include <sched.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/clock.h"
#include "engine/coding.h"
#include "engine/frame.h"
#include "engine/log_impl.h"

namespace shortbus::engine {

std::string SegmentPath(const std::string& dir, uint64_t base_seq) {
  return absl::StrCat(dir, "/", SegmentFileName(base_seq));
}

std::string PreparedSegmentPath(const std::string& dir) { return absl::StrCat(dir, "/next.seg.tmp"); }

Log::Impl::Impl(std::string dir, LogOptions options, StreamMeta meta)
    : dir_(std::move(dir)),
      opt_(std::move(options)),
      fs_(opt_.fs != nullptr ? opt_.fs : DefaultFileSystem()),
      meta_(std::move(meta)) {
  if (!opt_.clock) opt_.clock = WallClockNs;
  max_frame_ = opt_.segment_size - kSegmentDataOffset;
  stage_writes_ = opt_.defer_publish && opt_.sync == SyncMode::kAlways;
  if (stage_writes_) stage_ = std::make_unique<char[]>(kStageBytes);
  cpu_set_t cpus;
  can_poll_ = sched_getaffinity(0, sizeof cpus, &cpus) == 0 && CPU_COUNT(&cpus) > 1;
}

Log::Impl::~Impl() { (void)Close(); }

void Log::Impl::Report(CorruptionReport r) {
  std::lock_guard<std::mutex> l(report_mu_);
  if (!r.tail && recovering_) ++recovery_.corruptions;
  if (opt_.reporter) opt_.reporter(r);
}

absl::Status Log::Impl::CheckFailed() const {
  if (closed_) return absl::FailedPreconditionError(absl::StrCat("stream ", dir_, " is closed"));
  return FailureStatus();
}

absl::Status Log::Impl::FailureStatus() const {
  if (!failed_flag_.load(std::memory_order_acquire)) return absl::OkStatus();
  std::lock_guard<std::mutex> l(const_cast<std::mutex&>(bg_mu_));
  return absl::FailedPreconditionError(
      absl::StrCat("stream ", dir_, " failed and must be reopened: ", failure_.message()));
}

absl::StatusOr<std::shared_ptr<Segment>> Log::Impl::CreateSegmentFile(const std::string& path) {
  absl::StatusOr<SegmentFile> f = SegmentFile::Create(fs_, path, opt_.segment_size);
  if (!f.ok()) return f.status();
  auto seg = std::make_shared<Segment>();
  seg->file = std::move(*f);
  return seg;
}

absl::Status Log::Impl::Roll() {
  std::shared_ptr<Segment> next;
  {
    std::lock_guard<std::mutex> pl(prepare_mu_);  // waits for a preparation under way
    {
      std::lock_guard<std::mutex> l(mu_);
      next = std::move(prepared_);
    }
    if (next == nullptr) {
      const std::string tmp = PreparedSegmentPath(dir_);
      absl::StatusOr<std::shared_ptr<Segment>> made = CreateSegmentFile(tmp);
      if (absl::IsAlreadyExists(made.status())) {
        // Left by a preparation that failed half-way: nothing uses it.
        (void)fs_->Remove(tmp);
        made = CreateSegmentFile(tmp);
      }
      if (!made.ok()) {
        return absl::Status(made.status().code(),
                            absl::StrCat("cannot start a new segment in ", dir_, ": ",
                                         made.status().message()));
      }
      next = std::move(*made);
    }
  }
  const uint64_t base = next_seq_;
  SegmentIdentity id;
  id.stream_id = meta_.id();
  id.base_seq = base;
  id.created_ns = Now();
  id.segment_size = next->file.size();
  EncodeSegmentIdentity(next->file.data(), id);
  CommittedEnd(next->file.data()).store(kSegmentDataOffset, std::memory_order_release);
  if (absl::Status s = next->file.RenameTo(SegmentPath(dir_, base)); !s.ok()) {
    // Dropped: the next roll makes a fresh file rather than trusting this one.
    const std::string tmp = next->file.path();
    next.reset();
    (void)fs_->Remove(tmp);
    return s;
  }
  next->base_seq = base;
  next->last_seq = base - 1;
  next->synced_last_seq = base - 1;
  next->name_durable = false;
  if (active_ != nullptr) {
    active_->sealed.store(true, std::memory_order_release);
    SealedHint(active_->file.data()).store(1, std::memory_order_release);
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    segments_.push_back(next);
    active_ = next.get();
  }
  prefault_trigger_ = 0;
  WakeBackground(false);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Log::Impl::CheckMessage(const Message& msg) const {
  if (msg.subject.empty()) return absl::InvalidArgumentError("empty subject");
  if (msg.subject.size() > kMaxSubjectLen) {
    return absl::InvalidArgumentError(
        absl::StrCat("subject of ", msg.subject.size(), " bytes exceeds ", kMaxSubjectLen));
  }
  const uint64_t body = msg.subject.size() + msg.headers.size() + msg.payload.size();
  const RetentionLimits& lim = opt_.retention;
  if (lim.max_msg_size != 0 && body > lim.max_msg_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("message of ", body, " bytes exceeds max_msg_size ", lim.max_msg_size));
  }
  const uint64_t raw_frame = PaddedFrameSize(msg.subject.size(), msg.headers.size(), msg.payload.size());
  if (raw_frame > max_frame_ || msg.payload.size() > UINT32_MAX) {
    return absl::InvalidArgumentError(absl::StrCat("message of ", body,
                                                   " bytes does not fit a segment of ",
                                                   opt_.segment_size, " bytes"));
  }
  return raw_frame;
}

absl::Status Log::Impl::CheckRoom(uint64_t msgs, uint64_t frame_bytes) const {
  if (msgs > kMaxSequence + 1 - next_seq_) {
    return absl::ResourceExhaustedError(absl::StrCat("sequence space exhausted: the last sequence is ", kMaxSequence));
  }
  const RetentionLimits& lim = opt_.retention;
  if (lim.discard != DiscardPolicy::kNew) return absl::OkStatus();
  const uint64_t held = next_seq_ - first_seq_.load(std::memory_order_relaxed);
  if (lim.max_msgs != 0 && held + msgs > lim.max_msgs) {
    return absl::ResourceExhaustedError(
        absl::StrCat("stream full: max_msgs ", lim.max_msgs, " reached (discard=new)"));
  }
  if (lim.max_bytes != 0 && retained_bytes_.load(std::memory_order_relaxed) + frame_bytes > lim.max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("stream full: max_bytes ", lim.max_bytes, " reached (discard=new)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Log::Impl::WriteOne(const Message& msg, int64_t now) {
  absl::StatusOr<uint64_t> checked = CheckMessage(msg);
  if (!checked.ok()) return checked.status();
  const uint64_t raw_frame = *checked;
  if (absl::Status s = CheckRoom(1, raw_frame); !s.ok()) return s;
  if (active_ == nullptr || active_->end + raw_frame > active_->file.size()) {
    // What is written so far stays visible in the sealed segment.
    if (absl::Status s = Publish(); !s.ok()) return s;
    if (absl::Status s = Roll(); !s.ok()) return s;
  }
  Segment* seg = active_;
  const uint64_t off = seg->end;
  const bool staged = stage_writes_ && raw_frame <= kStageBytes;
  if (stage_writes_ && (!staged || stage_len_ + raw_frame > kStageBytes)) {
    if (absl::Status s = WriteStaged(); !s.ok()) return s;
  }
  if (staged && stage_len_ == 0) stage_from_ = off;
  char* dst = staged ? stage_.get() + stage_len_ : seg->file.data() + off;
  int64_t ts = msg.timestamp_ns != 0 ? msg.timestamp_ns : (now != 0 ? now : Now());
  if (ts < last_ts_) ts = last_ts_;
  const uint64_t seq = next_seq_;

  char* body_dst = dst + kFrameHeaderSize;
  std::memcpy(body_dst, msg.subject.data(), msg.subject.size());
  body_dst += msg.subject.size();
  if (!msg.headers.empty()) std::memcpy(body_dst, msg.headers.data(), msg.headers.size());
  body_dst += msg.headers.size();
  uint32_t flags = 0;
  size_t stored = msg.payload.size();
  if (opt_.compression == Compression::kLz4 && msg.payload.size() >= opt_.compress_min_bytes) {
    // Capacity one below the raw size: LZ4 gives up (0) unless it saves space.
    int n = LZ4_compress_default(msg.payload.data(), body_dst, static_cast<int>(msg.payload.size()),
                                 static_cast<int>(msg.payload.size() - 1));
    if (n > 0) {
      flags = kFrameFlagLz4;
      stored = static_cast<size_t>(n);
    }
  }
  if (flags == 0 && !msg.payload.empty()) std::memcpy(body_dst, msg.payload.data(), stored);
  SealFrame(dst, flags, seq, ts, msg.subject.size(), msg.headers.size(), stored,
            static_cast<uint32_t>(msg.payload.size()));
  const uint64_t padded = PaddedFrameSize(msg.subject.size(), msg.headers.size(), stored);

  if (seg->first_ts == 0) seg->first_ts = ts;
  seg->end = off + padded;
  seg->last_seq = seq;
  seg->last_ts = ts;
  seg->written_frame_off = off;  // made visible by Publish
  if (staged) stage_len_ += padded;
  next_seq_ = seq + 1;
  last_ts_ = ts;
  retained_bytes_.fetch_add(padded, std::memory_order_relaxed);
  return seq;
}

absl::Status Log::Impl::WriteStaged() {
  if (stage_len_ == 0) return absl::OkStatus();
  SegmentFile& f = active_->file;
  absl::Status s = fs_->WriteAt(f.fd(), stage_from_, stage_.get(), stage_len_, f.path());
  if (!s.ok()) {
    // The staged frames are lost with the failure; nothing acknowledged them.
    Fail(s);
    return s;
  }
  stage_len_ = 0;
  return absl::OkStatus();
}

absl::Status Log::Impl::Publish() {
  if (absl::Status s = WriteStaged(); !s.ok()) return s;
  Segment* seg = active_;
  if (seg == nullptr) return absl::OkStatus();
  if (seg->written_frame_off == 0) return absl::OkStatus();  // nothing written since Open
  seg->published_frame_off.store(seg->written_frame_off, std::memory_order_release);
  CommittedEnd(seg->file.data()).store(seg->end, std::memory_order_release);
  last_seq_.store(next_seq_ - 1, std::memory_order_release);
  if (opt_.retention.discard == DiscardPolicy::kOld &&
      (opt_.retention.max_msgs != 0 || opt_.retention.max_bytes != 0)) {
    ExpireForLimits();
  }
  if (opt_.prefault_window != 0 && seg->end >= prefault_trigger_) {
    prefault_trigger_ = seg->end + opt_.prefault_window / 2;
    WakeBackground(false);
  }
  return absl::OkStatus();
}

void Log::Impl::PublishUnlessDeferred() {
  if (stage_writes_) return;
  (void)Publish();  // nothing staged: cannot fail
  if (opt_.sync == SyncMode::kAlways && opt_.sync_on_append) WakeBackground(true);
}

absl::Status Log::Impl::PublishDeferred() {
  if (absl::Status s = CheckFailed(); !s.ok()) return s;
  if (!stage_writes_) return absl::OkStatus();
  absl::Status s = Publish();
  if (s.ok() && opt_.sync_on_append) WakeBackground(true);
  return s;
}

absl::StatusOr<uint64_t> Log::Impl::Append(const Message& msg) {
  if (absl::Status s = CheckFailed(); !s.ok()) return s;
  absl::StatusOr<uint64_t> seq = WriteOne(msg, 0);
  if (!seq.ok()) return seq;
  PublishUnlessDeferred();
  return seq;
}

absl::StatusOr<uint64_t> Log::Impl::AppendBatch(absl::Span<const Message> msgs) {
  if (absl::Status s = CheckFailed(); !s.ok()) return s;
  if (msgs.empty()) return absl::InvalidArgumentError("empty batch");
  // All or nothing for what can be known before writing: every message is
  // valid and, under discard=new, the whole batch fits.
  uint64_t batch_bytes = 0;
  for (size_t i = 0; i < msgs.size(); ++i) {
    absl::StatusOr<uint64_t> checked = CheckMessage(msgs[i]);
    if (!checked.ok()) {
      return absl::Status(checked.status().code(),
                          absl::StrCat("message ", i, " of the batch: ", checked.status().message(),
                                       "; nothing appended"));
    }
    batch_bytes += *checked;
  }
  if (absl::Status s = CheckRoom(msgs.size(), batch_bytes); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(s.message(), "; nothing of the batch appended"));
  }
  const uint64_t first = next_seq_;
  const int64_t now = Now();  // one clock read stamps the whole batch
  for (size_t i = 0; i < msgs.size(); ++i) {
    absl::StatusOr<uint64_t> seq = WriteOne(msgs[i], now);
    if (!seq.ok()) {
      if (i == 0) return seq.status();
      PublishUnlessDeferred();
      return absl::Status(seq.status().code(),
                          absl::StrCat("appended ", i, " of ", msgs.size(), " messages (", first,
                                       "..", first + i - 1, "), then: ", seq.status().message()));
    }
  }
  PublishUnlessDeferred();
  return first;
}

LogStats Log::Impl::stats() const {
  LogStats st;
  st.first_seq = first_seq_.load(std::memory_order_acquire);
  st.last_seq = last_seq_.load(std::memory_order_acquire);
  st.durable_seq = durable_seq_.load(std::memory_order_acquire);
  st.msgs = st.last_seq + 1 - st.first_seq;
  st.bytes = retained_bytes_.load(std::memory_order_relaxed);
  st.syncs = syncs_.load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> l(mu_);
  st.segments = segments_.size();
  return st;
}

// ---- public wrappers ----

absl::StatusOr<std::unique_ptr<Log>> Log::Open(const std::string& dir, const LogOptions& options) {
  if (absl::Status s = ValidateLogOptions(options); !s.ok()) return s;
  FileSystem* fs = options.fs != nullptr ? options.fs : DefaultFileSystem();
  absl::StatusOr<StreamMeta> meta = StreamMeta::OpenForWrite(fs, dir, options.create_if_missing);
  if (!meta.ok()) return meta.status();
  auto impl = std::make_unique<Impl>(dir, options, std::move(*meta));
  if (absl::Status s = impl->Recover(); !s.ok()) return s;
  if (absl::Status s = impl->Start(); !s.ok()) return s;
  return std::unique_ptr<Log>(new Log(std::move(impl)));
}

Log::Log(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Log::~Log() = default;

absl::StatusOr<uint64_t> Log::Append(const Message& msg) { return impl_->Append(msg); }
absl::StatusOr<uint64_t> Log::AppendBatch(absl::Span<const Message> msgs) {
  return impl_->AppendBatch(msgs);
}
uint64_t Log::durable_seq() const { return impl_->durable_seq_.load(std::memory_order_acquire); }
uint64_t Log::first_seq() const { return impl_->first_seq_.load(std::memory_order_acquire); }
uint64_t Log::last_seq() const { return impl_->last_seq_.load(std::memory_order_acquire); }
void Log::RequestSync() { impl_->WakeBackground(true); }
void Log::PrepareSync() { impl_->PrepareSync(); }
absl::Status Log::Publish() { return impl_->PublishDeferred(); }
uint64_t Log::next_seq() const { return impl_->next_seq_; }

absl::Status Log::WaitDurable(uint64_t seq, absl::Duration timeout) {
  return impl_->WaitDurable(seq, timeout);
}
void Log::SetDurableCallback(std::function<void(uint64_t)> cb) {
  std::lock_guard<std::mutex> l(impl_->bg_mu_);
  impl_->durable_cb_ = std::move(cb);
}
absl::Status Log::Sync() { return impl_->Sync(); }
absl::Status Log::Close() { return impl_->Close(); }
void Log::EnforceRetention() { impl_->EnforceRetention(); }
void Log::ExpireBefore(uint64_t seq) { impl_->ExpireBefore(seq); }
LogStats Log::stats() const { return impl_->stats(); }
const RecoveryStats& Log::recovery() const { return impl_->recovery_; }
const StreamId& Log::stream_id() const { return impl_->meta_.id(); }
const std::string& Log::dir() const { return impl_->dir_; }

}  // namespace shortbus::engine
