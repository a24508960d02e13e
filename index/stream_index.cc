#include "index/stream_index.h"

#include <algorithm>
#include <cstddef>

#include "absl/strings/str_cat.h"
#include "engine/coding.h"
#include "engine/segment_header.h"
#include "index/keys.h"
#include "index/value_codec.h"

namespace shortbus::index {
namespace {

using engine::DecodeFixed64;
using engine::EncodeFixed64;

std::string StreamKey(uint32_t stream_no) {
  std::string k(4, '\0');
  PutBigEndian32(k.data(), stream_no);
  return k;
}

// Positions `cur` on the greatest key of `stream_no` that is <= key (or <
// key when `strict`). False when there is none.
bool SeekAtOrBefore(MDB_cursor* cur, uint32_t stream_no, StreamU64Key key, bool strict, MDB_val* k,
                    MDB_val* v) {
  *k = key.val();
  int rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
  if (rc == 0 && !strict && ViewOf(*k) == std::string_view(key.bytes, sizeof key.bytes)) return true;
  rc = rc == 0 ? mdb_cursor_get(cur, k, v, MDB_PREV) : mdb_cursor_get(cur, k, v, MDB_LAST);
  if (rc != 0) return false;
  uint32_t s = 0;
  uint64_t x = 0;
  return StreamU64Key::Parse(*k, &s, &x) && s == stream_no;
}

void EncodeSegment(const SegmentInfo& g, std::string* out) {
  out->clear();
  Put64(out, g.first_seq);
  Put64(out, g.last_seq);
  Put64(out, static_cast<uint64_t>(g.first_ts));
  Put64(out, static_cast<uint64_t>(g.last_ts));
  Put64(out, g.bytes);
  Put8(out, g.sealed ? 1 : 0);
  PutBytes(out, g.file);
}

bool DecodeSegment(uint64_t base, std::string_view bytes, SegmentInfo* g) {
  ValueReader r(bytes);
  g->base = base;
  g->first_seq = r.U64();
  g->last_seq = r.U64();
  g->first_ts = r.I64();
  g->last_ts = r.I64();
  g->bytes = r.U64();
  const uint8_t sealed = r.U8();
  g->file = r.LengthPrefixed();
  g->sealed = sealed == 1;
  return r.ok() && r.done() && sealed <= 1;
}

absl::Status PutSegment(MDB_txn* txn, MDB_dbi db, uint32_t stream_no, const SegmentInfo& g, std::string* buf) {
  EncodeSegment(g, buf);
  StreamU64Key key(stream_no, g.base);
  MDB_val k = key.val(), v = ValOf(*buf);
  return LmdbStatus(mdb_put(txn, db, &k, &v, 0), "index segment");
}

// Calls fn(key, value) for each entry of `stream_no` in `db`, in key order,
// until fn returns false. Returns the LMDB status of the walk.
template <typename Fn>
absl::Status ForEachOfStream(MDB_txn* txn, MDB_dbi db, uint32_t stream_no, Fn fn) {
  MDB_cursor* cur;
  if (int rc = mdb_cursor_open(txn, db, &cur); rc != 0) return LmdbStatus(rc, "open cursor");
  const std::string prefix = StreamKey(stream_no);
  MDB_val k = ValOf(prefix), v;
  int rc;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    std::string_view key = ViewOf(k);
    if (key.size() < 4 || GetBigEndian32(key.data()) != stream_no) break;
    if (!fn(key, ViewOf(v))) break;
  }
  mdb_cursor_close(cur);
  return rc == 0 || rc == MDB_NOTFOUND ? absl::OkStatus() : LmdbStatus(rc, "read index");
}

}  // namespace

StreamIndex::StreamIndex(LmdbEnv* env, uint32_t stream_no, uint64_t sparse_bytes)
    : env_(env),
      stream_no_(stream_no),
      sparse_bytes_(sparse_bytes),
      seq_db_(env->db(kSeqDb)),
      time_db_(env->db(kTimeDb)),
      subjects_db_(env->db(kSubjectsDb)),
      progress_db_(env->db(kProgressDb)),
      segments_db_(env->db(kSegmentsDb)) {}

