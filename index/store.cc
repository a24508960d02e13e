#include "index/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "engine/clock.h"
#include "engine/file_system.h"
#include "engine/stream_meta.h"
#include "engine/thread_name.h"
#include "index/databases.h"
#include "index/keys.h"
#include "index/reindex.h"

namespace shortbus::index {
namespace {

engine::LogOptions LogOptionsFor(const StreamConfig& c, const StoreOptions& o, bool create) {
  engine::LogOptions lo;
  lo.segment_size = c.segment_size;
  lo.sync = c.sync;
  lo.sync_interval = c.sync_interval;
  lo.sync_on_append = o.sync_on_append;
  lo.defer_publish = o.defer_publish;
  lo.retention = c.retention;
  lo.compression = c.compression;
  lo.create_if_missing = create;
  lo.reporter = o.reporter;
  lo.clock = o.clock;
  lo.fs = o.fs;
  return lo;
}

}  // namespace

absl::StatusOr<int> LockDataDirectory(const std::string& dir) {
  const std::string path = dir + "/LOCK";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return engine::ErrnoStatus(errno, "open", path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "?";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return absl::UnavailableError(absl::StrCat("data directory ", dir, " is in use by pid ", pid));
  }
  const std::string pid = absl::StrCat(::getpid(), "\n");
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    absl::Status s = engine::ErrnoStatus(errno, "write", path);
    ::close(fd);
    return s;
  }
  return fd;
}

void UnlockDataDirectory(int fd) {
  if (fd >= 0) ::close(fd);
}

// ---- StoredStream ----

absl::StatusOr<uint64_t> StoredStream::Append(const engine::Message& msg, const AppendExpect& expect) {
  if (expect.last_seq.has_value() && *expect.last_seq != log_->last_seq()) {
    return absl::FailedPreconditionError(absl::StrCat("wrong last sequence: ", log_->last_seq()));
  }
  if (expect.last_subject_seq.has_value()) TrackSubjects();
  if (!subjects_tracked_) return log_->Append(msg);
  auto it = last_by_subject_.find(msg.subject);
  if (expect.last_subject_seq.has_value()) {
    const uint64_t actual = it == last_by_subject_.end() ? 0 : LiveLastOf(msg.subject, &it->second);
    if (*expect.last_subject_seq != actual) {
      return absl::FailedPreconditionError(absl::StrCat("wrong last sequence: ", actual));
    }
  }
  absl::StatusOr<uint64_t> seq = log_->Append(msg);
  if (!seq.ok()) return seq;
  if (it == last_by_subject_.end()) {
    last_by_subject_.emplace(std::string(msg.subject), *seq);
  } else {
    it->second = *seq;
  }
  return seq;
}

void StoredStream::TrackSubjects() {
  if (subjects_tracked_) return;
  if (absl::Status s = log_->Publish(); !s.ok()) return;  // a failed log: the next append says so
  uint64_t indexed = 0;
  {
    std::lock_guard<std::mutex> l(index_mu_);
    index_->ForEachSubject([&](const std::string& subject, const SubjectState& st) {
      last_by_subject_[subject] = st.last_seq;
    });
    indexed = index_->progress().indexed_seq;
  }
  // What the log has beyond the index (appended, not yet durable or not yet
  // indexed): at most a sync interval's worth.
  const uint64_t last = log_->last_seq();
  if (indexed < last) {
    absl::StatusOr<std::unique_ptr<engine::Reader>> r = engine::Reader::Open(log_->dir());
    absl::Status s = r.ok() ? Seek(r->get(), indexed + 1) : r.status();
    engine::Record rec;
    while (s.ok()) {
      s = (*r)->Next(&rec);
      if (absl::IsDataLoss(s)) {
        s = absl::OkStatus();
        continue;
      }
      if (!s.ok() || rec.sequence > last) break;
      last_by_subject_[std::string(rec.subject)] = rec.sequence;
    }
    if (!s.ok() && !engine::IsEndOfData(s)) {
      Report(absl::StrCat("last sequences per subject may miss the unindexed tail: ", s.message()));
    }
  }
  subjects_tracked_ = true;
}

uint64_t StoredStream::LastSequenceOf(std::string_view subject) {
  TrackSubjects();
  auto it = last_by_subject_.find(subject);
  return it == last_by_subject_.end() ? 0 : LiveLastOf(subject, &it->second);
}

