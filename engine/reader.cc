#include "engine/reader.h"

#include <lz4.h>
#include <sys/stat.h>

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "engine/coding.h"
#include "engine/frame.h"
#include "engine/segment_header.h"

namespace shortbus::engine {
namespace {

// The live word comes from a file that may be damaged: never trust it past
// the mapping.
uint64_t LoadCommittedEnd(const SegmentFile& f) {
  const uint64_t end = CommittedEnd(f.data()).load(std::memory_order_acquire);
  return std::clamp<uint64_t>(end, kSegmentDataOffset, f.size());
}
bool LoadSealed(const SegmentFile& f) { return SealedHint(f.data()).load(std::memory_order_acquire) != 0; }

}  // namespace

absl::StatusOr<std::unique_ptr<Reader>> Reader::Open(const std::string& dir,
                                                     const ReaderOptions& options) {
  FileSystem* fs = options.fs != nullptr ? options.fs : DefaultFileSystem();
  absl::StatusOr<StreamMeta> meta = StreamMeta::OpenForRead(fs, dir);
  if (!meta.ok()) return meta.status();
  std::unique_ptr<Reader> r(new Reader(dir, fs, std::move(*meta), options.mapped_segments));
  r->verify_checksums_ = options.verify_checksums;
  r->read_payloads_ = options.read_payloads;
  if (absl::Status s = r->SeekToSequence(0); !s.ok()) return s;
  return r;
}

Reader::Reader(std::string dir, FileSystem* fs, StreamMeta meta, size_t max_parked)
    : dir_(std::move(dir)), fs_(fs), meta_(std::move(meta)), max_parked_(max_parked) {}

Reader::~Reader() = default;

absl::Status Reader::RefreshSegments() {
  absl::StatusOr<std::vector<std::string>> names = fs_->List(dir_);
  if (!names.ok()) return names.status();
  bases_.clear();
  for (const std::string& n : *names) {
    uint64_t base;
    if (ParseSegmentFileName(n, &base)) bases_.push_back(base);
  }
  std::sort(bases_.begin(), bases_.end());
  return absl::OkStatus();
}

absl::Status Reader::OpenSegment(size_t index) { return OpenSegmentBase(bases_[index]); }

absl::StatusOr<SegmentFile> Reader::MapSegment(uint64_t base) {
  const std::string path = absl::StrCat(dir_, "/", SegmentFileName(base));
  for (auto it = parked_.begin(); it != parked_.end(); ++it) {
    if (it->base != base) continue;
    // Still the same file under that name (recovery may have set it aside)?
    struct stat st;
    const bool same = ::stat(path.c_str(), &st) == 0 && st.st_ino == it->inode;
    SegmentFile f = std::move(it->file);
    parked_.erase(it);
    if (same) return f;
    break;
  }
  absl::StatusOr<SegmentFile> f = SegmentFile::Open(fs_, path, false);
  if (!f.ok()) return f.status();
  SegmentIdentity id;
  if (absl::Status s = DecodeSegmentIdentity(f->data(), path, &id); !s.ok()) return s;
  if (id.stream_id != meta_.id() || id.base_seq != base) {
    return absl::DataLossError(absl::StrCat("segment ", path, " does not belong here"));
  }
  return f;
}

void Reader::Enter(uint64_t base, SegmentFile file) {
  if (cur_.is_open() && cur_base_ != base) {
    // Keep the segment we leave mapped: seeks jump back and forth.
    struct stat st;
    const ino_t ino = ::fstat(cur_.fd(), &st) == 0 ? st.st_ino : 0;
    parked_.push_back({cur_base_, ino, std::move(cur_)});
    if (parked_.size() > max_parked_) parked_.erase(parked_.begin());
  }
  cur_ = std::move(file);
  cur_base_ = base;
  MoveTo(kSegmentDataOffset, base);
}

absl::Status Reader::OpenSegmentBase(uint64_t base) {
  absl::StatusOr<SegmentFile> f = MapSegment(base);
  if (!f.ok()) return f.status();
  Enter(base, std::move(*f));
  return absl::OkStatus();
}

absl::Status Reader::OpenSegmentFor(uint64_t seq) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (absl::Status s = RefreshSegments(); !s.ok()) return s;
    if (bases_.empty()) {
      cur_ = SegmentFile();
      end_seen_ = 0;
      cur_base_ = 0;
      return absl::OkStatus();
    }
    auto it = std::upper_bound(bases_.begin(), bases_.end(), seq);
    size_t index = it == bases_.begin() ? 0 : static_cast<size_t>(it - bases_.begin()) - 1;
    absl::Status s = OpenSegment(index);
    if (!absl::IsNotFound(s)) return s;  // NotFound: deleted by retention meanwhile; list again
  }
  return absl::UnavailableError(absl::StrCat("segments of ", dir_, " keep vanishing"));
}

