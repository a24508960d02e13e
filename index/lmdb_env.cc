#include "index/lmdb_env.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/coding.h"
#include "engine/file_system.h"

namespace shortbus::index {
namespace {

constexpr char kMetaDb[] = "meta";
constexpr char kFormatKey[] = "format_version";

}  // namespace

absl::Status LmdbStatus(int rc, std::string_view what) {
  if (rc == MDB_SUCCESS) return absl::OkStatus();
  if (rc > 0) return engine::ErrnoStatus(rc, std::string(what), "");  // LMDB passes errno through
  std::string msg = absl::StrCat(std::string(what), ": ", mdb_strerror(rc));
  switch (rc) {
    case MDB_CORRUPTED:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_PAGE_NOTFOUND:
      return absl::DataLossError(absl::StrCat(msg, " (the index can be rebuilt from the log: shortbus reindex)"));
    case MDB_NOTFOUND:
      return absl::NotFoundError(msg);
    case MDB_MAP_FULL:
      // Aborted: LmdbEnv::Write grows the map and runs the transaction again.
      return absl::AbortedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

absl::StatusOr<std::unique_ptr<LmdbEnv>> LmdbEnv::Open(const std::string& dir, const EnvOptions& options,
                                                       const std::vector<const char*>& db_names) {
  if (db_names.size() + 1 > 16 || options.max_dbs < db_names.size() + 1) {
    return absl::InvalidArgumentError("too many index databases");
  }
  if (!options.read_only && ::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return LmdbStatus(errno, absl::StrCat("create index directory ", dir));
  }
  MDB_env* env = nullptr;
  if (int rc = mdb_env_create(&env); rc != 0) return LmdbStatus(rc, "mdb_env_create");
  auto fail = [&](int rc, std::string_view what) {
    mdb_env_close(env);
    return LmdbStatus(rc, absl::StrCat(std::string(what), " ", dir));
  };
  if (int rc = mdb_env_set_maxdbs(env, options.max_dbs); rc != 0) return fail(rc, "set maxdbs");
  // The map size of an existing environment wins if larger (LMDB keeps it).
  if (int rc = mdb_env_set_mapsize(env, options.initial_map_size); rc != 0) return fail(rc, "set mapsize");
  unsigned flags = MDB_NOTLS | (options.no_sync ? MDB_NOSYNC : 0) | (options.read_only ? MDB_RDONLY : 0);
  if (int rc = mdb_env_open(env, dir.c_str(), flags, 0600); rc != 0) return fail(rc, "open index");
  MDB_envinfo info;
  mdb_env_info(env, &info);
  std::unique_ptr<LmdbEnv> e(new LmdbEnv(dir, env, info.me_mapsize));
  int dead = 0;
  if (int rc = mdb_reader_check(env, &dead); rc != 0) return LmdbStatus(rc, "mdb_reader_check");
  e->stale_readers_cleared_ = dead;

  // Open (create) every database and check the format, in one transaction.
  std::vector<const char*> names = {kMetaDb};
  names.insert(names.end(), db_names.begin(), db_names.end());
  auto open_all = [&](MDB_txn* txn) -> absl::Status {
    e->ndbs_ = 0;
    for (const char* name : names) {
      MDB_dbi dbi;
      if (int rc = mdb_dbi_open(txn, name, options.read_only ? 0 : MDB_CREATE, &dbi); rc != 0) {
        return LmdbStatus(rc, absl::StrCat("open database ", name, " in ", dir));
      }
      e->db_names_[e->ndbs_] = name;
      e->dbis_[e->ndbs_] = dbi;
      ++e->ndbs_;
    }
    MDB_val key{sizeof kFormatKey - 1, const_cast<char*>(kFormatKey)};
    MDB_val val;
    int rc = mdb_get(txn, e->dbis_[0], &key, &val);
    if (rc == MDB_NOTFOUND && options.read_only) {
      return absl::DataLossError(absl::StrCat("index ", dir, " has no format version record"));
    }
    if (rc == MDB_NOTFOUND) {
      char buf[4];
      engine::EncodeFixed32(buf, kIndexFormatVersion);
      MDB_val v{sizeof buf, buf};
      return LmdbStatus(mdb_put(txn, e->dbis_[0], &key, &v, 0), "write index format version");
    }
    if (rc != 0) return LmdbStatus(rc, "read index format version");
    if (val.mv_size != 4) {
      return absl::DataLossError(absl::StrCat("index ", dir, ": malformed format version record"));
    }
    const uint32_t version = engine::DecodeFixed32(static_cast<const char*>(val.mv_data));
    if (version != kIndexFormatVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "index ", dir, " has format version ", version, "; this build reads version ",
          kIndexFormatVersion, " (rebuild it with `shortbus reindex`)"));
    }
    return absl::OkStatus();
  };
  absl::Status s;
  if (options.read_only) {
    // Handles opened in a transaction outlive it only if it commits, read-only
    // transactions included.
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn); rc != 0) return LmdbStatus(rc, "begin read");
    s = open_all(txn);
    if (s.ok()) {
      s = LmdbStatus(mdb_txn_commit(txn), "open databases");
    } else {
      mdb_txn_abort(txn);
    }
  } else {
    s = e->Write(open_all);
  }
  if (!s.ok()) return s;
  return e;
}