// The tracked last sequence of `subject`, unless that message was deleted
// or expired since: then the newest one left, found by reading the stream
// (a rare path: deleting a subject's newest message), and remembered.
uint64_t StoredStream::LiveLastOf(std::string_view subject, uint64_t* tracked) {
  const uint64_t first = log_->first_seq();
  if (*tracked == 0 || (*tracked >= first && !deleted_->Contains(*tracked))) return *tracked;
  uint64_t found = 0;
  absl::StatusOr<std::unique_ptr<engine::Reader>> r = engine::Reader::Open(log_->dir());
  if (r.ok() && Seek(r->get(), first).ok()) {
    engine::Record rec;
    while ((*r)->Next(&rec).ok() && rec.sequence < *tracked) {
      if (rec.subject == subject && !deleted_->Contains(rec.sequence)) found = rec.sequence;
    }
  }
  *tracked = found;
  return found;
}

absl::Status StoredStream::Seek(engine::Reader* reader, uint64_t seq) const {
  absl::StatusOr<IndexPosition> pos = index_->SeekSequence(seq);
  if (!pos.ok()) {
    if (!absl::IsNotFound(pos.status())) return pos.status();
    return reader->SeekToSequence(seq);
  }
  return reader->SeekToPosition(pos->segment_base, pos->offset, seq);
}

absl::Status StoredStream::SeekTime(engine::Reader* reader, int64_t ts_ns) const {
  absl::StatusOr<IndexPosition> pos = index_->SeekTime(ts_ns);
  if (!pos.ok()) {
    if (!absl::IsNotFound(pos.status())) return pos.status();
    return reader->SeekToTime(ts_ns);  // before the first entry: from the start
  }
  if (absl::Status s = reader->SeekToPosition(pos->segment_base, pos->offset, pos->seq); !s.ok()) return s;
  return reader->SkipOlderThan(ts_ns);
}

void StoredStream::Report(const std::string& what) const {
  if (reporter_) reporter_({log_->dir(), 0, 0, what, false});
}

uint64_t StoredStream::num_messages() const {
  const uint64_t first = log_->first_seq(), last = log_->last_seq();
  if (last < first) return 0;
  return last - first + 1 - deleted_->CountIn(first, last);
}

absl::Status StoredStream::DeleteMessage(uint64_t seq) {
  absl::StatusOr<size_t> n = DeleteMessages(absl::MakeConstSpan(&seq, 1), true);
  if (!n.ok()) return n.status();
  if (*n == 0) return absl::NotFoundError(absl::StrCat("no message ", seq, " in stream ", entry_.config.name));
  return absl::OkStatus();
}

absl::StatusOr<size_t> StoredStream::DeleteMessages(absl::Span<const uint64_t> seqs, bool sync) {
  if (absl::Status s = log_->Publish(); !s.ok()) return s;  // a staged sequence is deleted too
  const uint64_t first = log_->first_seq(), last = log_->last_seq();
  size_t added = 0;
  absl::Status s = env_->Write([&](MDB_txn* txn) -> absl::Status {
    for (uint64_t seq : seqs) {
      if (seq < first || seq > last) continue;
      absl::Status a = deleted_->Add(txn, seq, first);
      if (absl::IsAlreadyExists(a)) continue;
      if (!a.ok()) return a;
      ++added;
    }
    return absl::OkStatus();
  });
  if (s.ok() && sync && added != 0) s = env_->Sync();
  if (!s.ok()) {
    deleted_->Discard();
    return s;
  }
  deleted_->Commit();
  return added;
}

absl::StatusOr<uint64_t> StoredStream::PurgeBefore(uint64_t seq) {
  const uint64_t before = num_messages();
  log_->ExpireBefore(std::min(seq, log_->last_seq() + 1));
  const uint64_t after = num_messages();
  return before > after ? before - after : 0;
}

absl::Status StoredStream::GetMessage(uint64_t seq, engine::Reader* reader, engine::Record* out) const {
  if (seq == 0 || seq < log_->first_seq() || seq > log_->last_seq() || deleted_->Contains(seq)) {
    return absl::NotFoundError(absl::StrCat("no message ", seq, " in stream ", entry_.config.name));
  }
  if (absl::Status s = Seek(reader, seq); !s.ok()) return s;
  absl::Status s = reader->Next(out);
  if (engine::IsEndOfData(s) || (s.ok() && out->sequence != seq)) {
    return absl::NotFoundError(absl::StrCat("no message ", seq, " in stream ", entry_.config.name));
  }
  return s;
}

