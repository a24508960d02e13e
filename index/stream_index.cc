#include "index/stream_index.h"

#include "absl/strings/str_cat.h"
#include "engine/coding.h"
#include "engine/segment_header.h"
#include "index/keys.h"

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
  uint32_t s;
  uint64_t x;
  return StreamU64Key::Parse(*k, &s, &x) && s == stream_no;
}

}  // namespace

StreamIndex::StreamIndex(LmdbEnv* env, uint32_t stream_no, uint64_t sparse_bytes)
    : env_(env),
      stream_no_(stream_no),
      sparse_bytes_(sparse_bytes),
      seq_db_(env->db(kSeqDb)),
      time_db_(env->db(kTimeDb)),
      subjects_db_(env->db(kSubjectsDb)),
      progress_db_(env->db(kProgressDb)) {}

absl::Status StreamIndex::Load() {
  // Read into temporaries; the state changes only if the whole read worked.
  IndexProgress progress;
  absl::flat_hash_map<std::string, HotSubject> subjects;
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
    MDB_cursor* cur;
    if (int r = mdb_cursor_open(txn, subjects_db_, &cur); r != 0) return LmdbStatus(r, "open cursor");
    k = ValOf(pk);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      std::string_view key = ViewOf(k);
      if (key.size() < 4 || GetBigEndian32(key.data()) != stream_no_) break;
      if (v.mv_size != 16) continue;
      const char* p = static_cast<const char*>(v.mv_data);
      subjects[std::string(key.substr(4))].state = {DecodeFixed64(p), DecodeFixed64(p + 8)};
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? absl::OkStatus() : LmdbStatus(rc, "read subjects");
  });
  if (!s.ok()) return s;
  committed_ = pending_ = progress;
  subjects_ = std::move(subjects);
  dirty_.clear();
  entries_.clear();
  return absl::OkStatus();
}

void StreamIndex::Add(const engine::Record& rec) {
  const bool new_segment = rec.segment_base != pending_.segment_base || pending_.indexed_seq == 0 ||
                           rec.offset == engine::kSegmentDataOffset;
  if (new_segment || pending_.bytes_since_entry >= sparse_bytes_) {
    entries_.push_back({rec.sequence, rec.segment_base, rec.offset, rec.timestamp_ns});
    pending_.bytes_since_entry = 0;
  }
  pending_.bytes_since_entry += rec.frame_bytes;
  pending_.indexed_seq = rec.sequence;
  pending_.segment_base = rec.segment_base;
  pending_.next_offset = rec.offset + rec.frame_bytes;
  auto it = subjects_.find(absl::string_view(rec.subject.data(), rec.subject.size()));
  if (it == subjects_.end()) {
    it = subjects_.emplace(std::string(rec.subject), HotSubject{}).first;
  }
  if (!it->second.dirty) {
    it->second.dirty = true;
    dirty_.push_back(it->first);
  }
  it->second.state.last_seq = rec.sequence;
  ++it->second.state.count;
}

absl::Status StreamIndex::WriteBatch(MDB_txn* txn) {
  char buf[32];
  for (const Entry& e : entries_) {
    StreamU64Key sk(stream_no_, e.seq);
    MDB_val k = sk.val();
    EncodeFixed64(buf, e.segment_base);
    EncodeFixed64(buf + 8, e.offset);
    MDB_val v{16, buf};
    if (int rc = mdb_put(txn, seq_db_, &k, &v, 0); rc != 0) return LmdbStatus(rc, "index sequence");
    // Equal timestamps: the first entry (the earliest sequence) stays.
    StreamU64Key tk(stream_no_, OrderedFromSigned(e.ts));
    k = tk.val();
    EncodeFixed64(buf, e.seq);
    EncodeFixed64(buf + 8, e.segment_base);
    EncodeFixed64(buf + 16, e.offset);
    v = MDB_val{24, buf};
    int rc = mdb_put(txn, time_db_, &k, &v, MDB_NOOVERWRITE);
    if (rc != 0 && rc != MDB_KEYEXIST) return LmdbStatus(rc, "index time");
  }
  for (const std::string& subject : dirty_) {
    const SubjectState& st = subjects_.find(subject)->second.state;
    std::string key = StreamBytesKey(stream_no_, subject);
    MDB_val k = ValOf(key);
    EncodeFixed64(buf, st.last_seq);
    EncodeFixed64(buf + 8, st.count);
    MDB_val v{16, buf};
    if (int rc = mdb_put(txn, subjects_db_, &k, &v, 0); rc != 0) return LmdbStatus(rc, "index subject");
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
  entries_.clear();
  for (const std::string& subject : dirty_) subjects_.find(subject)->second.dirty = false;
  dirty_.clear();
}

void StreamIndex::Abandon() {
  if (Load().ok()) return;
  // Cannot read back what is committed: forget the pending batch at least
  // (subject counts of the batch stay raised in memory until the next open).
  pending_ = committed_;
  entries_.clear();
  for (const std::string& subject : dirty_) subjects_.find(subject)->second.dirty = false;
  dirty_.clear();
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
  auto it = subjects_.find(absl::string_view(subject.data(), subject.size()));
  if (it == subjects_.end() || it->second.state.count == 0) {
    return absl::NotFoundError(absl::StrCat("no message on subject ", std::string(subject)));
  }
  return it->second.state;
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
  return absl::OkStatus();
}

absl::Status StreamIndex::DropAll(MDB_txn* txn) {
  for (MDB_dbi db : {seq_db_, time_db_, subjects_db_, progress_db_}) {
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
  subjects_.clear();
  dirty_.clear();
  entries_.clear();
  committed_ = pending_ = IndexProgress{};
  return absl::OkStatus();
}

}  // namespace shortbus::index
