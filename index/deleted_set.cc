#include "index/deleted_set.h"

#include "absl/strings/str_cat.h"
#include "engine/coding.h"
#include "index/keys.h"

namespace shortbus::index {
namespace {

bool RangesContain(const std::map<uint64_t, uint64_t>& ranges, uint64_t seq) {
  auto it = ranges.upper_bound(seq);
  if (it == ranges.begin()) return false;
  --it;
  return seq <= it->second;
}

uint64_t CountOf(const std::map<uint64_t, uint64_t>& ranges) {
  uint64_t n = 0;
  for (const auto& [first, last] : ranges) n += last - first + 1;
  return n;
}

absl::Status PutRange(MDB_txn* txn, MDB_dbi db, uint32_t stream, uint64_t first, uint64_t last) {
  StreamU64Key key(stream, first);
  char v[8];
  engine::EncodeFixed64(v, last);
  MDB_val k = key.val(), val{8, v};
  return LmdbStatus(mdb_put(txn, db, &k, &val, 0), "write deleted range");
}

absl::Status DelRange(MDB_txn* txn, MDB_dbi db, uint32_t stream, uint64_t first) {
  StreamU64Key key(stream, first);
  MDB_val k = key.val();
  int rc = mdb_del(txn, db, &k, nullptr);
  return rc == MDB_NOTFOUND ? absl::OkStatus() : LmdbStatus(rc, "remove deleted range");
}

}  // namespace

DeletedSet::DeletedSet(LmdbEnv* env, uint32_t stream_no)
    : env_(env), stream_no_(stream_no), db_(env->db(kDeletedDb)) {}

absl::Status DeletedSet::Load() {
  ranges_.clear();
  absl::Status s = env_->Read([&](MDB_txn* txn) -> absl::Status {
    MDB_cursor* cur;
    if (int rc = mdb_cursor_open(txn, db_, &cur); rc != 0) return LmdbStatus(rc, "open cursor");
    StreamU64Key start(stream_no_, 0);
    MDB_val k = start.val(), v;
    int rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      uint32_t stream;
      uint64_t first;
      if (!StreamU64Key::Parse(k, &stream, &first) || stream != stream_no_) break;
      if (v.mv_size != 8) {
        mdb_cursor_close(cur);
        return absl::DataLossError(absl::StrCat("deleted range of stream number ", stream_no_, " is malformed"));
      }
      ranges_[first] = engine::DecodeFixed64(static_cast<const char*>(v.mv_data));
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? absl::OkStatus() : LmdbStatus(rc, "read deleted ranges");
  });
  count_ = CountOf(ranges_);
  return s;
}

bool DeletedSet::Contains(uint64_t seq) const { return RangesContain(ranges_, seq); }

uint64_t DeletedSet::CountIn(uint64_t lo, uint64_t hi) const {
  if (lo > hi || ranges_.empty()) return 0;
  uint64_t n = 0;
  auto it = ranges_.upper_bound(lo);
  if (it != ranges_.begin()) --it;
  for (; it != ranges_.end() && it->first <= hi; ++it) {
    const uint64_t a = std::max(lo, it->first), b = std::min(hi, it->second);
    if (a <= b) n += b - a + 1;
  }
  return n;
}

absl::Status DeletedSet::Add(MDB_txn* txn, uint64_t seq, uint64_t first_seq) {
  if (!has_staged_) {
    staged_ = ranges_;
    has_staged_ = true;
  }
  if (RangesContain(staged_, seq)) {
    return absl::AlreadyExistsError(absl::StrCat("sequence ", seq, " is already deleted"));
  }
  uint64_t first = seq, last = seq;
  auto next = staged_.find(seq + 1);
  if (next != staged_.end()) {
    last = next->second;
    if (absl::Status s = DelRange(txn, db_, stream_no_, next->first); !s.ok()) return s;
    staged_.erase(next);
  }
  auto prev = staged_.lower_bound(seq);
  if (prev != staged_.begin()) {
    --prev;
    if (prev->second + 1 == seq) {
      first = prev->first;
      staged_.erase(prev);  // rewritten below under the same key
    }
  }
  staged_[first] = last;
  if (absl::Status s = PutRange(txn, db_, stream_no_, first, last); !s.ok()) return s;
  while (!staged_.empty() && staged_.begin()->second < first_seq) {
    if (absl::Status s = DelRange(txn, db_, stream_no_, staged_.begin()->first); !s.ok()) return s;
    staged_.erase(staged_.begin());
  }
  return absl::OkStatus();
}

absl::Status DeletedSet::DropAll(MDB_txn* txn) {
  for (const auto& [first, last] : ranges_) {
    if (absl::Status s = DelRange(txn, db_, stream_no_, first); !s.ok()) return s;
  }
  staged_.clear();
  has_staged_ = true;
  return absl::OkStatus();
}

void DeletedSet::Discard() {
  staged_.clear();
  has_staged_ = false;
}

void DeletedSet::Commit() {
  if (!has_staged_) return;
  ranges_.swap(staged_);
  staged_.clear();
  has_staged_ = false;
  count_ = CountOf(ranges_);
}

}  // namespace shortbus::index