absl::StatusOr<Consumer*> StoredStream::CreateConsumer(const ConsumerConfig& config, int64_t now_ns) {
  if (absl::Status s = ValidateConsumerConfig(config); !s.ok()) return s;
  if (Consumer* existing = FindConsumer(config.name); existing != nullptr) {
    if (existing->config() == config) return existing;
    return absl::AlreadyExistsError(absl::StrCat("consumer ", config.name, " already exists with another configuration"));
  }
  auto c = std::unique_ptr<Consumer>(new Consumer(this, env_, entry_.stream_no, config));
  if (absl::Status s = c->Start(now_ns); !s.ok()) return s;
  const std::string key = StreamBytesKey(entry_.stream_no, config.name);
  const std::string value = EncodeConsumerConfig(config);
  std::string state;
  EncodeConsumerState(c->state_, &state);
  absl::Status s = env_->Write([&](MDB_txn* txn) -> absl::Status {
    MDB_val k = ValOf(key), v = ValOf(value), sv = ValOf(state);
    if (int rc = mdb_put(txn, env_->db(kConsumersDb), &k, &v, 0); rc != 0) return LmdbStatus(rc, "write consumer");
    return LmdbStatus(mdb_put(txn, env_->db(kConsumerStateDb), &k, &sv, 0), "write consumer state");
  });
  if (s.ok()) s = env_->Sync();
  if (!s.ok()) return s;
  c->dirty_ = false;
  Consumer* raw = c.get();
  consumers_[config.name] = std::move(c);
  return raw;
}

absl::StatusOr<Consumer*> StoredStream::UpdateConsumer(const ConsumerConfig& config) {
  Consumer* c = FindConsumer(config.name);
  if (c == nullptr) return absl::NotFoundError(absl::StrCat("no consumer ", config.name));
  if (absl::Status s = ValidateConsumerUpdate(c->config(), config); !s.ok()) return s;
  const std::string key = StreamBytesKey(entry_.stream_no, config.name);
  const std::string value = EncodeConsumerConfig(config);
  absl::Status s = env_->Write([&](MDB_txn* txn) {
    MDB_val k = ValOf(key), v = ValOf(value);
    return LmdbStatus(mdb_put(txn, env_->db(kConsumersDb), &k, &v, 0), "write consumer");
  });
  if (s.ok()) s = env_->Sync();
  if (!s.ok()) return s;
  c->config_ = config;
  c->RecomputeDeadline();
  return c;
}

Consumer* StoredStream::FindConsumer(const std::string& name) {
  auto it = consumers_.find(name);
  return it == consumers_.end() ? nullptr : it->second.get();
}

std::vector<std::string> StoredStream::ConsumerNames() const {
  std::vector<std::string> names;
  for (const auto& [name, c] : consumers_) names.push_back(name);
  return names;
}

absl::Status StoredStream::DeleteConsumer(const std::string& name) {
  auto it = consumers_.find(name);
  if (it == consumers_.end()) return absl::NotFoundError(absl::StrCat("no consumer ", name));
  const std::string key = StreamBytesKey(entry_.stream_no, name);
  absl::Status s = env_->Write([&](MDB_txn* txn) -> absl::Status {
    MDB_val k = ValOf(key);
    for (const char* db : {kConsumersDb, kConsumerStateDb}) {
      int rc = mdb_del(txn, env_->db(db), &k, nullptr);
      if (rc != 0 && rc != MDB_NOTFOUND) return LmdbStatus(rc, "remove consumer");
    }
    return absl::OkStatus();
  });
  if (s.ok()) s = env_->Sync();
  if (!s.ok()) return s;
  consumers_.erase(it);
  return absl::OkStatus();
}

void StoredStream::SetDurableCallback(std::function<void(uint64_t)> cb) {
  std::lock_guard<std::mutex> l(cb_mu_);
  durable_cb_ = std::move(cb);
}

void StoredStream::SetLogDurableCallback(std::function<void(uint64_t)> cb) {
  std::lock_guard<std::mutex> l(cb_mu_);
  log_durable_cb_ = std::move(cb);
}

