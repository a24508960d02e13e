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
  // Consumers and deleted-sequence ranges carried over from the old index
  // (they are not in the logs). When the old index can not be read, they
  // are lost and `lost_index_only_state` says why.
  uint64_t consumers_restored = 0;
  uint64_t deleted_ranges_restored = 0;
  std::string lost_index_only_state;
};

// With no Store open on `data_dir`: moves <data>/index aside (kept, never
// deleted), rebuilds the catalogue from each stream's CONFIG and indexes
// every log from its start. Consumers and deletions live only in the index:
// they are copied from the old index when it still opens (read-only), for
// the streams restored; otherwise their loss is reported, never silent.
absl::StatusOr<ReindexReport> Reindex(const std::string& data_dir, const StoreOptions& options);

}  // namespace shortbus::index

#endif  // SHORTBUS_INDEX_REINDEX_H_
