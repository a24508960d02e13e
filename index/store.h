// A data directory: the stream catalogue, each stream's log, and the index
// over them. What the server uses; also usable without it.
//
// Layout: <data>/LOCK (flock: one Store per data directory), <data>/index/
// (the LMDB environment), <data>/streams/<name>/ (each stream's log).
//
// Commit ordering (docs/architecture.md): the index only ever describes
// durable log data. After each sync of a stream's log (its durable
// callback, on the log's background thread) the stream's indexer thread
// adds the newly durable frames (most of them read ahead already) in one
// LMDB write transaction, which the Store's environment syncer then syncs;
// only then does the stream's own durable callback report the new
// sequence. At open, the index catches up with whatever the
// log has that it has not indexed (the work of a crash between the log sync
// and the index commit); an index that claims more than the log holds is
// rebuilt for that stream.
#ifndef SHORTBUS_INDEX_STORE_H_
#define SHORTBUS_INDEX_STORE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/log.h"
#include "engine/reader.h"
#include "index/catalog.h"
#include "index/consumer.h"
#include "index/deleted_set.h"
#include "index/env_syncer.h"
#include "index/subject_hash.h"
#include "index/lmdb_env.h"
#include "index/stream_index.h"

namespace shortbus::index {

struct StoreOptions {
  uint64_t sparse_bytes = 4096;  // index granularity (stream_index.h)
  // Least time between two index commits of one stream. Under sync=always
  // the log syncs once per group commit, thousands of times a second; an
  // index commit (and its environment sync) after each would compete with
  // the log's fdatasync for the same disk. The log durable sequences that
  // arrive within the gap coalesce into one commit, so the index lags the
  // log by at most about this much (a reopen redoes that tail from the log).
  // 50 ms rather than 10: with index_quiet_commit below, the gap only holds
  // while syncs keep coming, and there fewer environment syncs leave the
  // disk to the log (index_bench always_staged, 3 interleaved runs each at
  // about 14:22 UTC: ratio to indexed 0.876-0.896 against 0.860-0.873 at 10 ms).
  std::chrono::microseconds index_commit_gap{50000};
  // A commit comes sooner when the log's durable sequence has not moved for
  // this long: nothing more is coming to coalesce (a burst ended, the log
  // went idle, or an interval sync came), so the index need not lag the log
  // by a whole gap. Under a steady stream of syncs (sync=always under load)
  // the durable sequence moves more often than this, and the gap rules.
  // Commits that come of this rule are 10 ms apart at least (or the gap,
  // if shorter): on a disk whose syncs take longer than this, every sync
  // would otherwise look like the end of a burst.
  std::chrono::microseconds index_quiet_commit{1000};
  // engine::LogOptions::sync_on_append for every stream: false when the
  // caller calls log().RequestSync() after each burst of appends.
  bool sync_on_append = true;
  // engine::LogOptions::defer_publish for every stream: true in the daemon,
  // which publishes each turn's appends at once (JetStream::PublishStaged).
  // StoredStream publishes on its own before it reads the log itself.
  bool defer_publish = false;
  EnvOptions env;
  engine::CorruptionReporter reporter;  // log recovery and indexing problems
  std::function<int64_t()> clock;       // empty = CLOCK_REALTIME
  // The file interface of every stream's log (engine/file_system.h);
  // nullptr = the default. Tests inject faults and power cuts through it.
  // Must outlive the Store. (The index's LMDB files do not go through it.)
  engine::FileSystem* fs = nullptr;
};

// Optimistic concurrency for event sourcing (NATS' Nats-Expected-* headers).
struct AppendExpect {
  std::optional<uint64_t> last_seq;          // the stream's last sequence must be this
  std::optional<uint64_t> last_subject_seq;  // the subject's last sequence (0: none yet)
};

// Takes flock(LOCK_EX) on <dir>/LOCK and writes this pid into it; returns
// the descriptor that holds it. Unavailable, naming the holder's pid, when
// another process has the directory.
absl::StatusOr<int> LockDataDirectory(const std::string& dir);
void UnlockDataDirectory(int fd);

class StoredStream : public EnvSyncClient {
 public:
  const CatalogEntry& entry() const { return entry_; }
  engine::Log& log() { return *log_; }
  std::string dir() const { return log_->dir(); }

  // Writer thread only (one at a time, as Log::Append). A failed
  // expectation is FailedPrecondition "wrong last sequence: N" (N the actual
  // one); nothing is appended then.
  absl::StatusOr<uint64_t> Append(const engine::Message& msg, const AppendExpect& expect = {});
  // Last sequence appended on `subject` (0: none), exact, including what is
  // not yet durable. Writer thread only.
  uint64_t LastSequenceOf(std::string_view subject);

  template <typename Fn>  // fn(subject, last sequence); writer thread only
  void ForEachSubject(Fn fn) {
    TrackSubjects();
    for (const auto& [subject, last] : last_by_subject_) fn(std::string_view(subject), last);
  }