absl::Status StoredStream::CatchUp(uint64_t durable_seq, bool sync_here, bool* sync_wanted) {
  std::lock_guard<std::mutex> l(index_mu_);
  if (sync_owed_ && sync_here) {
    // A commit not yet synced (its sync failed, or the syncer has not
    // done it): durable only once a sync succeeds, and only then reported.
    if (absl::Status s = env_->Sync(); !s.ok()) return s;
    sync_owed_ = false;
    ReportIndexed(index_->progress().indexed_seq);
  }
  if (index_->progress().indexed_seq >= durable_seq) return absl::OkStatus();
  index_->AddStaged(durable_seq);
  absl::Status s;
  if (index_->staged() == 0 && index_->read_end().indexed_seq < durable_seq) {
    if (s = PositionIndexReader(); !s.ok()) return s;
    engine::Record rec;
    while (true) {
      s = index_reader_->Next(&rec);
      if (s.ok()) {
        if (rec.sequence > durable_seq) {  // not durable yet: kept for the commit after the next sync
          index_->Stage(rec);
          break;
        }
        index_->Add(rec);
        continue;
      }
      if (engine::IsEndOfData(s)) break;
      if (absl::IsDataLoss(s)) continue;  // reported by the log's own checks; index what is readable
      AbandonBatch();  // what was added is read again next time, not counted twice
      return s;
    }
  }
  if (!index_->has_pending()) return absl::OkStatus();
  const uint64_t first = log_->first_seq();
  s = env_->Write([&](MDB_txn* txn) -> absl::Status {
    if (absl::Status w = index_->WriteBatch(txn); !w.ok()) return w;
    // Ranges of expired messages (deleted segments) go with the same commit.
    return index_->PruneBelow(txn, first);
  });
  if (!s.ok()) {
    AbandonBatch();
    return s;
  }
  index_->Committed();
  sync_owed_ = true;  // committed, not yet durable
  if (!sync_here) {
    if (sync_wanted != nullptr) *sync_wanted = true;
    return absl::OkStatus();
  }
  if (s = env_->Sync(); !s.ok()) return s;  // retried before anything else
  sync_owed_ = false;
  ReportIndexed(index_->progress().indexed_seq);
  return absl::OkStatus();
}

uint64_t StoredStream::SyncSnapshot() {
  std::lock_guard<std::mutex> l(index_mu_);
  return index_->progress().indexed_seq;
}

void StoredStream::SyncDone(uint64_t snapshot, const absl::Status& status) {
  std::lock_guard<std::mutex> l(index_mu_);
  if (!status.ok()) {
    // Once per run of failures: the syncer retries every 100 ms.
    if (!env_sync_failing_) Report(absl::StrCat("index sync failed (retried): ", status.message()));
    env_sync_failing_ = true;
    return;
  }
  env_sync_failing_ = false;
  if (snapshot == index_->progress().indexed_seq) sync_owed_ = false;
  ReportIndexed(snapshot);
}

absl::Status StoredStream::PositionIndexReader() {
  if (index_reader_ == nullptr) {
    engine::ReaderOptions options;
    options.verify_checksums = !reading_own_frames_;
    options.read_payloads = false;  // an index needs no payload: nothing is decompressed
    absl::StatusOr<std::unique_ptr<engine::Reader>> r = engine::Reader::Open(log_->dir(), options);
    if (!r.ok()) return r.status();
    index_reader_ = std::move(*r);
  }
  if (reader_positioned_) return absl::OkStatus();
  const IndexProgress e = index_->read_end();
  absl::Status s = e.indexed_seq == 0 ? index_reader_->SeekToSequence(1)
                                      : index_reader_->SeekToPosition(e.segment_base, e.next_offset, e.indexed_seq + 1);
  reader_positioned_ = s.ok();
  return s;
}

void StoredStream::AbandonBatch() {
  index_->Abandon();  // also drops the staged frames
  reader_positioned_ = false;
}

size_t StoredStream::staged_frames() {
  std::lock_guard<std::mutex> l(index_mu_);
  return index_->staged();
}

bool StoredStream::ReadAhead(uint64_t done, std::chrono::steady_clock::time_point commit_at) {
  // In chunks, the index lock released between them: the environment
  // syncer and the writer (TrackSubjects) take it too.
  constexpr size_t kChunk = 4096;
  engine::Record rec;
  while (true) {
    {
      std::lock_guard<std::mutex> l(index_mu_);
      if (index_->staged() >= kMaxStagedFrames || log_->last_seq() <= index_->read_end().indexed_seq) return false;
      if (!PositionIndexReader().ok()) return false;  // the next CatchUp meets the error and reports it
      for (size_t n = 0; n < kChunk && index_->staged() < kMaxStagedFrames;) {
        absl::Status s = index_reader_->Next(&rec);
        if (s.ok()) {
          index_->Stage(rec);
          ++n;
          continue;
        }
        if (engine::IsEndOfData(s)) {
          return index_->staged() < kMaxStagedFrames && log_->last_seq() > index_->read_end().indexed_seq;
        }
        if (absl::IsDataLoss(s)) continue;  // as in CatchUp
        reader_positioned_ = false;
        return false;
      }
    }
    if (ix_target_.load(std::memory_order_acquire) > done && std::chrono::steady_clock::now() >= commit_at) {
      return true;  // a commit is due
    }
  }
}