absl::Status Reader::SeekToSequence(uint64_t seq) {
  min_ts_ = 0;
  min_seq_ = std::max(seq, meta_.first_seq());
  return OpenSegmentFor(min_seq_);
}

absl::Status Reader::SeekToPosition(uint64_t segment_base, uint64_t offset, uint64_t seq) {
  min_ts_ = 0;
  min_seq_ = std::max(seq, meta_.first_seq());
  const bool aligned = offset >= kSegmentDataOffset && offset % kFrameAlign == 0;
  // The segment is the one already mapped, or opened by its name: no
  // directory listing and no remapping on the path of an indexed seek.
  const bool here = cur_.is_open() && cur_base_ == segment_base;
  if (aligned && (here || OpenSegmentBase(segment_base).ok())) {
    FrameView f;
    const uint64_t end = LoadCommittedEnd(cur_);
    if (offset < end && DecodeFrame(cur_.data() + offset, end - offset, &f) == FrameStatus::kOk &&
        f.sequence <= seq && f.sequence >= segment_base) {
      MoveTo(offset, f.sequence);
      return absl::OkStatus();
    }
  }
  // A stale hint (segment deleted, stream rewritten): fall back to a scan.
  return OpenSegmentFor(min_seq_);
}

absl::Status Reader::SeekToTime(int64_t ts_ns) {
  if (absl::Status s = RefreshSegments(); !s.ok()) return s;
  // Binary search for the last segment whose first frame is older than ts.
  size_t lo = 0, hi = bases_.size();
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (absl::Status s = OpenSegment(mid); !s.ok()) {
      hi = mid;  // unreadable: search the older half
      continue;
    }
    FrameView f;
    const uint64_t end = LoadCommittedEnd(cur_);
    if (DecodeFrame(cur_.data() + kSegmentDataOffset, end - kSegmentDataOffset, &f) ==
            FrameStatus::kOk &&
        f.timestamp_ns < ts_ns) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  min_seq_ = meta_.first_seq();
  min_ts_ = ts_ns;
  if (bases_.empty()) {
    cur_ = SegmentFile();
    end_seen_ = 0;
    return absl::OkStatus();
  }
  return OpenSegment(lo);
}

absl::Status Reader::SeekToLast() {
  if (absl::Status s = RefreshSegments(); !s.ok()) return s;
  min_ts_ = 0;
  for (size_t i = bases_.size(); i-- > 0;) {
    if (absl::Status s = OpenSegment(i); !s.ok()) {
      if (absl::IsNotFound(s)) continue;
      return s;
    }
    const uint64_t end = LoadCommittedEnd(cur_);
    uint64_t off = kSegmentDataOffset, last_off = 0, last_seq = 0;
    uint32_t len;
    uint64_t seq;
    while (off < end && PeekFrame(cur_.data() + off, end - off, &len, &seq)) {
      last_off = off;
      last_seq = seq;
      off += AlignUp(len, kFrameAlign);
    }
    if (last_off != 0) {
      MoveTo(last_off, last_seq);
      min_seq_ = std::max(last_seq, meta_.first_seq());
      return absl::OkStatus();
    }
    if (i + 1 == bases_.size() && i > 0) continue;  // empty active segment: look back one
    min_seq_ = std::max(cur_base_, meta_.first_seq());
    return absl::OkStatus();
  }
  min_seq_ = meta_.first_seq();
  return absl::OkStatus();
}

void Reader::MoveTo(uint64_t off, uint64_t seq) {
  end_seen_ = 0;
  off_ = off;
  expected_seq_ = seq;
  resyncing_ = false;
  skipped_ = false;
}

