// The sequences deleted one by one from a stream (explicit delete,
// work-queue acknowledgement), kept as disjoint ranges.
//
// Database "deleted": (stream u32, first u64) -> last u64 (little-endian);
// each entry is a closed range [first, last] of deleted sequences, ranges
// disjoint and never adjacent (adjacent ones are merged). The log itself is
// never rewritten: a deleted message's frame stays in its segment until
// retention removes the segment; readers of the store skip it.
#ifndef SHORTBUS_INDEX_DELETED_SET_H_
#define SHORTBUS_INDEX_DELETED_SET_H_

#include <cstdint>
#include <map>

#include "absl/status/status.h"
#include "index/lmdb_env.h"

namespace shortbus::index {

inline constexpr char kDeletedDb[] = "deleted";

class DeletedSet {
 public:
  DeletedSet(LmdbEnv* env, uint32_t stream_no);

  absl::Status Load();

  bool Contains(uint64_t seq) const;
  // Deleted sequences in [lo, hi].
  uint64_t CountIn(uint64_t lo, uint64_t hi) const;
  uint64_t size() const { return count_; }

  // In `txn`: adds `seq` (merging with neighbouring ranges) and drops the
  // ranges wholly below `first_seq` (gone with retention). AlreadyExists if
  // it is deleted already (or added earlier in this transaction). Several
  // Adds may share one transaction; the memory copy changes only on
  // Commit().
  absl::Status Add(MDB_txn* txn, uint64_t seq, uint64_t first_seq);
  // In `txn`: removes every range of the stream.
  absl::Status DropAll(MDB_txn* txn);
  // Applies what the transaction's Add/DropAll calls wrote (after it
  // committed), or forgets it (after it was aborted).
  void Commit();
  void Discard();

 private:
  LmdbEnv* const env_;
  const uint32_t stream_no_;
  MDB_dbi db_;
  std::map<uint64_t, uint64_t> ranges_;   // first -> last
  std::map<uint64_t, uint64_t> staged_;   // what the pending transaction wrote
  uint64_t count_ = 0;
  bool has_staged_ = false;
};

}  // namespace shortbus::index

#endif  // SHORTBUS_INDEX_DELETED_SET_H_