void StoredStream::IndexOnDurable() {
  log_->SetDurableCallback([this](uint64_t durable) {
    std::function<void(uint64_t)> cb;
    {
      std::lock_guard<std::mutex> cl(cb_mu_);
      cb = log_durable_cb_;
    }
    if (cb) cb(durable);
    {
      std::lock_guard<std::mutex> il(ix_mu_);
      if (durable > ix_target_) ix_target_ = durable;
    }
    ix_cv_.notify_one();
  });
}

void StoredStream::StartIndexer() {
  bool owed = false;
  {
    // The log was (re)opened: what was read ahead of its durable end may
    // have been cut by its recovery.
    std::lock_guard<std::mutex> l(index_mu_);
    index_->DropStaged();
    reader_positioned_ = false;
    // Everything the log held at open is indexed (and was checked on the
    // way); what the indexer reads from now on, this process appended.
    index_reader_.reset();
    reading_own_frames_ = true;
    owed = sync_owed_;
  }
  {
    std::lock_guard<std::mutex> l(ix_mu_);
    ix_stop_ = false;
  }
  indexer_ = std::thread([this] {
    engine::NameThisThread("sb-index");
    IndexerLoop();
  });
  // A commit whose sync failed while the indexer was stopped (closing a log
  // that failed, UpdateStream) is synced by the syncer.
  if (owed && env_syncer_ != nullptr) env_syncer_->Request(this);
}

void StoredStream::StopIndexer() {
  {
    std::lock_guard<std::mutex> l(ix_mu_);
    ix_stop_ = true;
  }
  ix_cv_.notify_one();
  if (indexer_.joinable()) indexer_.join();
  // A sync asked for and not done yet is owed (sync_owed_): the next
  // CatchUp that syncs here does it.
  if (env_syncer_ != nullptr) env_syncer_->Forget(this);
}

// Syncs of the log come faster than index commits: at most one CatchUp
// starts per ix_gap_ (StoreOptions::index_commit_gap), and the durable
// sequences that arrive meanwhile coalesce into it; sooner once the durable
// sequence has stood still for ix_quiet_ (index_quiet_commit), as nothing
// is coming to coalesce. Between commits the thread reads ahead what the
// log has published (ReadAhead), woken by each log sync, or every 10 ms
// while the log publishes faster than it syncs, so that a commit has only
// staged frames to add.
void StoredStream::IndexerLoop() {
  using Clock = std::chrono::steady_clock;
  std::unique_lock<std::mutex> l(ix_mu_);
  uint64_t done = 0;
  Clock::time_point next_commit = Clock::now();
  uint64_t target_seen = 0;
  Clock::time_point target_moved = next_commit;  // when this thread saw ix_target_ move last
  // 10 ms, or the gap if shorter. The quiet rule commits no sooner than this
  // after the last commit: where a log sync and the publisher's next append
  // take longer than ix_quiet_ (a slow disk, one publisher waiting for each
  // acknowledgement), every log sync would look like the end of a burst and
  // bring a commit and an environment sync of its own. And read-ahead with
  // no sync to wake it polls this often.
  const auto short_period = std::min<std::chrono::microseconds>(ix_gap_, std::chrono::milliseconds(10));
  Clock::time_point last_commit{};
  while (!ix_stop_) {
    const Clock::time_point now = Clock::now();
    if (ix_target_ != target_seen) {
      target_seen = ix_target_;
      target_moved = now;
    }
    const Clock::time_point due =
        std::min(next_commit, std::max(target_moved + ix_quiet_, last_commit + short_period));
    if (ix_target_ > done && now >= due) {
      const uint64_t target = ix_target_;
      l.unlock();
      bool sync_wanted = false;
      if (absl::Status s = CatchUp(target, env_syncer_ == nullptr, &sync_wanted); !s.ok()) {
        Report(absl::StrCat("indexing failed (seeks fall back to scans): ", s.message()));
      }
      if (sync_wanted) env_syncer_->Request(this);  // the disk works while this thread reads ahead
      indexer_commits_.fetch_add(1, std::memory_order_acq_rel);
      l.lock();
      done = target;
      last_commit = now;
      next_commit = now + ix_gap_;
      continue;
    }
    l.unlock();
    const bool more = ReadAhead(done, due);
    l.lock();
    const uint64_t seen = ix_target_;
    const auto woken = [&] { return ix_stop_ || ix_target_ > seen; };
    if (ix_target_ > done) {
      ix_cv_.wait_until(l, due, woken);
    } else if (more) {
      // Frames keep coming with no sync to wake this thread (sync=never, or
      // between interval syncs).
      ix_cv_.wait_for(l, short_period, woken);
    } else {
      ix_cv_.wait(l, woken);
    }
  }
}