bool Reader::ContinueResync() {
  const uint64_t end = LoadCommittedEnd(cur_);
  // The frame that carries the expected sequence counts: damage (zeroed
  // bytes, a cut) can stand before it without it being lost.
  uint64_t seq = 0;
  if (uint64_t off = FindFrameInRange(resync_scan_from_, resync_bad_seq_, UINT64_MAX, &seq); off != 0) {
    // The frame found may be misplaced itself (its checksum guards against
    // damage, not against a frame copied or forged where it does not
    // belong) when it skips sequences and the frame after it does not
    // carry the next one: then a later frame carrying one of the sequences
    // it would skip is where the stream goes on, as in Next. The usual
    // case, the frame right after a damaged one followed by its successor,
    // costs no scan.
    uint64_t lower_seq = 0;
    while (seq > resync_bad_seq_ && !FollowedByNext(off, seq)) {
      const uint64_t lower = FindFrameInRange(off + kFrameAlign, resync_bad_seq_, seq - 1, &lower_seq);
      if (lower == 0) break;
      off = lower;
      seq = lower_seq;
    }
    MoveTo(off, seq);
    return true;
  }
  // New frames start at or after today's committed end: scan only those next time.
  resync_scan_from_ = std::max(resync_scan_from_, AlignUp(end, kFrameAlign));
  return false;
}

bool Reader::FollowedByNext(uint64_t off, uint64_t seq) const {
  const uint64_t end = LoadCommittedEnd(cur_);
  FrameView f;
  if (off >= end || DecodeFrame(cur_.data() + off, end - off, &f) != FrameStatus::kOk) return false;
  const uint64_t next = off + f.padded_len();
  return next < end && DecodeFrame(cur_.data() + next, end - next, &f) == FrameStatus::kOk && f.sequence == seq + 1;
}

uint64_t Reader::FindFrameInRange(uint64_t from, uint64_t lo, uint64_t hi, uint64_t* seq) const {
  const uint64_t end = LoadCommittedEnd(cur_);
  for (uint64_t off = AlignUp(from, kFrameAlign); off + kFrameHeaderSize <= end; off += kFrameAlign) {
    FrameView f;
    if (DecodeFrame(cur_.data() + off, end - off, &f) == FrameStatus::kOk && f.sequence >= lo && f.sequence <= hi) {
      *seq = f.sequence;
      return off;
    }
  }
  return 0;
}

absl::Status Reader::Resync(uint64_t bad_off, const char* why) {
  resyncing_ = true;
  resync_bad_seq_ = expected_seq_;
  resync_scan_from_ = bad_off + kFrameAlign;
  const std::string where = absl::StrCat("segment ", cur_.path(), " offset ", bad_off, ": ", why);
  if (ContinueResync()) {
    if (expected_seq_ == resync_bad_seq_) {
      return absl::DataLossError(absl::StrCat(where, "; no sequence lost, resumed at offset ", off_));
    }
    return absl::DataLossError(
        absl::StrCat(where, "; sequences ", resync_bad_seq_, "..", expected_seq_ - 1, " skipped"));
  }
  if (LoadSealed(cur_)) {
    // The segment's remaining frames are unreadable: let Next move on.
    resyncing_ = false;
    off_ = LoadCommittedEnd(cur_);
    return absl::DataLossError(
        absl::StrCat(where, "; rest of segment from sequence ", resync_bad_seq_, " skipped"));
  }
  // The active segment: later frames may still come; Next looks for them.
  return absl::DataLossError(absl::StrCat(where, " at sequence ", resync_bad_seq_));
}