  // ---- Messages deleted one by one (writer thread) ----
  // Marks `seq` deleted (durably, before returning): readers of the store
  // skip it from now on. NotFound when it is not in the stream (never
  // appended, expired, or deleted already).
  absl::Status DeleteMessage(uint64_t seq);
  // Marks every sequence of `seqs` that is in the stream deleted, in one
  // index transaction (synced before returning when `sync`; otherwise
  // durable with the next sync of the index). Sequences not in the stream,
  // or deleted already, are skipped. Returns how many were deleted.
  absl::StatusOr<size_t> DeleteMessages(absl::Span<const uint64_t> seqs, bool sync);
  // Removes every message below `seq` (the whole stream when seq >
  // last_seq: first_seq becomes last_seq + 1); segments left holding only
  // removed messages are deleted. Returns how many messages went.
  absl::StatusOr<uint64_t> PurgeBefore(uint64_t seq);
  bool IsDeleted(uint64_t seq) const { return deleted_->Contains(seq); }
  uint64_t DeletedIn(uint64_t lo, uint64_t hi) const { return deleted_->CountIn(lo, hi); }
  // Messages in the stream: retained and not deleted.
  uint64_t num_messages() const;
  // The message `seq`, read with `reader` (opened on dir()); the record's
  // views live until the reader's next call. NotFound when it is not in the
  // stream.
  absl::Status GetMessage(uint64_t seq, engine::Reader* reader, engine::Record* out) const;

  // ---- Durable consumers (writer thread; consumer.h) ----
  // Creates a consumer, or returns the existing one when its configuration
  // is the same; AlreadyExists when it differs. InvalidArgument for a bad
  // configuration.
  absl::StatusOr<Consumer*> CreateConsumer(const ConsumerConfig& config, int64_t now_ns);
  // Changes what may change (consumer_config.h); NotFound for no consumer.
  absl::StatusOr<Consumer*> UpdateConsumer(const ConsumerConfig& config);
  Consumer* FindConsumer(const std::string& name);
  std::vector<std::string> ConsumerNames() const;
  absl::Status DeleteConsumer(const std::string& name);

  // Passes a problem to the store's corruption reporter.
  void Report(const std::string& what) const;

  // Position `reader` (opened on dir()) before sequence `seq`, or before the
  // first record at or after `ts_ns`: one index lookup and a short scan.
  absl::Status Seek(engine::Reader* reader, uint64_t seq) const;
  absl::Status SeekTime(engine::Reader* reader, int64_t ts_ns) const;

  // Everything up to here is durable in the log and committed in the index.
  uint64_t indexed_seq() const { return indexed_seq_.load(std::memory_order_acquire); }
  // Frames the indexer has read ahead and keeps for its next commit.
  size_t staged_frames();
  // Commits the indexer thread has started since the store opened (each
  // start of the thread, after an UpdateStream too, begins with one).
  uint64_t indexer_commits() const { return indexer_commits_.load(std::memory_order_acquire); }
  // Called after each synced index commit with the new indexed_seq (on the
  // environment syncer's thread, or the one closing or updating the
  // stream). Set before appending.
  void SetDurableCallback(std::function<void(uint64_t)> cb);
  // Called after each sync of the log with its new durable sequence, before
  // that part is indexed (background thread): the messages are safe on
  // disk (an index commit lost with them is redone from the log at open).
  // Must be quick. Set before appending.
  void SetLogDurableCallback(std::function<void(uint64_t)> cb);

 private:
  friend class Store;
  StoredStream() = default;
 public:
  ~StoredStream();
 private:
  // Indexes what the log has made durable and the index has not seen:
  // the staged frames first, then what it reads on. With `sync_here` the
  // environment sync follows on this thread (and a sync still owed comes
  // first); otherwise *sync_wanted says whether a commit was made that
  // awaits a sync (the indexer then asks env_syncer_).
  absl::Status CatchUp(uint64_t durable_seq, bool sync_here = true, bool* sync_wanted = nullptr);
  // EnvSyncClient: the committed sequence, and its sync's outcome.
  uint64_t SyncSnapshot() override;
  void SyncDone(uint64_t snapshot, const absl::Status& status) override;
  // Stages (StreamIndex::Stage) the frames the log has published beyond
  // what the index has read, at most kMaxStagedFrames of them; stops early
  // once a commit is due (the log made more than `done` durable and
  // `commit_at` has passed). True when the log has published frames it did
  // not stage.
  bool ReadAhead(uint64_t done, std::chrono::steady_clock::time_point commit_at);
  // Opens index_reader_ and puts it after the last frame added or staged,
  // unless it is there. REQUIRES: index_mu_ held.
  absl::Status PositionIndexReader();
  // Abandon()s the pending batch and the staged frames. REQUIRES: index_mu_.
  void AbandonBatch();
  // Reports `seq` (committed and synced) as indexed, if it is more than
  // was reported. REQUIRES: index_mu_ held.
  void ReportIndexed(uint64_t seq);
  // Indexes after each sync of log_: its durable callback hands the new
  // durable sequence to the indexer thread, which indexes, commits and
  // syncs the environment, so the log's next sync does not wait for the
  // index's (StartIndexer; docs/architecture.md, "Commit ordering").
  void IndexOnDurable();
  void StartIndexer();
  // Joins the indexer thread (idempotent); call before closing or
  // replacing log_. What it had not indexed yet, CatchUp does after.
  void StopIndexer();
  void IndexerLoop();
  // Builds last_by_subject_ the first time it is needed: the index's
  // per-subject state, then the log after what the index has seen. Until
  // then Append does not maintain it (an append costs no subject lookup).
  void TrackSubjects();
  uint64_t LiveLastOf(std::string_view subject, uint64_t* tracked);

