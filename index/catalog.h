// The stream catalogue: database "streams", name -> configuration, and the
// numbering of streams (meta "next_stream_no"). docs/format.md has the
// encoding.
#ifndef SHORTBUS_INDEX_CATALOG_H_
#define SHORTBUS_INDEX_CATALOG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/options.h"
#include "index/lmdb_env.h"

namespace shortbus::index {

inline constexpr char kStreamsDb[] = "streams";

struct StreamConfig {
  std::string name;                   // [A-Za-z0-9_-]{1,64}
  std::vector<std::string> subjects;  // subject filters the stream captures
  uint64_t segment_size = engine::kDefaultSegmentSize;
  engine::SyncMode sync = engine::SyncMode::kInterval;
  absl::Duration sync_interval = absl::Seconds(1);
  engine::RetentionLimits retention;
  engine::Compression compression = engine::Compression::kNone;
  absl::Duration duplicate_window = absl::Minutes(2);
  // Opaque to the index: what the server keeps about the stream beyond the
  // fields above (its JetStream configuration, as JSON). Stored and
  // returned as is.
  std::string metadata;

  bool operator==(const StreamConfig& o) const;
};

struct CatalogEntry {
  uint32_t stream_no = 0;  // the key prefix of this stream in every index database
  int64_t created_ns = 0;
  StreamConfig config;
};

// Stream names become directory names: letters, digits, '-' and '_', 1 to
// 64 of them. InvalidArgument otherwise.
absl::Status ValidateStreamName(const std::string& name);

std::string EncodeCatalogEntry(const CatalogEntry& e);
absl::StatusOr<CatalogEntry> DecodeCatalogEntry(std::string_view name, std::string_view bytes);

// In `txn` (a write transaction of an environment that has kStreamsDb):
// adds a stream with the next stream number. AlreadyExists if the name is taken.
absl::StatusOr<CatalogEntry> CatalogAdd(LmdbEnv* env, MDB_txn* txn, const StreamConfig& config, int64_t now_ns);
absl::Status CatalogPut(LmdbEnv* env, MDB_txn* txn, const CatalogEntry& e);
absl::Status CatalogRemove(LmdbEnv* env, MDB_txn* txn, const std::string& name);
absl::StatusOr<std::vector<CatalogEntry>> CatalogList(const LmdbEnv& env);

}  // namespace shortbus::index

#endif  // SHORTBUS_INDEX_CATALOG_H_