absl::Status Reader::Next(Record* out) {
  while (true) {
    if (!cur_.is_open()) {
      if (absl::Status s = OpenSegmentFor(std::max(min_seq_, expected_seq_)); !s.ok()) return s;
      if (!cur_.is_open()) return absl::OutOfRangeError("");
    }
    const uint64_t first = meta_.first_seq();
    if (min_seq_ < first) min_seq_ = first;
    if (resyncing_) {
      const uint64_t bad_seq = resync_bad_seq_;
      if (ContinueResync()) {
        if (expected_seq_ > bad_seq + 1) {
          return absl::DataLossError(absl::StrCat("segment ", cur_.path(), ": sequences ", bad_seq + 1, "..",
                                                  expected_seq_ - 1, " skipped after damage"));
        }
        continue;
      }
      if (!LoadSealed(cur_)) return absl::OutOfRangeError("");
      resyncing_ = false;
      off_ = LoadCommittedEnd(cur_);
    }
    if (off_ >= end_seen_) end_seen_ = LoadCommittedEnd(cur_);
    const uint64_t end = end_seen_;
    if (off_ < end) {
      const char* p = cur_.data() + off_;
      uint32_t len;
      uint64_t seq;
      // Skipping (below min_seq_, or older than min_ts_): read only length,
      // sequence and timestamp; what is returned is checked.
      const bool peek_ok = cur_base_ != verify_base_ || off_ >= verify_below_;
      if (peek_ok && (min_seq_ > expected_seq_ || min_ts_ != 0) && PeekFrame(p, end - off_, &len, &seq) &&
          seq == expected_seq_ && (seq < min_seq_ || PeekTimestamp(p) < min_ts_)) {
        if (!skipped_) {
          skipped_ = true;
          skip_off_ = off_;
          skip_seq_ = expected_seq_;
        }
        off_ += AlignUp(len, kFrameAlign);
        expected_seq_ = seq + 1;
        continue;
      }
      FrameView f;
      FrameStatus st = DecodeFrame(p, end - off_, &f, verify_checksums_);
      if (skipped_ && (st != FrameStatus::kOk || f.sequence != expected_seq_)) {
        // A frame skipped on its unchecked length may be the damaged one
        // and have sent us into the middle of another: walk the skipped
        // frames again, checking each, up to here; damage is then reported
        // where it is, and the whole frames after it are found.
        verify_base_ = cur_base_;
        verify_below_ = off_ + 1;
        MoveTo(skip_off_, skip_seq_);
        continue;
      }
      if (st != FrameStatus::kOk) {
        // The end cached in end_seen_ may be stale if the word was lowered
        // since (a recovery cutting a damaged tail of the same file): read
        // to the end as it is now before calling this damage.
        if (const uint64_t now_end = LoadCommittedEnd(cur_); now_end < end_seen_) {
          end_seen_ = now_end;
          continue;
        }
        return Resync(off_, FrameStatusName(st));
      }
      if (f.sequence > expected_seq_) {
        // A whole frame further on. Misplaced (its checksum guards against
        // damage, not against a frame copied or forged where it does not
        // belong) when a frame carrying one of the sequences it skips
        // follows it: resume there, or the misplaced frame's sequence
        // would hide every real one after it.
        uint64_t found_seq = 0;
        if (const uint64_t found = FindFrameInRange(off_ + kFrameAlign, expected_seq_, f.sequence - 1, &found_seq);
            found != 0) {
          const uint64_t bad_off = off_, missing = expected_seq_;
          MoveTo(found, found_seq);
          return absl::DataLossError(absl::StrCat(
              "segment ", cur_.path(), " offset ", bad_off, ": a frame of sequence ", f.sequence,
              " out of place; resumed at offset ", found, " (sequence ", found_seq, ")",
              found_seq > missing ? absl::StrCat("; sequences ", missing, "..", found_seq - 1, " skipped") : ""));
        }
        // The ones between are missing. Report them; the next call serves this frame.
        const uint64_t missing = expected_seq_;
        expected_seq_ = f.sequence;
        if (f.sequence > min_seq_) {  // some missing sequence was wanted
          return absl::DataLossError(absl::StrCat("segment ", cur_.path(), " offset ", off_, ": sequences ",
                                                  missing, "..", f.sequence - 1, " missing"));
        }
        continue;
      }
      if (f.sequence < expected_seq_) return Resync(off_, "frame out of sequence");
      const uint64_t frame_off = off_;
      off_ += f.padded_len();
      expected_seq_ = f.sequence + 1;
      skipped_ = false;
      if (f.sequence < min_seq_ || f.timestamp_ns < min_ts_) continue;
      min_ts_ = 0;
      out->segment_base = cur_base_;
      out->offset = frame_off;
      out->frame_bytes = f.padded_len();
      out->sequence = f.sequence;
      out->timestamp_ns = f.timestamp_ns;
      out->subject = f.subject;
      out->headers = f.headers;
      if (!read_payloads_) {
        out->payload = {};
      } else if (f.compressed()) {
        // No message is larger than its segment: a forged length must not
        // size the buffer (DecodeFrame bounds it by the stored length too).
        if (f.payload_len > cur_.size()) {
          return absl::DataLossError(absl::StrCat("segment ", cur_.path(), " sequence ", f.sequence,
                                                  ": compressed payload claims ", f.payload_len, " bytes"));
        }
        if (scratch_.size() < f.payload_len) scratch_.resize(f.payload_len);
        int n = LZ4_decompress_safe(f.stored_payload.data(), scratch_.data(),
                                    static_cast<int>(f.stored_payload.size()),
                                    static_cast<int>(f.payload_len));
        if (n < 0 || static_cast<uint32_t>(n) != f.payload_len) {
          return absl::DataLossError(absl::StrCat("segment ", cur_.path(), " sequence ", f.sequence,
                                                  ": compressed payload does not decode"));
        }
        out->payload = std::string_view(scratch_.data(), f.payload_len);
      } else {
        out->payload = f.stored_payload;
      }
      return absl::OkStatus();
    }
    // At the committed end: the writer may have moved to the next segment.
    if (!LoadSealed(cur_) || LoadCommittedEnd(cur_) != end) {
      if (LoadCommittedEnd(cur_) != end) continue;
      return absl::OutOfRangeError("");
    }
    // The next segment normally starts at the next sequence: map it by its
    // name, or take it back from the parked ones, without listing the
    // directory. Anything else (a gap, a damaged or vanished file) takes
    // the listing path below, which reports it.
    if (expected_seq_ > cur_base_ && expected_seq_ != unreadable_base_) {
      absl::StatusOr<SegmentFile> next = MapSegment(expected_seq_);
      if (next.ok()) {
        Enter(expected_seq_, std::move(*next));
        unreadable_base_ = 0;
        continue;
      }
    }
    if (absl::Status s = RefreshSegments(); !s.ok()) return s;
    auto it = std::upper_bound(bases_.begin(), bases_.end(), std::max(cur_base_, unreadable_base_));
    if (it == bases_.end()) return absl::OutOfRangeError("");
    const uint64_t want = expected_seq_;
    const uint64_t candidate = *it;
    SegmentFile previous = std::move(cur_);
    const uint64_t previous_base = cur_base_;
    absl::Status s = OpenSegment(static_cast<size_t>(it - bases_.begin()));
    if (absl::IsNotFound(s)) {
      s = OpenSegmentFor(std::max(want, meta_.first_seq()));
    }
    if (!s.ok()) {
      // Stay where we were, and look past this segment next time.
      cur_ = std::move(previous);
      end_seen_ = 0;
      cur_base_ = previous_base;
      off_ = LoadCommittedEnd(cur_);
      expected_seq_ = want;
      unreadable_base_ = candidate;
      return absl::DataLossError(absl::StrCat(s.message(), "; skipped"));
    }
    unreadable_base_ = 0;
    if (cur_base_ > want && cur_base_ > meta_.first_seq()) {
      return absl::DataLossError(absl::StrCat("sequences ", want, "..", cur_base_ - 1,
                                              " are missing before segment ", cur_.path()));
    }
  }
}

absl::Status Reader::WaitForData(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Duration backoff = absl::Microseconds(20);
  while (!HasMore()) {
    absl::Time now = absl::Now();
    if (now >= deadline) return absl::DeadlineExceededError("no new data");
    std::this_thread::sleep_for(absl::ToChronoNanoseconds(std::min(backoff, deadline - now)));
    backoff = std::min(backoff * 2, absl::Milliseconds(1));
  }
  return absl::OkStatus();
}

bool Reader::HasMore() {
  if (!cur_.is_open()) {
    if (!RefreshSegments().ok()) return false;
    return !bases_.empty();
  }
  const uint64_t end = LoadCommittedEnd(cur_);
  if (resyncing_) return end > resync_scan_from_ || LoadSealed(cur_);
  return off_ < end || LoadSealed(cur_);
}

}  // namespace shortbus::engine
