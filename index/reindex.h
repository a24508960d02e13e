// `shortbus reindex`: rebuilds a data directory's index from its logs.
#ifndef SHORTBUS_INDEX_REINDEX_H_
#define SHORTBUS_INDEX_REINDEX_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "index/store.h"

namespace shortbus::index {

// The per-stream copy of its catalogue entry, beside its log, written when
// the stream is created: what lets a lost index be rebuilt with every
// stream's configuration.
inline constexpr char kStreamConfigFile[] = "CONFIG";

absl::Status WriteStreamConfigFile(const std::string& stream_dir, const CatalogEntry& entry);
absl::StatusOr<CatalogEntry> ReadStreamConfigFile(const std::string& stream_dir, const std::string& name);

struct ReindexReport {
  std::vector<std::string> streams;   // restored and indexed
  std::vector<std::string> problems;  // streams that could not be restored, and why
  std::string old_index;              // where the previous index was moved ("" if none)
  uint64_t messages_indexed = 0;
};

// With no Store open on `data_dir`: moves <data>/index aside (kept, never
// deleted), rebuilds the catalogue from each stream's CONFIG and indexes
// every log from its start. Consumer state lives only in the index: it is
// not in the logs, so what the old index held is reported lost.
absl::StatusOr<ReindexReport> Reindex(const std::string& data_dir, const StoreOptions& options);

}  // namespace shortbus::index

#endif  // SHORTBUS_INDEX_REINDEX_H_