absl::Status StreamIndex::Load() {
  // Read into temporaries; the state changes only if the whole read worked.
  IndexProgress progress;
  std::vector<HotSubject> subjects;
  SegmentInfo last_segment;
  absl::Status s = env_->Read([&](MDB_txn* txn) -> absl::Status {
    std::string pk = StreamKey(stream_no_);
    MDB_val k = ValOf(pk), v;
    int rc = mdb_get(txn, progress_db_, &k, &v);
    if (rc == 0) {
      if (v.mv_size != 32) return absl::DataLossError("index: malformed progress record");
      const char* p = static_cast<const char*>(v.mv_data);
      progress = {DecodeFixed64(p), DecodeFixed64(p + 8), DecodeFixed64(p + 16), DecodeFixed64(p + 24)};
    } else if (rc != MDB_NOTFOUND) {
      return LmdbStatus(rc, "read index progress");
    }
    absl::Status w = ForEachOfStream(txn, subjects_db_, stream_no_, [&](std::string_view key, std::string_view val) {
      if (val.size() == 16) {
        subjects.push_back(HotSubject{std::string(key.substr(4)), {DecodeFixed64(val.data()), DecodeFixed64(val.data() + 8)}});
      }
      return true;
    });
    if (!w.ok()) return w;
    bool malformed = false;
    w = ForEachOfStream(txn, segments_db_, stream_no_, [&](std::string_view key, std::string_view val) {
      malformed = key.size() != 12 || !DecodeSegment(GetBigEndian64(key.data() + 4), val, &last_segment);
      return !malformed;
    });
    if (!w.ok()) return w;
    return malformed ? absl::DataLossError("index: malformed segment record") : absl::OkStatus();
  });
  if (!s.ok()) return s;
  committed_ = pending_ = progress;
  committed_segment_ = segment_ = std::move(last_segment);
  touched_segments_.clear();
  slots_ = std::move(subjects);
  slot_of_.clear();
  recent_slot_.fill(0);
  for (uint32_t i = 0; i < slots_.size(); ++i) slot_of_.emplace(slots_[i].subject, i);
  dirty_.clear();
  entries_.clear();
  DropStaged();
  return absl::OkStatus();
}

uint32_t StreamIndex::SlotOf(std::string_view subject) {
  const size_t h = SubjectHash{}(subject);
  uint32_t& first = recent_slot_[h >> 57];                                 // top 7 bits
  uint32_t& second = recent_slot_[kRecentHalf + ((h >> 50) & (kRecentHalf - 1))];  // the next 7
  if (first != 0 && SubjectEq{}(slots_[first - 1].subject, subject)) return first - 1;
  if (second != 0 && SubjectEq{}(slots_[second - 1].subject, subject)) return second - 1;
  uint32_t slot;
  if (auto it = slot_of_.find(subject); it != slot_of_.end()) {
    slot = it->second;
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.push_back(HotSubject{std::string(subject), {}});
    slot_of_.emplace(slots_.back().subject, slot);
  }
  // A free place first; when both are taken, the first (the second keeps
  // what settled there): two subjects that share their first place settle
  // in it and in the second of one of them, and a place held by a subject
  // gone quiet is taken over.
  (first == 0 ? first : second == 0 ? second : first) = slot + 1;
  return slot;
}

inline void StreamIndex::CountFrame(uint32_t slot, uint64_t seq) {
  HotSubject& hot = slots_[slot];
  if (!hot.dirty) {
    hot.dirty = true;
    dirty_.push_back(slot);
  }
  hot.state.last_seq = seq;
  ++hot.state.count;
}

void StreamIndex::Add(const engine::Record& rec) {
  Apply(rec.sequence, rec.timestamp_ns, rec.segment_base, rec.offset, rec.frame_bytes, SlotOf(rec.subject));
}

void StreamIndex::Apply(uint64_t seq, int64_t ts, uint64_t segment_base, uint64_t offset, uint64_t frame_bytes,
                        uint32_t slot) {
  const bool new_segment = segment_base != pending_.segment_base || pending_.indexed_seq == 0 ||
                           offset == engine::kSegmentDataOffset;
  if (new_segment || pending_.bytes_since_entry >= sparse_bytes_) {
    entries_.push_back({seq, segment_base, offset, ts});
    pending_.bytes_since_entry = 0;
  }
  if (segment_.base != segment_base || segment_.first_seq == 0) {
    if (segment_.first_seq != 0) {
      segment_.sealed = true;
      touched_segments_.push_back(segment_);
    }
    segment_ = SegmentInfo{segment_base, seq, 0, ts, 0, 0, false, engine::SegmentFileName(segment_base)};
  }
  segment_.last_seq = seq;
  segment_.last_ts = ts;
  segment_.bytes = offset + frame_bytes;
  pending_.bytes_since_entry += frame_bytes;
  pending_.indexed_seq = seq;
  pending_.segment_base = segment_base;
  pending_.next_offset = offset + frame_bytes;
  CountFrame(slot, seq);
}