StoredStream::~StoredStream() {
  StopIndexer();
  log_.reset();  // its background thread calls back into members destroyed after this body
}

void StoredStream::ReportIndexed(uint64_t indexed) {
  if (indexed <= indexed_seq_.load(std::memory_order_relaxed)) return;
  indexed_seq_.store(indexed, std::memory_order_release);
  std::function<void(uint64_t)> cb;
  {
    std::lock_guard<std::mutex> cl(cb_mu_);
    cb = durable_cb_;
  }
  if (cb) cb(indexed);
}

// ---- Store ----

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& data_dir, const StoreOptions& options) {
  if (absl::Status s = engine::DefaultFileSystem()->CreateDir(data_dir + "/streams"); !s.ok()) return s;
  std::unique_ptr<Store> store(new Store());
  store->dir_ = data_dir;
  store->options_ = options;
  absl::StatusOr<int> lock = LockDataDirectory(data_dir);
  if (!lock.ok()) return lock.status();
  store->lock_fd_ = *lock;
  absl::StatusOr<std::unique_ptr<LmdbEnv>> env =
      LmdbEnv::Open(data_dir + "/index", options.env, IndexDatabases());
  if (!env.ok()) return env.status();
  store->env_ = std::move(*env);
  store->env_syncer_ = std::make_unique<EnvSyncer>([env = store->env_.get()] { return env->Sync(); });
  absl::StatusOr<std::vector<CatalogEntry>> entries = CatalogList(*store->env_);
  if (!entries.ok()) return entries.status();
  // A stream on disk that the catalogue does not know means a lost or
  // replaced index: refuse, rather than serve a data directory with
  // streams missing.
  std::error_code ec;
  for (const auto& d : std::filesystem::directory_iterator(data_dir + "/streams", ec)) {
    const std::string name = d.path().filename().string();
    const bool known = std::any_of(entries->begin(), entries->end(),
                                   [&](const CatalogEntry& e) { return e.config.name == name; });
    if (!known && std::filesystem::exists(d.path() / kStreamConfigFile, ec)) {
      return absl::DataLossError(absl::StrCat("stream ", name, " is on disk but not in the index of ", data_dir,
                                              " (index lost or replaced): run `shortbus reindex ", data_dir, "`"));
    }
  }
  for (const CatalogEntry& e : *entries) {
    // A crash between the catalogue commit and the creation of the stream's
    // directory (or of its CONFIG) leaves a stream that was never appended
    // to: create what is missing.
    const std::string dir = absl::StrCat(data_dir, "/streams/", e.config.name);
    const bool exists = std::filesystem::exists(dir + "/" + engine::kStreamMetaFile, ec);
    absl::StatusOr<StoredStream*> s = store->OpenStream(e, !exists);
    if (!s.ok()) return s.status();
    if (!std::filesystem::exists(dir + "/" + kStreamConfigFile, ec)) {
      if (absl::Status w = WriteStreamConfigFile(dir, e); !w.ok()) return w;
    }
  }
  return store;
}

absl::StatusOr<StoredStream*> Store::OpenStream(const CatalogEntry& entry, bool create) {
  auto stream = std::unique_ptr<StoredStream>(new StoredStream());
  stream->entry_ = entry;
  stream->env_ = env_.get();
  stream->reporter_ = options_.reporter;
  stream->ix_gap_ = options_.index_commit_gap;
  stream->ix_quiet_ = options_.index_quiet_commit;
  stream->env_syncer_ = env_syncer_.get();
  absl::StatusOr<std::unique_ptr<engine::Log>> log =
      engine::Log::Open(absl::StrCat(dir_, "/streams/", entry.config.name), LogOptionsFor(entry.config, options_, create));
  if (!log.ok()) return log.status();
  stream->log_ = std::move(*log);
  stream->index_ = std::make_unique<StreamIndex>(env_.get(), entry.stream_no, options_.sparse_bytes);
  if (absl::Status s = stream->index_->Load(); !s.ok()) return s;
  if (stream->index_->progress().indexed_seq > stream->log_->last_seq()) {
    // The index describes more than the log holds (the log lost data to
    // corruption since): rebuild this stream's part.
    if (options_.reporter) {
      options_.reporter({stream->log_->dir(), 0, 0,
                         absl::StrCat("index claims sequence ", stream->index_->progress().indexed_seq,
                                      " beyond the log's last ", stream->log_->last_seq(), "; reindexing"),
                         false});
    }
    absl::Status s = env_->Write([&](MDB_txn* txn) { return stream->index_->DropAll(txn); });
    if (!s.ok()) return s;
  }
  // Open made the whole log durable: index all of it that is missing.
  if (absl::Status s = stream->CatchUp(stream->log_->durable_seq()); !s.ok()) return s;
  stream->indexed_seq_.store(stream->index_->progress().indexed_seq, std::memory_order_release);
  stream->deleted_ = std::make_unique<DeletedSet>(env_.get(), entry.stream_no);
  if (absl::Status s = stream->deleted_->Load(); !s.ok()) return s;
  StoredStream* raw = stream.get();
  if (absl::Status s = LoadConsumers(raw); !s.ok()) return s;
  raw->IndexOnDurable();
  raw->StartIndexer();
  std::lock_guard<std::mutex> l(mu_);
  streams_[entry.config.name] = std::move(stream);
  return raw;
}

