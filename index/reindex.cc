#include "index/reindex.h"

#include <fcntl.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "engine/clock.h"
#include "engine/coding.h"
#include "engine/file_system.h"
#include "index/databases.h"
#include "index/keys.h"

namespace shortbus::index {
namespace {
namespace fs = std::filesystem;

// One key/value of an index-only database.
struct SavedEntry {
  const char* db;
  std::string key, value;
};

// Reads the consumers, consumer states and deleted ranges of `stream_nos`
// from the index at `dir`, opened read-only. Fails when it does not open or
// read (corrupt, another format), or when its catalogue holds none of the
// streams (an index created empty, e.g. by a Store that then refused to open).
absl::StatusOr<std::vector<SavedEntry>> ReadIndexOnlyState(const std::string& dir,
                                                          const std::vector<uint32_t>& stream_nos) {
  if (stream_nos.empty()) return std::vector<SavedEntry>();
  EnvOptions eo;
  eo.read_only = true;
  absl::StatusOr<std::unique_ptr<LmdbEnv>> env = LmdbEnv::Open(dir, eo, IndexDatabases());
  if (!env.ok()) return env.status();
  std::vector<SavedEntry> out;
  absl::Status s = (*env)->Read([&](MDB_txn* txn) -> absl::Status {
    for (const char* db : {kConsumersDb, kConsumerStateDb, kDeletedDb}) {
      MDB_cursor* cur;
      if (int rc = mdb_cursor_open(txn, (*env)->db(db), &cur); rc != 0) return LmdbStatus(rc, "open cursor");
      MDB_val k, v;
      int rc;
      for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < 4) continue;
        const uint32_t no = GetBigEndian32(static_cast<const char*>(k.mv_data));
        if (std::find(stream_nos.begin(), stream_nos.end(), no) == stream_nos.end()) continue;
        out.push_back({db, std::string(ViewOf(k)), std::string(ViewOf(v))});
      }
      mdb_cursor_close(cur);
      if (rc != MDB_NOTFOUND) return LmdbStatus(rc, absl::StrCat("read ", db));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  absl::StatusOr<std::vector<CatalogEntry>> known = CatalogList(**env);
  if (!known.ok()) return known.status();
  const bool knows_any = std::any_of(known->begin(), known->end(), [&](const CatalogEntry& e) {
    return std::find(stream_nos.begin(), stream_nos.end(), e.stream_no) != stream_nos.end();
  });
  if (!knows_any) return absl::NotFoundError("it knows none of the streams on disk");
  return out;
}

}  // namespace

absl::Status WriteStreamConfigFile(const std::string& stream_dir, const CatalogEntry& entry) {
  engine::FileSystem* f = engine::DefaultFileSystem();
  const std::string path = stream_dir + "/" + kStreamConfigFile;
  const std::string tmp = path + ".tmp";
  const std::string bytes = EncodeCatalogEntry(entry);
  absl::StatusOr<int> fd = f->Open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (!fd.ok()) return fd.status();
  absl::Status s = f->WriteAt(*fd, 0, bytes.data(), bytes.size(), tmp);
  if (s.ok()) s = f->SyncData(*fd, tmp);
  f->Close(*fd);
  if (s.ok()) s = f->Rename(tmp, path);
  if (s.ok()) s = f->SyncDir(stream_dir);
  return s;
}

absl::StatusOr<CatalogEntry> ReadStreamConfigFile(const std::string& stream_dir, const std::string& name) {
  engine::FileSystem* f = engine::DefaultFileSystem();
  const std::string path = stream_dir + "/" + kStreamConfigFile;
  absl::StatusOr<int> fd = f->Open(path, O_RDONLY, 0);
  if (!fd.ok()) return fd.status();
  absl::StatusOr<uint64_t> size = f->Size(*fd, path);
  std::string bytes(size.ok() ? *size : 0, '\0');
  absl::Status s = size.ok() ? f->ReadAt(*fd, 0, bytes.data(), bytes.size(), path) : size.status();
  f->Close(*fd);
  if (!s.ok()) return s;
  return DecodeCatalogEntry(name, bytes);
}

absl::StatusOr<ReindexReport> Reindex(const std::string& data_dir, const StoreOptions& options) {
  ReindexReport report;
  std::error_code ec;
  if (!fs::is_directory(fs::path(data_dir) / "streams", ec)) {
    return absl::NotFoundError(absl::StrCat(data_dir, " is not a shortbus data directory (no streams/)"));
  }
  // Hold the data directory while the index is replaced, so that no server
  // opens it half-built. (Released just before the Store below takes it.)
  absl::StatusOr<int> lock = LockDataDirectory(data_dir);
  if (!lock.ok()) return lock.status();
  struct Unlock {
    int fd;
    ~Unlock() { UnlockDataDirectory(fd); }
  } unlock{*lock};
  const fs::path index = fs::path(data_dir) / "index";
  if (fs::exists(index, ec)) {
    const std::string aside = absl::StrCat(index.string(), ".old-", engine::WallClockNs());
    fs::rename(index, aside, ec);
    if (ec) return absl::InternalError(absl::StrCat("move ", index.string(), " aside: ", ec.message()));
    report.old_index = aside;
  }
  {
    absl::StatusOr<std::unique_ptr<LmdbEnv>> env =
        LmdbEnv::Open(index.string(), options.env, IndexDatabases());
    if (!env.ok()) return env.status();
    uint32_t max_no = 0;
    std::vector<CatalogEntry> entries;
    for (const auto& e : fs::directory_iterator(fs::path(data_dir) / "streams", ec)) {
      if (!e.is_directory()) continue;
      const std::string name = e.path().filename().string();
      absl::StatusOr<CatalogEntry> entry = ReadStreamConfigFile(e.path().string(), name);
      if (!entry.ok()) {
        report.problems.push_back(absl::StrCat(name, ": ", entry.status().message(), "; not restored"));
        continue;
      }
      max_no = std::max(max_no, entry->stream_no);
      entries.push_back(std::move(*entry));
    }
    std::vector<SavedEntry> saved;
    if (report.old_index.empty()) {
      report.lost_index_only_state =
          "there was no old index: consumers and deleted messages, which only the index holds, are lost";
    } else {
      std::vector<uint32_t> nos;
      for (const CatalogEntry& entry : entries) nos.push_back(entry.stream_no);
      absl::StatusOr<std::vector<SavedEntry>> r = ReadIndexOnlyState(report.old_index, nos);
      if (r.ok()) {
        saved = std::move(*r);
      } else {
        report.lost_index_only_state = absl::StrCat(
            "consumers and deleted messages of the old index are lost (it can not be read: ", r.status().message(),
            ")");
      }
    }
    absl::Status s = (*env)->Write([&](MDB_txn* txn) -> absl::Status {
      for (const CatalogEntry& entry : entries) {
        if (absl::Status p = CatalogPut(env->get(), txn, entry); !p.ok()) return p;
      }
      report.consumers_restored = report.deleted_ranges_restored = 0;
      for (const SavedEntry& e : saved) {
        MDB_val k = ValOf(e.key), v = ValOf(e.value);
        if (int rc = mdb_put(txn, (*env)->db(e.db), &k, &v, 0); rc != 0) return LmdbStatus(rc, "restore");
        if (e.db == kConsumersDb) ++report.consumers_restored;
        if (e.db == kDeletedDb) ++report.deleted_ranges_restored;
      }
      char b[4];
      engine::EncodeFixed32(b, max_no + 1);
      MDB_val k = ValOf("next_stream_no"), v{4, b};
      return LmdbStatus(mdb_put(txn, (*env)->db("meta"), &k, &v, 0), "write next stream number");
    });
    if (s.ok()) s = (*env)->Sync();
    if (!s.ok()) return s;
  }
  // Opening the Store indexes every log from its start.
  UnlockDataDirectory(unlock.fd);
  unlock.fd = -1;
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(data_dir, options);
  if (!store.ok()) return store.status();
  for (const std::string& name : (*store)->Names()) {
    report.streams.push_back(name);
    report.messages_indexed += (*store)->Find(name)->indexed_seq();
  }
  if (absl::Status s = (*store)->Close(); !s.ok()) return s;
  return report;
}

}  // namespace shortbus::index
