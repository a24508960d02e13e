// The environment syncer: one thread per Store ("sb-env-sync") that makes
// streams' index commits durable (LmdbEnv::Sync) off their indexer threads.
// An indexer commits (MDB_NOSYNC), asks for a sync and goes on reading
// ahead while the disk works; one sync serves every stream that asked since
// the last one began. Under sync=always the log's own fdatasync runs at the
// same time on the same disk, and an environment sync could block an
// indexer for tens of milliseconds (docs/architecture.md, "Commit
// ordering").
#ifndef SHORTBUS_INDEX_ENV_SYNCER_H_
#define SHORTBUS_INDEX_ENV_SYNCER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"

namespace shortbus::index {

// What the syncer needs of a stream. Both calls come from the syncer thread
// with none of its locks held.
class EnvSyncClient {
 public:
  virtual ~EnvSyncClient() = default;
  // Before the sync: what the sync is about to make durable (the stream's
  // last committed sequence).
  virtual uint64_t SyncSnapshot() = 0;
  // After it: `snapshot` is durable (status ok), or the sync failed and is
  // retried (the request stays).
  virtual void SyncDone(uint64_t snapshot, const absl::Status& status) = 0;
};

class EnvSyncer {
 public:
  // `sync` syncs the environment (LmdbEnv::Sync); `retry` is how long a
  // failed sync waits before the next attempt.
  explicit EnvSyncer(std::function<absl::Status()> sync,
                     std::chrono::milliseconds retry = std::chrono::milliseconds(100));
  ~EnvSyncer();  // stops the thread; requests not yet served are dropped
  EnvSyncer(const EnvSyncer&) = delete;
  EnvSyncer& operator=(const EnvSyncer&) = delete;

  // Asks for a sync that begins after this call, then SyncDone on `client`.
  void Request(EnvSyncClient* client);
  // Drops `client`'s request and waits until no call to it runs: after
  // this the syncer never touches it (call before destroying it).
  void Forget(EnvSyncClient* client);

 private:
  void Loop();

  const std::function<absl::Status()> sync_;
  const std::chrono::milliseconds retry_;
  std::mutex mu_;
  std::condition_variable cv_;       // requests, stop
  std::condition_variable idle_cv_;  // in_flight_ emptied
  std::vector<EnvSyncClient*> pending_;    // under mu_
  std::vector<EnvSyncClient*> in_flight_;  // under mu_: being synced now
  bool stop_ = false;                      // under mu_
  std::thread thread_;
};

}  // namespace shortbus::index

#endif  // SHORTBUS_INDEX_ENV_SYNCER_H_
