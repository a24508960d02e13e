#include "index/reindex.h"

#include <fcntl.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "engine/clock.h"
#include "engine/coding.h"
#include "engine/file_system.h"
#include "index/keys.h"

namespace shortbus::index {
namespace {
namespace fs = std::filesystem;
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
        LmdbEnv::Open(index.string(), options.env, {kStreamsDb, kSeqDb, kTimeDb, kSubjectsDb, kProgressDb});
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
    absl::Status s = (*env)->Write([&](MDB_txn* txn) -> absl::Status {
      for (const CatalogEntry& entry : entries) {
        if (absl::Status p = CatalogPut(env->get(), txn, entry); !p.ok()) return p;
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
