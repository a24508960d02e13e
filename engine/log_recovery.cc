// Open-time recovery of a stream directory. docs/format.md, "Recovery",
// states the rules this file implements.
#include <fcntl.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/frame.h"
#include "engine/log_impl.h"
#include "engine/segment_scan.h"

namespace shortbus::engine {
namespace {

struct Found {
  uint64_t base;
  std::string name;
};

// Offset just past the last non-zero byte at or after `from` (`from` when
// there is none), reading only the regions the file system says may hold
// data: a clean segment's unwritten space costs nothing to check.
uint64_t JunkEnd(FileSystem* fs, const SegmentFile& f, uint64_t from) {
  uint64_t junk_end = from;
  for (uint64_t off = from; off < f.size();) {
    const uint64_t data = fs->NextData(f.fd(), off, f.size());
    if (data >= f.size()) break;
    const uint64_t hole = std::max(fs->NextHole(f.fd(), data, f.size()), data + 1);
    const uint64_t lo = std::max(data, from);
    const uint64_t end = LastNonZeroEnd(f.data(), lo, std::min(hole, f.size()));
    if (end > lo) junk_end = end;
    off = hole;
  }
  return junk_end;
}

}  // namespace

absl::Status Log::Impl::UnsealForAppend(Segment* seg) {
  char* data = seg->file.data();
  const uint64_t junk_end = JunkEnd(fs_, seg->file, seg->end);
  if (junk_end > seg->end) {
    if (absl::Status s = fs_->Zero(seg->file.fd(), seg->end, junk_end - seg->end, seg->file.path()); !s.ok()) {
      return s;
    }
    Report({seg->file.path(), seg->end, junk_end - seg->end, "bytes after a sealed end zeroed", false});
  }
  seg->sealed.store(false, std::memory_order_release);
  seg->seal_durable = false;
  SealedHint(data).store(0, std::memory_order_release);
  EncodeSyncRecord(data, SyncRecord{seg->end, seg->last_seq, seg->last_ts, false, false});
  return seg->file.Sync();
}

absl::Status Log::Impl::Recover() {
  recovering_ = true;
  struct Done {
    bool* flag;
    ~Done() { *flag = false; }
  } done{&recovering_};
  absl::StatusOr<std::vector<std::string>> names = fs_->List(dir_);
  if (!names.ok()) return names.status();
  std::vector<Found> found;
  for (const std::string& n : *names) {
    uint64_t base = 0;
    if (ParseSegmentFileName(n, &base)) {
      found.push_back({base, n});
    } else if (n.size() > 4 && n.compare(n.size() - 4, 4, ".tmp") == 0) {
      // A segment being prepared, or a STREAM being created, when the last
      // writer stopped: never holds data.
      if (absl::Status s = fs_->Remove(absl::StrCat(dir_, "/", n)); !s.ok()) return s;
    }
  }
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.base < b.base; });

  bool dir_changed = false;  // names created or renamed: fsync the directory at the end
  // Renames a segment out of the way (to <path><suffix>), never over
  // earlier evidence.
  auto set_aside = [&](const std::string& path, const char* suffix = ".bad") -> absl::StatusOr<std::string> {
    auto exists = [&](const std::string& p) {
      absl::StatusOr<int> fd = fs_->Open(p, O_RDONLY, 0);
      if (fd.ok()) fs_->Close(*fd);
      return fd.ok();
    };
    std::string target = path + suffix;
    for (int n = 1; exists(target); ++n) target = absl::StrCat(path, suffix, ".", n);
    if (absl::Status s = fs_->Rename(path, target); !s.ok()) return s;
    dir_changed = true;
    return target;
  };
  auto quarantine = [&](const std::string& path, const std::string& why) -> absl::Status {
    absl::StatusOr<std::string> target = set_aside(path);
    if (!target.ok()) return target.status();
    Report({path, 0, 0, absl::StrCat(why, "; renamed to ", *target), false});
    return absl::OkStatus();
  };
  // The highest base named by a segment file kept, set aside as corrupt or
  // as a torn roll: sequences below it may have been handed out after
  // everything before was expired, so the log never restarts below it.
  // Segments set aside as a lost tail do not count: they follow a kept
  // segment, nothing in them was ever durable, and their sequences are
  // handed out again (as those of a tail cut in the last segment are).
  uint64_t highest_base = 0;

  uint64_t prev_last = 0;  // last sequence of the previous kept segment
  bool have_prev = false;
  // The previous kept segment had no sealed record on disk: its final sync
  // never completed, and segments are synced in order (a later segment's
  // first fdatasync follows the earlier one's sealing sync), so nothing
  // after its durable part was ever durable. A gap or a bad segment after
  // it is then where a power cut stopped the writeback: the rest of the
  // log is a lost tail, set aside, and the log continues after the last
  // intact frame (docs/format.md, "Recovery").
  bool prev_unsealed = false;
  bool lost_tail = false;  // set aside everything from here on
  // The sealed record of such a segment is written only once the next
  // segment is known to be kept: a crash during this recovery must leave
  // the evidence (no sealed record) for the next one.
  Segment* pending_seal = nullptr;
  auto write_pending_seal = [&]() -> absl::Status {
    Segment* p = std::exchange(pending_seal, nullptr);
    if (p == nullptr) return absl::OkStatus();
    EncodeSyncRecord(p->file.data(), SyncRecord{p->end, p->last_seq, p->last_ts, true, false});
    return p->file.Sync();
  };
  auto set_aside_tail = [&](const std::string& path, const std::string& why) -> absl::Status {
    absl::StatusOr<std::string> target = set_aside(path, ".tail-0");
    if (!target.ok()) return target.status();
    lost_tail = true;
    Report({path, 0, 0, absl::StrCat(why, "; renamed to ", *target), true});
    return absl::OkStatus();
  };
  constexpr char kAfterUnsealed[] = " after a segment whose end never became durable (power loss)";
  for (size_t i = 0; i < found.size(); ++i) {
    const std::string path = absl::StrCat(dir_, "/", found[i].name);
    if (lost_tail) {
      if (absl::Status s = set_aside_tail(path, "segment follows a lost tail"); !s.ok()) return s;
      continue;
    }
    if (found[i].base > kMaxSequence) {
      // Never written by a log (appends stop at kMaxSequence): not evidence
      // of sequences handed out, so highest_base ignores it.
      if (absl::Status s = quarantine(path, absl::StrCat("base sequence ", found[i].base,
                                                         " is beyond the sequence space (", kMaxSequence, ")"));
          !s.ok()) {
        return s;
      }
      continue;
    }
    const bool is_last = i + 1 == found.size();
    const bool tail_if_bad = have_prev && prev_unsealed;
    absl::StatusOr<SegmentFile> file = SegmentFile::Open(fs_, path, true);
    if (!file.ok()) {
      if (!absl::IsDataLoss(file.status())) return file.status();
      if (tail_if_bad) {
        if (absl::Status s = set_aside_tail(path, absl::StrCat(file.status().message(), kAfterUnsealed)); !s.ok()) {
          return s;
        }
        continue;
      }
      if (absl::Status s = write_pending_seal(); !s.ok()) return s;
      highest_base = std::max(highest_base, found[i].base);
      if (absl::Status s = quarantine(path, std::string(file.status().message())); !s.ok()) return s;
      continue;
    }
    SegmentIdentity id;
    absl::Status hs = DecodeSegmentIdentity(file->data(), path, &id);
    if (hs.ok() && id.stream_id != meta_.id()) {
      hs = absl::DataLossError(absl::StrCat("segment ", path, " belongs to stream ",
                                            StreamIdHex(id.stream_id)));
    }
    if (hs.ok() && id.base_seq != found[i].base) {
      hs = absl::DataLossError(absl::StrCat("segment ", path, " says base sequence ", id.base_seq));
    }
    if (!hs.ok()) {
      if (absl::IsFailedPrecondition(hs)) return hs;  // newer format: touch nothing
      // A segment whose header never reached the disk is a roll cut short
      // by a crash: its first sync would have written the header, and
      // segments are synced in order, so under every sync mode nothing in
      // it or after it was ever durable.
      const bool torn_roll = IsAllZero(file->data(), 0, kSegmentDataOffset);
      std::string why(hs.message());
      *file = SegmentFile();
      if (tail_if_bad || torn_roll) {
        // Sequences from a torn roll's base on may have been handed out
        // after everything before was expired: never restart below it.
        if (!have_prev) highest_base = std::max(highest_base, found[i].base);
        if (absl::Status s = set_aside_tail(
                path, torn_roll ? std::string("segment created but never written (crash during roll)")
                                : absl::StrCat(why, kAfterUnsealed));
            !s.ok()) {
          return s;
        }
        continue;
      }
      if (absl::Status s = write_pending_seal(); !s.ok()) return s;
      highest_base = std::max(highest_base, found[i].base);
      if (absl::Status s = quarantine(path, why); !s.ok()) return s;
      continue;
    }
    if (tail_if_bad && id.base_seq > prev_last + 1) {
      *file = SegmentFile();
      if (absl::Status s = set_aside_tail(path, absl::StrCat("sequences ", prev_last + 1, "..", id.base_seq - 1,
                                                             " missing before this segment", kAfterUnsealed));
          !s.ok()) {
        return s;
      }
      continue;
    }
    if (absl::Status s = write_pending_seal(); !s.ok()) return s;
    highest_base = std::max(highest_base, found[i].base);
    if (have_prev && id.base_seq != prev_last + 1) {
      if (id.base_seq <= prev_last) {
        *file = SegmentFile();
        if (absl::Status s = quarantine(path, absl::StrCat("base sequence ", id.base_seq,
                                                           " overlaps the previous segment (last ",
                                                           prev_last, ")"));
            !s.ok()) {
          return s;
        }
        continue;
      }
      Report({path, 0, 0,
              absl::StrCat("sequences ", prev_last + 1, "..", id.base_seq - 1,
                           " are missing (lost before this segment)"),
              false});
    }

    auto seg = std::make_shared<Segment>();
    seg->base_seq = id.base_seq;
    seg->file = std::move(*file);
    char* data = seg->file.data();
    const uint64_t size = seg->file.size();
    SyncRecord rec;
    bool rec_ok = DecodeSyncRecord(data, &rec) && rec.synced_end >= kSegmentDataOffset &&
                  rec.synced_end <= size && rec.synced_end % kFrameAlign == 0 &&
                  rec.last_seq + 1 >= id.base_seq;
    if (!rec_ok) rec = SyncRecord{kSegmentDataOffset, id.base_seq - 1, 0, false, false};

    if (rec.sealed && !is_last) {
      seg->end = rec.synced_end;
      seg->last_seq = rec.last_seq;
      seg->last_ts = rec.last_ts;
    } else {
      ScanResult r = ScanFrames(data, size, rec.synced_end, rec.last_seq + 1, rec.last_ts);
      recovery_.frames_scanned += r.frames;
      recovery_.bytes_scanned += r.end - rec.synced_end;
      seg->end = r.end;
      seg->last_seq = r.last_seq;
      seg->last_ts = r.last_ts;
      // After a clean Close nothing follows the end (recovery zeroed any
      // junk before the last life began, and a writer only writes at the
      // end); after a crash anything may, so look.
      const bool clean = rec_ok && rec.clean && r.frames == 0 && r.stop == FrameStatus::kEnd;
      const uint64_t junk_end = clean ? r.end : JunkEnd(fs_, seg->file, r.end);
      if (junk_end > r.end) {
        // Keep the bytes we are about to drop, then zero them so that no
        // stale frame can ever follow a future append.
        std::string keep = absl::StrCat(path, ".tail-", r.end);
        absl::StatusOr<int> kfd = fs_->Open(keep, O_WRONLY | O_CREAT | O_EXCL, 0600);
        for (int n = 1; !kfd.ok() && absl::IsAlreadyExists(kfd.status()); ++n) {
          keep = absl::StrCat(path, ".tail-", r.end, ".", n);  // never over earlier evidence
          kfd = fs_->Open(keep, O_WRONLY | O_CREAT | O_EXCL, 0600);
        }
        if (!kfd.ok()) return kfd.status();
        dir_changed = true;
        absl::Status s = fs_->WriteAt(*kfd, 0, data + r.end, junk_end - r.end, keep);
        if (s.ok()) s = fs_->SyncData(*kfd, keep);
        fs_->Close(*kfd);
        if (s.ok()) s = fs_->Zero(seg->file.fd(), r.end, junk_end - r.end, path);
        if (s.ok()) s = seg->file.Sync();
        if (!s.ok()) return s;
        const std::string reason =
            r.sequence_break ? absl::StrCat("frame out of sequence (expected ", r.last_seq + 1, ")")
                             : FrameStatusName(r.stop);
        recovery_.tail_bytes_cut += junk_end - r.end;
        // A tail: the segment is the last, or it was never sealed on disk
        // (the cut bytes were never recorded durable). Damage inside a
        // sealed segment is not read here (docs/format.md, "Recovery").
        Report({path, r.end, junk_end - r.end,
                absl::StrCat(reason, " at offset ", r.end, "; bytes kept in ", keep), true});
      }
    }
    seg->first_ts = 0;
    if (seg->last_seq >= seg->base_seq) {
      FrameView f;
      if (DecodeFrame(data + kSegmentDataOffset, size - kSegmentDataOffset, &f) == FrameStatus::kOk) {
        seg->first_ts = f.timestamp_ns;
      }
    }
    CommittedEnd(data).store(seg->end, std::memory_order_release);
    if (!is_last) {
      seg->sealed.store(true, std::memory_order_release);
      SealedHint(data).store(1, std::memory_order_release);
      if (!rec.sealed) pending_seal = seg.get();  // written by write_pending_seal, or unsealed below
      seg->seal_durable = true;
    } else {
      SealedHint(data).store(0, std::memory_order_release);
      // Whatever the page cache held is made durable and recorded, so the
      // next open reads nothing it has already read; and the record loses
      // its clean flag on disk before this life appends anything.
      const bool recorded = rec_ok && rec.synced_end == seg->end && !rec.sealed;
      if (!recorded) {
        if (absl::Status s = seg->file.Sync(); !s.ok()) return s;
      }
      EncodeSyncRecord(data, SyncRecord{seg->end, seg->last_seq, seg->last_ts, false, false});
      if (absl::Status s = seg->file.Sync(); !s.ok()) return s;
    }
    seg->synced_end = seg->end;
    seg->synced_last_seq = seg->last_seq;
    seg->synced_last_ts = seg->last_ts;
    prev_last = seg->last_seq;
    have_prev = true;
    prev_unsealed = !(rec_ok && rec.sealed);
    segments_.push_back(std::move(seg));
  }

  if (pending_seal != nullptr && pending_seal != segments_.back().get()) {
    if (absl::Status s = write_pending_seal(); !s.ok()) return s;
  }
  if (!segments_.empty() && segments_.back()->sealed.load(std::memory_order_relaxed)) {
    // The segment after this one was set aside (torn roll, bad header,
    // overlap): this one is the active segment again and must not stay
    // sealed, or its sealed record would hide what is appended to it.
    Segment* seg = segments_.back().get();
    absl::Status s = UnsealForAppend(seg);
    if (!s.ok()) return s;
  }
  if (dir_changed) {
    if (absl::Status s = fs_->SyncDir(dir_); !s.ok()) return s;
  }
  recovery_.segments = segments_.size();
  for (const auto& seg : segments_) last_ts_ = std::max(last_ts_, seg->last_ts);
  if (!segments_.empty()) {
    Segment* last = segments_.back().get();
    active_ = last;
    next_seq_ = last->last_seq + 1;
    uint64_t bytes = 0;
    for (const auto& s : segments_) bytes += s->end - kSegmentDataOffset;
    retained_bytes_.store(bytes, std::memory_order_relaxed);
  }
  if (highest_base > next_seq_) {
    Report({dir_, 0, 0,
            absl::StrCat("sequences ", next_seq_, "..", highest_base - 1,
                         " are missing; the stream continues at ", highest_base),
            false});
    next_seq_ = highest_base;
  }
  last_seq_.store(next_seq_ - 1, std::memory_order_release);
  durable_seq_.store(next_seq_ - 1, std::memory_order_release);
  InitRetentionCursor();
  if (segments_.empty()) first_seq_.store(next_seq_, std::memory_order_release);
  {
    std::lock_guard<std::mutex> l(retention_mu_);
    ExpiryRule rule;
    const RetentionLimits& lim = opt_.retention;
    const uint64_t last = next_seq_ - 1;
    // What an earlier ExpireBefore (a purge) removed stays removed: the
    // first sequence the stream file recorded, capped at the end of the log.
    rule.keep_from_seq = std::min(meta_.first_seq(), next_seq_);
    if (lim.discard == DiscardPolicy::kOld) {
      if (lim.max_msgs != 0 && last >= lim.max_msgs) {
        rule.keep_from_seq = std::max(rule.keep_from_seq, last - lim.max_msgs + 1);
      }
      rule.max_bytes = lim.max_bytes;
    }
    if (lim.max_age > absl::ZeroDuration()) {
      rule.age_cutoff_ns = std::max<int64_t>(0, Now() - absl::ToInt64Nanoseconds(lim.max_age));
    }
    Expire(rule);
  }
  meta_.set_first_seq(first_seq_.load(std::memory_order_relaxed));
  DeleteExpiredSegments();
  return absl::OkStatus();
}

}  // namespace shortbus::engine
