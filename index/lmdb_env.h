// The LMDB environment of a data directory: `<data>/index/`.
//
// One environment per data directory holds every named database of the
// index (index/README.md lists them). This class owns the environment and
// the two things LMDB leaves to its caller:
//   - the map grows instead of failing: a write transaction that meets
//     MDB_MAP_FULL is aborted, the map doubled, and the transaction run
//     again from the start (so a write function must be re-runnable);
//   - the format: a version record in the "meta" database is checked at
//     open; another version is a clear FailedPrecondition, never a guess.
// Stale reader slots left by dead processes are cleared at open
// (mdb_reader_check).
//
// Errors: LMDB and errno codes become absl::Status: MDB_CORRUPTED,
// MDB_INVALID, MDB_VERSION_MISMATCH -> DataLoss ("run `shortbus reindex`");
// MDB_MAP_FULL -> Aborted (what a write function returns to have Write()
// grow the map and run it again);
// ENOSPC -> ResourceExhausted; EACCES -> PermissionDenied; EAGAIN/EBUSY
// (locked) -> Unavailable; others -> Internal. Messages name the path and
// mdb_strerror's text.
//
// Threading: Write() and Read() from any thread; LMDB runs one write
// transaction at a time (others wait) and any number of readers (MDB_NOTLS:
// a read transaction is not tied to its thread). Nothing across fork().
#ifndef SHORTBUS_INDEX_LMDB_ENV_H_
#define SHORTBUS_INDEX_LMDB_ENV_H_

#include <lmdb.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shortbus::index {

inline constexpr uint32_t kIndexFormatVersion = 2;  // 2: deleted sequences, consumers

struct EnvOptions {
  // Initial map size; it doubles whenever a write would not fit.
  uint64_t initial_map_size = uint64_t{64} << 20;
  // MDB_NOSYNC: commits reach the disk with the next Sync() (the engine's
  // sync interval); otherwise every commit is synced.
  bool no_sync = true;
  unsigned max_dbs = 16;
  // MDB_RDONLY: for offline checks beside a running server. Nothing is
  // created or written; Write() fails.
  bool read_only = false;
};

// Converts an LMDB (or errno) return code into a Status naming `what`.
absl::Status LmdbStatus(int rc, std::string_view what);

class LmdbEnv {
 public:
  // Opens (creating when missing) `<dir>`, an index directory, with the
  // databases named in `db_names` (created when missing).
  static absl::StatusOr<std::unique_ptr<LmdbEnv>> Open(const std::string& dir, const EnvOptions& options,
                                                       const std::vector<const char*>& db_names);
  ~LmdbEnv();
  LmdbEnv(const LmdbEnv&) = delete;
  LmdbEnv& operator=(const LmdbEnv&) = delete;

  // The handle of a database named at Open; 0 (the unnamed main database)
  // for an unknown name.
  MDB_dbi db(std::string_view name) const;

  // Runs `fn` in a write transaction and commits it. If `fn` or the commit
  // meets MDB_MAP_FULL, the transaction is aborted, the map grown, and `fn`
  // run again. A non-OK status from `fn` aborts the transaction.
  absl::Status Write(const std::function<absl::Status(MDB_txn*)>& fn);
  // Runs `fn` in a read-only transaction (a consistent snapshot).
  absl::Status Read(const std::function<absl::Status(MDB_txn*)>& fn) const;
  // Flushes commits made under no_sync to disk.
  absl::Status Sync();

  uint64_t map_size() const { return map_size_; }
  const std::string& dir() const { return dir_; }
  // Reader slots that mdb_reader_check cleared at open.
  int stale_readers_cleared() const { return stale_readers_cleared_; }

 private:
  LmdbEnv(std::string dir, MDB_env* env, uint64_t map_size);
  absl::Status Grow();
  absl::Status AdoptMapSize();

  const std::string dir_;
  MDB_env* env_;
  uint64_t map_size_;
  int stale_readers_cleared_ = 0;
  // mdb_env_set_mapsize needs no transaction active in the process: every
  // transaction holds this shared, growing the map holds it exclusive.
  mutable std::shared_mutex resize_mu_;
  std::string db_names_[16];
  MDB_dbi dbis_[16] = {};
  unsigned ndbs_ = 0;
};

}  // namespace shortbus::index

#endif  // SHORTBUS_INDEX_LMDB_ENV_H_