void StreamIndex::Stage(const engine::Record& rec) {
  if (staged_.empty() || rec.sequence != tail_seq_ || rec.segment_base != tail_segment_ || rec.offset != tail_offset_) {
    runs_.push_back({staged_.size(), rec.sequence, rec.segment_base, rec.offset});
    if (staged_.empty()) head_ = StagedCursor{0, 0, rec.sequence, rec.offset};
  }
  staged_.push_back({rec.timestamp_ns, static_cast<uint32_t>(rec.frame_bytes), SlotOf(rec.subject)});
  tail_seq_ = rec.sequence + 1;
  tail_segment_ = rec.segment_base;
  tail_offset_ = rec.offset + rec.frame_bytes;
}

void StreamIndex::AddStaged(uint64_t seq) {
  StagedCursor& h = head_;
  while (h.frame < staged_.size() && h.seq <= seq) {
    // The head's run, up to `seq`: its first frame through Apply (it may
    // open a segment), the rest in one segment, each where the last ended,
    // so only the sparse entries and the subjects change per frame.
    const StagedRun& run = runs_[h.run];
    const size_t run_end = h.run + 1 < runs_.size() ? runs_[h.run + 1].first_frame : staged_.size();
    const size_t end = static_cast<size_t>(std::min<uint64_t>(run_end, h.frame + (seq - h.seq) + 1));
    const StagedFrame& first = staged_[h.frame];
    Apply(h.seq, first.ts, run.segment_base, h.offset, first.frame_bytes, first.slot);
    uint64_t s = h.seq + 1, offset = h.offset + first.frame_bytes, since = pending_.bytes_since_entry;
    for (size_t i = h.frame + 1; i < end; ++i, ++s) {
      const StagedFrame& f = staged_[i];
      if (since >= sparse_bytes_) {
        entries_.push_back({s, run.segment_base, offset, f.ts});
        since = 0;
      }
      since += f.frame_bytes;
      offset += f.frame_bytes;
      CountFrame(f.slot, s);
    }
    if (end > h.frame + 1) {
      const StagedFrame& last = staged_[end - 1];
      segment_.last_seq = s - 1;
      segment_.last_ts = last.ts;
      segment_.bytes = offset;
      pending_ = IndexProgress{s - 1, run.segment_base, offset, since};
    }
    h.frame = end;
    if (end == run_end && h.run + 1 < runs_.size()) {
      const StagedRun& next = runs_[++h.run];
      h.seq = next.seq;
      h.offset = next.offset;
    } else {
      h.seq = s;
      h.offset = offset;
    }
  }
  if (h.frame == staged_.size()) {
    DropStaged();
  } else if (h.frame * 2 >= staged_.size()) {
    // Frames keep arriving behind the ones added (a log that never catches
    // up under steady load): drop the added prefix once it is half of what
    // is held, so what is held stays under twice what waits.
    runs_[h.run].first_frame = h.frame;  // the head's run now starts at the head
    runs_[h.run].seq = h.seq;
    runs_[h.run].offset = h.offset;
    runs_.erase(runs_.begin(), runs_.begin() + static_cast<std::ptrdiff_t>(h.run));
    for (StagedRun& r : runs_) r.first_frame -= h.frame;
    staged_.erase(staged_.begin(), staged_.begin() + static_cast<std::ptrdiff_t>(h.frame));
    h.frame = 0;
    h.run = 0;
  }
}

void StreamIndex::DropStaged() {
  staged_.clear();  // both keep their capacity: staging allocates nothing once warm
  runs_.clear();
  head_ = StagedCursor{};
}

IndexProgress StreamIndex::read_end() const {
  if (staged() == 0) return pending_;
  return IndexProgress{tail_seq_ - 1, tail_segment_, tail_offset_, 0};
}