absl::Status Store::LoadConsumers(StoredStream* stream) {
  struct Loaded {
    ConsumerConfig config;
    std::string state;
  };
  std::vector<Loaded> loaded;
  const uint32_t no = stream->entry_.stream_no;
  absl::Status s = env_->Read([&](MDB_txn* txn) -> absl::Status {
    MDB_cursor* cur;
    if (int rc = mdb_cursor_open(txn, env_->db(kConsumersDb), &cur); rc != 0) return LmdbStatus(rc, "open cursor");
    const std::string prefix = StreamBytesKey(no, "");
    MDB_val k = ValOf(prefix), v;
    int rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      std::string_view key = ViewOf(k);
      if (key.size() < 4 || key.substr(0, 4) != prefix) break;
      absl::StatusOr<ConsumerConfig> c = DecodeConsumerConfig(key.substr(4), ViewOf(v));
      if (!c.ok()) {
        mdb_cursor_close(cur);
        return c.status();
      }
      MDB_val sv;
      int src = mdb_get(txn, env_->db(kConsumerStateDb), &k, &sv);
      if (src != 0 && src != MDB_NOTFOUND) {
        mdb_cursor_close(cur);
        return LmdbStatus(src, "read consumer state");
      }
      loaded.push_back({std::move(*c), src == 0 ? std::string(ViewOf(sv)) : std::string()});
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? absl::OkStatus() : LmdbStatus(rc, "list consumers");
  });
  if (!s.ok()) return s;
  for (Loaded& l : loaded) {
    auto c = std::unique_ptr<Consumer>(new Consumer(stream, env_.get(), no, l.config));
    ConsumerState state;
    if (l.state.empty()) {
      return absl::DataLossError(absl::StrCat("consumer ", l.config.name, " of stream ", stream->entry_.config.name,
                                              " has no state record"));
    }
    if (absl::Status d = DecodeConsumerState(l.state, &state); !d.ok()) {
      return absl::DataLossError(absl::StrCat("consumer ", l.config.name, " of stream ",
                                              stream->entry_.config.name, ": ", d.message()));
    }
    if (absl::Status r = c->Resume(std::move(state)); !r.ok()) return r;
    if (c->dirty() ) {
      if (absl::Status w = c->Commit(true); !w.ok()) return w;
    }
    stream->consumers_[l.config.name] = std::move(c);
  }
  return absl::OkStatus();
}

absl::StatusOr<StoredStream*> Store::CreateStream(const StreamConfig& config) {
  if (absl::Status s = ValidateStreamName(config.name); !s.ok()) return s;
  if (StoredStream* existing = Find(config.name); existing != nullptr) {
    if (existing->entry().config == config) return existing;
    return absl::AlreadyExistsError(absl::StrCat("stream ", config.name, " already exists with another configuration"));
  }
  engine::LogOptions lo = LogOptionsFor(config, options_, true);
  if (absl::Status s = engine::ValidateLogOptions(lo); !s.ok()) return s;
  absl::StatusOr<CatalogEntry> entry;
  const int64_t now = options_.clock ? options_.clock() : engine::WallClockNs();
  absl::Status s = env_->Write([&](MDB_txn* txn) {
    entry = CatalogAdd(env_.get(), txn, config, now);
    return entry.status();
  });
  if (s.ok()) s = env_->Sync();
  if (!s.ok()) return s;
  absl::StatusOr<StoredStream*> stream = OpenStream(*entry, true);
  if (!stream.ok()) return stream;
  if (absl::Status w = WriteStreamConfigFile((*stream)->dir(), *entry); !w.ok()) return w;
  return stream;
}