LmdbEnv::LmdbEnv(std::string dir, MDB_env* env, uint64_t map_size)
    : dir_(std::move(dir)), env_(env), map_size_(map_size) {}

LmdbEnv::~LmdbEnv() { mdb_env_close(env_); }

MDB_dbi LmdbEnv::db(std::string_view name) const {
  for (unsigned i = 0; i < ndbs_; ++i) {
    if (db_names_[i] == name) return dbis_[i];
  }
  return 0;
}

absl::Status LmdbEnv::Grow() {
  std::unique_lock<std::shared_mutex> l(resize_mu_);  // no transaction of ours is active
  const uint64_t next = map_size_ * 2;
  if (int rc = mdb_env_set_mapsize(env_, next); rc != 0) {
    return LmdbStatus(rc, absl::StrCat("grow index map of ", dir_, " to ", next, " bytes"));
  }
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  map_size_ = info.me_mapsize;
  return absl::OkStatus();
}

absl::Status LmdbEnv::AdoptMapSize() {
  // Another process grew the map: take its size (set_mapsize(0)).
  std::unique_lock<std::shared_mutex> l(resize_mu_);
  if (int rc = mdb_env_set_mapsize(env_, 0); rc != 0) return LmdbStatus(rc, "adopt map size");
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  map_size_ = info.me_mapsize;
  return absl::OkStatus();
}

absl::Status LmdbEnv::Write(const std::function<absl::Status(MDB_txn*)>& fn) {
  for (int attempt = 0; attempt < 40; ++attempt) {
    std::shared_lock<std::shared_mutex> held(resize_mu_);
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0) {
      if (rc == MDB_MAP_RESIZED) {
        held.unlock();
        if (absl::Status a = AdoptMapSize(); !a.ok()) return a;
        continue;
      }
      return LmdbStatus(rc, absl::StrCat("begin write transaction on ", dir_));
    }
    absl::Status s = fn(txn);
    int rc = 0;
    if (s.ok()) {
      rc = mdb_txn_commit(txn);
      if (rc == 0) return absl::OkStatus();
    } else {
      mdb_txn_abort(txn);
    }
    const bool map_full = rc == MDB_MAP_FULL || absl::IsAborted(s);
    if (!map_full) return s.ok() ? LmdbStatus(rc, absl::StrCat("commit on ", dir_)) : s;
    held.unlock();
    if (absl::Status g = Grow(); !g.ok()) return g;
  }
  return absl::ResourceExhaustedError(absl::StrCat("index ", dir_, " keeps running out of map space"));
}

absl::Status LmdbEnv::Read(const std::function<absl::Status(MDB_txn*)>& fn) const {
  std::shared_lock<std::shared_mutex> held(resize_mu_);
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
  if (rc == MDB_MAP_RESIZED) {
    held.unlock();
    if (absl::Status a = const_cast<LmdbEnv*>(this)->AdoptMapSize(); !a.ok()) return a;
    held.lock();
    rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
  }
  if (rc != 0) return LmdbStatus(rc, absl::StrCat("begin read transaction on ", dir_));
  absl::Status s = fn(txn);
  mdb_txn_abort(txn);
  return s;
}

absl::Status LmdbEnv::Sync() {
  return LmdbStatus(mdb_env_sync(env_, 1), absl::StrCat("sync index ", dir_));
}

}  // namespace shortbus::index