absl::Status StreamIndex::WriteBatch(MDB_txn* txn) {
  char buf[32];
  // Entries come in key order, usually past every key of the database (the
  // newest stream's, or the only one's): MDB_APPEND then fills the last page
  // without a search. It refuses (MDB_KEYEXIST) a key not past the last one;
  // the put is then made the ordinary way, and so are the rest of the batch's.
  bool append_seq = true, append_time = true;
  for (const Entry& e : entries_) {
    StreamU64Key sk(stream_no_, e.seq);
    MDB_val k = sk.val();
    EncodeFixed64(buf, e.segment_base);
    EncodeFixed64(buf + 8, e.offset);
    MDB_val v{16, buf};
    int rc = append_seq ? mdb_put(txn, seq_db_, &k, &v, MDB_APPEND) : MDB_KEYEXIST;
    if (rc == MDB_KEYEXIST) {
      append_seq = false;
      rc = mdb_put(txn, seq_db_, &k, &v, 0);
    }
    if (rc != 0) return LmdbStatus(rc, "index sequence");
    // Equal timestamps: the first entry (the earliest sequence) stays.
    StreamU64Key tk(stream_no_, OrderedFromSigned(e.ts));
    k = tk.val();
    EncodeFixed64(buf, e.seq);
    EncodeFixed64(buf + 8, e.segment_base);
    EncodeFixed64(buf + 16, e.offset);
    v = MDB_val{24, buf};
    rc = append_time ? mdb_put(txn, time_db_, &k, &v, MDB_APPEND) : MDB_KEYEXIST;
    if (rc == MDB_KEYEXIST) {
      append_time = false;
      rc = mdb_put(txn, time_db_, &k, &v, MDB_NOOVERWRITE);
    }
    if (rc != 0 && rc != MDB_KEYEXIST) return LmdbStatus(rc, "index time");
  }
  for (uint32_t slot : dirty_) {
    const SubjectState& st = slots_[slot].state;
    std::string key = StreamBytesKey(stream_no_, slots_[slot].subject);
    MDB_val k = ValOf(key);
    EncodeFixed64(buf, st.last_seq);
    EncodeFixed64(buf + 8, st.count);
    MDB_val v{16, buf};
    if (int rc = mdb_put(txn, subjects_db_, &k, &v, 0); rc != 0) return LmdbStatus(rc, "index subject");
  }
  if (segment_.first_seq != 0 && has_pending()) {
    for (const SegmentInfo& g : touched_segments_) {
      if (absl::Status w = PutSegment(txn, segments_db_, stream_no_, g, &segment_buf_); !w.ok()) return w;
    }
    if (absl::Status w = PutSegment(txn, segments_db_, stream_no_, segment_, &segment_buf_); !w.ok()) return w;
  }
  std::string pk = StreamKey(stream_no_);
  MDB_val k = ValOf(pk);
  EncodeFixed64(buf, pending_.indexed_seq);
  EncodeFixed64(buf + 8, pending_.segment_base);
  EncodeFixed64(buf + 16, pending_.next_offset);
  EncodeFixed64(buf + 24, pending_.bytes_since_entry);
  MDB_val v{32, buf};
  return LmdbStatus(mdb_put(txn, progress_db_, &k, &v, 0), "index progress");
}

void StreamIndex::Committed() {
  committed_ = pending_;
  committed_segment_ = segment_;
  touched_segments_.clear();
  entries_.clear();
  for (uint32_t slot : dirty_) slots_[slot].dirty = false;
  dirty_.clear();
}

void StreamIndex::Abandon() {
  if (Load().ok()) return;
  // Cannot read back what is committed: forget the pending batch at least
  // (subject counts of the batch stay raised in memory until the next open).
  pending_ = committed_;
  segment_ = committed_segment_;
  touched_segments_.clear();
  entries_.clear();
  for (uint32_t slot : dirty_) slots_[slot].dirty = false;
  dirty_.clear();
  DropStaged();
}