  CatalogEntry entry_;
  LmdbEnv* env_ = nullptr;
  engine::CorruptionReporter reporter_;
  std::unique_ptr<engine::Log> log_;
  std::unique_ptr<StreamIndex> index_;
  std::unique_ptr<engine::Reader> index_reader_;  // used under index_mu_
  // Under index_mu_: index_reader_'s next frame is the one after the last
  // frame added or staged. False after errors and log reopens: seek first.
  bool reader_positioned_ = false;
  // Under index_mu_: from StartIndexer on, index_reader_ reads only frames
  // this process appended, and skips their checksums
  // (engine::ReaderOptions::verify_checksums).
  bool reading_own_frames_ = false;
  // Read-ahead bound: 16 bytes a frame (and a run record per gap or
  // segment), 4 MiB waiting at most per stream, under 8 MiB held
  // (StreamIndex::staged_held).
  static constexpr size_t kMaxStagedFrames = size_t{1} << 18;
  std::mutex index_mu_;
  std::atomic<uint64_t> indexed_seq_{0};
  bool sync_owed_ = false;  // under index_mu_: committed, environment not synced since
  EnvSyncer* env_syncer_ = nullptr;  // the Store's
  bool env_sync_failing_ = false;    // under index_mu_: the syncer's last sync failed
  std::mutex cb_mu_;
  std::function<void(uint64_t)> durable_cb_;
  std::function<void(uint64_t)> log_durable_cb_;  // under cb_mu_
  std::thread indexer_;
  std::mutex ix_mu_;
  std::condition_variable ix_cv_;
  // The log's latest durable sequence: written under ix_mu_, read without
  // it by ReadAhead to stop for a commit.
  std::atomic<uint64_t> ix_target_{0};
  std::atomic<uint64_t> indexer_commits_{0};
  bool ix_stop_ = false;    // under ix_mu_
  std::chrono::microseconds ix_gap_{0};    // StoreOptions::index_commit_gap
  std::chrono::microseconds ix_quiet_{0};  // StoreOptions::index_quiet_commit
  absl::flat_hash_map<std::string, uint64_t, SubjectHash, SubjectEq> last_by_subject_;  // writer thread, once tracked
  bool subjects_tracked_ = false;                                // writer thread
  std::unique_ptr<DeletedSet> deleted_;                          // writer thread
  std::map<std::string, std::unique_ptr<Consumer>> consumers_;   // writer thread
};

class Store {
 public:
  // Opens (creating) the data directory: takes <data>/LOCK, opens the index
  // and every stream in the catalogue, recovers each log and brings the
  // index up to date with it.
  // Errors: Unavailable (another process holds the data directory, with its
  // pid), DataLoss/FailedPrecondition (index unreadable or of another
  // format: `shortbus reindex`), and those of Log::Open.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& data_dir, const StoreOptions& options);
  ~Store();

  // Creates a stream. AlreadyExists if the name is taken with another
  // configuration; the existing stream if the configuration is the same.
  // InvalidArgument for a bad name or options.
  absl::StatusOr<StoredStream*> CreateStream(const StreamConfig& config);
  // Changes a stream's configuration: subjects, retention limits and
  // discard policy, sync mode and interval, duplicate window (segment size
  // and compression stay: InvalidArgument). The log is closed and reopened
  // with the new options, so it runs on the stream's writer thread with no
  // append in progress. NotFound for no such stream.
  absl::StatusOr<StoredStream*> UpdateStream(const StreamConfig& config);
  StoredStream* Find(const std::string& name);
  std::vector<std::string> Names() const;
  // Closes the stream, removes it from the catalogue and the index, and
  // deletes its files.
  absl::Status DeleteStream(const std::string& name);
  // Closes every stream (syncing logs and index). Idempotent.
  absl::Status Close();

  LmdbEnv& env() { return *env_; }
  const std::string& dir() const { return dir_; }

 private:
  Store() = default;
  absl::StatusOr<StoredStream*> OpenStream(const CatalogEntry& entry, bool create);
  absl::Status LoadConsumers(StoredStream* stream);

  std::string dir_;
  StoreOptions options_;
  int lock_fd_ = -1;
  std::unique_ptr<LmdbEnv> env_;
  std::unique_ptr<EnvSyncer> env_syncer_;  // after env_: goes first
  mutable std::mutex mu_;  // streams_
  std::map<std::string, std::unique_ptr<StoredStream>> streams_;
  bool closed_ = false;
};

}  // namespace shortbus::index

#endif  // SHORTBUS_INDEX_STORE_H_