absl::StatusOr<StoredStream*> Store::UpdateStream(const StreamConfig& config) {
  StoredStream* stream = Find(config.name);
  if (stream == nullptr) return absl::NotFoundError(absl::StrCat("no stream ", config.name));
  const StreamConfig& current = stream->entry().config;
  if (current == config) return stream;
  if (config.segment_size != current.segment_size || config.compression != current.compression) {
    return absl::InvalidArgumentError(absl::StrCat("stream ", config.name,
                                                   ": segment size and compression can not be updated"));
  }
  engine::LogOptions lo = LogOptionsFor(config, options_, false);
  if (absl::Status s = engine::ValidateLogOptions(lo); !s.ok()) return s;
  CatalogEntry entry = stream->entry();
  entry.config = config;
  absl::Status s = env_->Write([&](MDB_txn* txn) { return CatalogPut(env_.get(), txn, entry); });
  if (s.ok()) s = env_->Sync();
  if (s.ok()) s = WriteStreamConfigFile(stream->dir(), entry);
  if (!s.ok()) return s;
  // The log takes the new limits and sync mode by being reopened: its final
  // sync indexes everything, then the new one recovers nothing (clean close).
  stream->StopIndexer();
  s = stream->log_->Close();
  if (s.ok()) s = stream->CatchUp(stream->log_->durable_seq());
  if (!s.ok()) {
    stream->StartIndexer();
    return s;
  }
  absl::StatusOr<std::unique_ptr<engine::Log>> log = engine::Log::Open(stream->dir(), lo);
  if (!log.ok()) return log.status();
  stream->log_ = std::move(*log);
  stream->entry_ = entry;
  stream->IndexOnDurable();
  stream->StartIndexer();
  return stream;
}

StoredStream* Store::Find(const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = streams_.find(name);
  return it == streams_.end() ? nullptr : it->second.get();
}

std::vector<std::string> Store::Names() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> names;
  for (const auto& [name, s] : streams_) names.push_back(name);
  return names;
}

absl::Status Store::DeleteStream(const std::string& name) {
  std::unique_ptr<StoredStream> stream;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = streams_.find(name);
    if (it == streams_.end()) return absl::NotFoundError(absl::StrCat("no stream ", name));
    stream = std::move(it->second);
    streams_.erase(it);
  }
  stream->StopIndexer();
  (void)stream->log_->Close();  // its files go next; a failed final sync does not matter
  const std::string dir = stream->log_->dir();
  // CONFIG goes first: after a crash from here on, neither Open nor reindex
  // sees a stream in what is left of the directory.
  std::error_code rm_ec;
  std::filesystem::remove(dir + "/" + kStreamConfigFile, rm_ec);
  (void)engine::DefaultFileSystem()->SyncDir(dir);
  absl::Status s = env_->Write([&](MDB_txn* txn) -> absl::Status {
    if (absl::Status d = stream->index_->DropAll(txn); !d.ok()) return d;
    if (absl::Status d = stream->deleted_->DropAll(txn); !d.ok()) return d;
    for (const auto& [cname, c] : stream->consumers_) {
      const std::string key = StreamBytesKey(stream->entry_.stream_no, cname);
      MDB_val k = ValOf(key);
      for (const char* db : {kConsumersDb, kConsumerStateDb}) {
        int rc = mdb_del(txn, env_->db(db), &k, nullptr);
        if (rc != 0 && rc != MDB_NOTFOUND) return LmdbStatus(rc, "remove consumer");
      }
    }
    return CatalogRemove(env_.get(), txn, name);
  });
  if (s.ok()) s = env_->Sync();
  if (!s.ok()) return s;
  stream.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("remove ", dir, ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status Store::Close() {
  if (closed_) return absl::OkStatus();
  closed_ = true;
  absl::Status first;
  std::map<std::string, std::unique_ptr<StoredStream>> streams;
  {
    std::lock_guard<std::mutex> l(mu_);
    streams.swap(streams_);
  }
  for (auto& [name, stream] : streams) {
    stream->StopIndexer();
    absl::Status s = stream->log_->Close();  // then the rest is indexed here
    if (s.ok()) s = stream->CatchUp(stream->log_->durable_seq());
    if (!s.ok() && first.ok()) first = s;
  }
  streams.clear();
  if (env_ != nullptr) {
    if (absl::Status s = env_->Sync(); !s.ok() && first.ok()) first = s;
  }
  UnlockDataDirectory(lock_fd_);
  lock_fd_ = -1;
  return first;
}

Store::~Store() { (void)Close(); }

}  // namespace shortbus::index