absl::StatusOr<IndexPosition> StreamIndex::SeekSequence(uint64_t seq) const {
  IndexPosition pos;
  bool found = false;
  absl::Status s = env_->Read([&](MDB_txn* txn) -> absl::Status {
    MDB_cursor* cur;
    if (int rc = mdb_cursor_open(txn, seq_db_, &cur); rc != 0) return LmdbStatus(rc, "open cursor");
    MDB_val k, v;
    found = SeekAtOrBefore(cur, stream_no_, StreamU64Key(stream_no_, seq), false, &k, &v);
    if (found && v.mv_size == 16) {
      uint32_t stream;
      StreamU64Key::Parse(k, &stream, &pos.seq);
      const char* p = static_cast<const char*>(v.mv_data);
      pos.segment_base = DecodeFixed64(p);
      pos.offset = DecodeFixed64(p + 8);
    }
    mdb_cursor_close(cur);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (!found) return absl::NotFoundError(absl::StrCat("no index entry at or before ", seq));
  return pos;
}

absl::StatusOr<IndexPosition> StreamIndex::SeekTime(int64_t ts_ns) const {
  IndexPosition pos;
  bool found = false;
  absl::Status s = env_->Read([&](MDB_txn* txn) -> absl::Status {
    MDB_cursor* cur;
    if (int rc = mdb_cursor_open(txn, time_db_, &cur); rc != 0) return LmdbStatus(rc, "open cursor");
    MDB_val k, v;
    found = SeekAtOrBefore(cur, stream_no_, StreamU64Key(stream_no_, OrderedFromSigned(ts_ns)), true, &k, &v);
    if (found && v.mv_size == 24) {
      const char* p = static_cast<const char*>(v.mv_data);
      pos = {DecodeFixed64(p), DecodeFixed64(p + 8), DecodeFixed64(p + 16)};
    }
    mdb_cursor_close(cur);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (!found) return absl::NotFoundError("no index entry before that time");
  return pos;
}

absl::StatusOr<SubjectState> StreamIndex::Subject(std::string_view subject) const {
  auto it = slot_of_.find(subject);
  if (it == slot_of_.end() || slots_[it->second].state.count == 0) {
    return absl::NotFoundError(absl::StrCat("no message on subject ", std::string(subject)));
  }
  return slots_[it->second].state;
}

absl::Status StreamIndex::PruneBelow(MDB_txn* txn, uint64_t first_seq) {
  // Sequence entries: keyed by sequence, so a prefix of the stream's range.
  // Time entries: keyed by time, and times rise with sequences, so also a
  // prefix; each value names its sequence.
  for (MDB_dbi db : {seq_db_, time_db_}) {
    MDB_cursor* cur;
    if (int rc = mdb_cursor_open(txn, db, &cur); rc != 0) return LmdbStatus(rc, "open cursor");
    int rc;
    MDB_val k, v;
    while (true) {
      StreamU64Key start(stream_no_, 0);
      k = start.val();
      if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) != 0) break;
      uint32_t stream;
      uint64_t x;
      if (!StreamU64Key::Parse(k, &stream, &x) || stream != stream_no_) break;
      const uint64_t seq = db == seq_db_ ? x : (v.mv_size >= 8 ? DecodeFixed64(static_cast<const char*>(v.mv_data)) : 0);
      if (seq >= first_seq) break;
      if ((rc = mdb_cursor_del(cur, 0)) != 0) break;
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) return LmdbStatus(rc, "prune index entries");
  }
  // Segment records: in base order, and last sequences rise with bases.
  std::vector<uint64_t> gone;
  absl::Status s = ForEachOfStream(txn, segments_db_, stream_no_, [&](std::string_view key, std::string_view val) {
    SegmentInfo g;
    if (key.size() != 12 || !DecodeSegment(GetBigEndian64(key.data() + 4), val, &g) || g.last_seq >= first_seq) {
      return false;
    }
    gone.push_back(g.base);
    return true;
  });
  if (!s.ok()) return s;
  for (uint64_t base : gone) {
    StreamU64Key key(stream_no_, base);
    MDB_val k = key.val();
    if (int rc = mdb_del(txn, segments_db_, &k, nullptr); rc != 0) return LmdbStatus(rc, "prune segment records");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SegmentInfo>> StreamIndex::Segments() const {
  std::vector<SegmentInfo> out;
  bool malformed = false;
  absl::Status s = env_->Read([&](MDB_txn* txn) {
    return ForEachOfStream(txn, segments_db_, stream_no_, [&](std::string_view key, std::string_view val) {
      SegmentInfo g;
      malformed = key.size() != 12 || !DecodeSegment(GetBigEndian64(key.data() + 4), val, &g);
      if (!malformed) out.push_back(std::move(g));
      return !malformed;
    });
  });
  if (!s.ok()) return s;
  if (malformed) return absl::DataLossError("index: malformed segment record");
  return out;
}

absl::Status StreamIndex::DropAll(MDB_txn* txn) {
  for (MDB_dbi db : {seq_db_, time_db_, subjects_db_, progress_db_, segments_db_}) {
    MDB_cursor* cur;
    if (int rc = mdb_cursor_open(txn, db, &cur); rc != 0) return LmdbStatus(rc, "open cursor");
    const std::string prefix = StreamKey(stream_no_);
    MDB_val k, v;
    int rc;
    // Re-seek after every delete: where a deleting cursor points is not
    // something to rely on.
    while ((rc = mdb_cursor_get(cur, &(k = ValOf(prefix)), &v, MDB_SET_RANGE)) == 0) {
      std::string_view key = ViewOf(k);
      if (key.size() < 4 || GetBigEndian32(key.data()) != stream_no_) break;
      if (int d = mdb_cursor_del(cur, 0); d != 0) {
        mdb_cursor_close(cur);
        return LmdbStatus(d, "drop index entries");
      }
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) return LmdbStatus(rc, "drop index entries");
  }
  slots_.clear();
  slot_of_.clear();
  recent_slot_.fill(0);
  dirty_.clear();
  entries_.clear();
  DropStaged();
  committed_ = pending_ = IndexProgress{};
  committed_segment_ = segment_ = SegmentInfo{};
  touched_segments_.clear();
  return absl::OkStatus();
}

}  // namespace shortbus::index
