// Every named database of the index environment, in one list for whoever
// opens it (Store, reindex, verify). docs/format.md describes each.
#ifndef SHORTBUS_INDEX_DATABASES_H_
#define SHORTBUS_INDEX_DATABASES_H_

#include <vector>

#include "index/catalog.h"
#include "index/consumer.h"
#include "index/deleted_set.h"
#include "index/stream_index.h"

namespace shortbus::index {

inline const std::vector<const char*>& IndexDatabases() {
  static const std::vector<const char*> names = {kStreamsDb,  kSeqDb,     kTimeDb,      kSubjectsDb,
                                                 kProgressDb, kSegmentsDb, kDeletedDb, kConsumersDb, kConsumerStateDb};
  return names;
}

}  // namespace shortbus::index

#endif  // SHORTBUS_INDEX_DATABASES_H_
