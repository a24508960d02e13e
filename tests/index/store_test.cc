#include "index/databases.h"
#include "index/reindex.h"
#include "index/store.h"

#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>

#include "engine/coding.h"
#include "engine/segment_header.h"
#include "index/keys.h"
#include "tests/engine/test_util.h"

namespace shortbus::index {
namespace {

using ::testing::HasSubstr;
using engine::testing::PayloadFor;
using engine::testing::TempDir;
using engine::testing::WaitUntil;

StreamConfig Config(const std::string& name, engine::SyncMode sync = engine::SyncMode::kNever) {
  StreamConfig c;
  c.name = name;
  c.subjects = {name + ".>"};
  c.segment_size = engine::kMinSegmentSize;
  c.sync = sync;
  return c;
}

struct Fixture {
  TempDir tmp;
  std::string data = tmp.Sub("data");
  std::vector<engine::CorruptionReport> reports;
  StoreOptions Options() {
    StoreOptions o;
    o.reporter = [this](const engine::CorruptionReport& r) { reports.push_back(r); };
    return o;
  }
  std::unique_ptr<Store> Open() {
    auto s = Store::Open(data, Options());
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }
};

struct Written {
  std::vector<int64_t> ts;  // by sequence - 1
  std::map<std::string, uint64_t> last;
};

Written Fill(StoredStream* s, uint64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Written w;
  for (uint64_t i = 1; i <= n; ++i) {
    const std::string subject = "ORDERS.c" + std::to_string(rng() % 11);
    absl::StatusOr<uint64_t> seq = s->Append({subject, "", PayloadFor(i, rng() % 700), 0});
    EXPECT_TRUE(seq.ok()) << seq.status();
    w.last[subject] = *seq;
  }
  auto r = *engine::Reader::Open(s->dir());
  engine::Record rec;
  while (r->Next(&rec).ok()) w.ts.push_back(rec.timestamp_ns);
  return w;
}

void CheckSeeks(StoredStream* s, const Written& w, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto r = *engine::Reader::Open(s->dir());
  engine::Record rec;
  for (int i = 0; i < 200; ++i) {
    const uint64_t seq = 1 + rng() % w.ts.size();
    ASSERT_TRUE(s->Seek(r.get(), seq).ok());
    ASSERT_TRUE(r->Next(&rec).ok());
    ASSERT_EQ(rec.sequence, seq);
    const int64_t t = w.ts[rng() % w.ts.size()] + static_cast<int64_t>(rng() % 3) - 1;
    const uint64_t want = static_cast<uint64_t>(std::lower_bound(w.ts.begin(), w.ts.end(), t) - w.ts.begin()) + 1;
    ASSERT_TRUE(s->SeekTime(r.get(), t).ok());
    absl::Status st = r->Next(&rec);
    if (want > w.ts.size()) {
      ASSERT_TRUE(engine::IsEndOfData(st));
    } else {
      ASSERT_TRUE(st.ok()) << st;
      ASSERT_EQ(rec.sequence, want) << "time " << t;
    }
  }
}

TEST(Store, StreamsIndexAndSubjectsSurviveReopen) {
  Fixture f;
  Written w;
  {
    auto store = f.Open();
    StoredStream* s = *store->CreateStream(Config("ORDERS"));
    w = Fill(s, 5000, 1);
    ASSERT_TRUE(store->Close().ok());
  }
  auto store = f.Open();
  EXPECT_EQ(store->Names(), std::vector<std::string>{"ORDERS"});
  StoredStream* s = store->Find("ORDERS");
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->entry().config == Config("ORDERS"));
  EXPECT_EQ(s->indexed_seq(), 5000u);
  for (const auto& [subject, seq] : w.last) EXPECT_EQ(s->LastSequenceOf(subject), seq) << subject;
  EXPECT_EQ(s->LastSequenceOf("ORDERS.never"), 0u);
  CheckSeeks(s, w, 2);
}

TEST(Store, ExpectedLastSequencesRejectWithoutAppending) {
  Fixture f;
  auto store = f.Open();
  StoredStream* s = *store->CreateStream(Config("EVENTS"));
  ASSERT_TRUE(s->Append({"EVENTS.cart.1", "", "created", 0}, {.last_seq = 0, .last_subject_seq = 0}).ok());
  ASSERT_TRUE(s->Append({"EVENTS.cart.2", "", "created", 0}, {.last_seq = std::nullopt, .last_subject_seq = 0}).ok());
  absl::StatusOr<uint64_t> bad = s->Append({"EVENTS.cart.1", "", "paid", 0}, {.last_seq = std::nullopt, .last_subject_seq = 0});
  EXPECT_TRUE(absl::IsFailedPrecondition(bad.status())) << bad.status();
  EXPECT_EQ(bad.status().message(), "wrong last sequence: 1");
  bad = s->Append({"EVENTS.cart.1", "", "paid", 0}, {.last_seq = 1, .last_subject_seq = std::nullopt});
  EXPECT_EQ(bad.status().message(), "wrong last sequence: 2");
  EXPECT_EQ(s->log().last_seq(), 2u);
  EXPECT_EQ(*s->Append({"EVENTS.cart.1", "", "paid", 0}, {.last_seq = 2, .last_subject_seq = 1}), 3u);
  EXPECT_EQ(s->LastSequenceOf("EVENTS.cart.1"), 3u);
}

// Per-subject last sequences are built on first use from the index plus the
// log's unindexed tail, then kept exact by every append.
TEST(Store, LastPerSubjectIsExactWhenFirstAskedWithAnUnindexedTail) {
  Fixture f;
  {
    auto store = f.Open();
    StoredStream* s = *store->CreateStream(Config("T"));  // sync=never: nothing indexed until Close
    for (uint64_t i = 1; i <= 300; ++i) ASSERT_TRUE(s->Append({"T.k" + std::to_string(i % 7), "", "x", 0}).ok());
    ASSERT_TRUE(store->Close().ok());
  }
  auto store = f.Open();
  StoredStream* s = store->Find("T");
  for (uint64_t i = 301; i <= 400; ++i) ASSERT_TRUE(s->Append({"T.k" + std::to_string(i % 5), "", "x", 0}).ok());
  EXPECT_LT(s->indexed_seq(), 301u);  // the tail is in the log only
  EXPECT_EQ(s->LastSequenceOf("T.k6"), 300u);  // k6 only before the reopen (300 % 7 == 6)
  EXPECT_EQ(s->LastSequenceOf("T.k0"), 400u);
  EXPECT_EQ(s->LastSequenceOf("T.k4"), 399u);
  EXPECT_EQ(s->LastSequenceOf("T.never"), 0u);
  ASSERT_TRUE(s->Append({"T.k4", "", "x", 0}, {.last_seq = std::nullopt, .last_subject_seq = 399}).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(
      s->Append({"T.k4", "", "x", 0}, {.last_seq = std::nullopt, .last_subject_seq = 399}).status()));
  ASSERT_TRUE(s->Append({"T.new", "", "x", 0}).ok());
  EXPECT_EQ(s->LastSequenceOf("T.new"), 402u);
}

TEST(Store, UpdateStreamAppliesNewLimitsAndKeepsConsumers) {
  Fixture f;
  auto store = f.Open();
  StoredStream* s = *store->CreateStream(Config("U"));
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(s->Append({"U.a", "", "x", 0}).ok());
  ConsumerConfig cc;
  cc.name = "C";
  Consumer* c = *s->CreateConsumer(cc, 0);
  Delivery d;
  ASSERT_TRUE(*c->Next(0, &d));
  StreamConfig next = Config("U", engine::SyncMode::kAlways);
  next.retention.max_msgs = 10;
  next.subjects = {"U.>", "V.>"};
  absl::StatusOr<StoredStream*> updated = store->UpdateStream(next);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(*updated, s);
  EXPECT_EQ(s->entry().config, next);
  EXPECT_EQ(s->log().first_seq(), 91u);
  EXPECT_EQ(s->num_messages(), 10u);
  EXPECT_EQ(*s->Append({"U.a", "", "x", 0}), 101u);
  ASSERT_TRUE(s->log().WaitDurable(101, absl::Seconds(10)).ok());  // sync=always now
  ASSERT_TRUE(*c->Next(0, &d));
  EXPECT_EQ(d.record.sequence, 92u);  // the consumer goes on, past what expired (101 pushed 91 out)
  StreamConfig bad = next;
  bad.segment_size *= 2;
  EXPECT_TRUE(absl::IsInvalidArgument(store->UpdateStream(bad).status()));
  EXPECT_TRUE(absl::IsNotFound(store->UpdateStream(Config("nope")).status()));
  ASSERT_TRUE(store->Close().ok());
  store = f.Open();
  EXPECT_EQ(store->Find("U")->entry().config, next);
  auto config_file = ReadStreamConfigFile(store->Find("U")->dir(), "U");
  ASSERT_TRUE(config_file.ok());
  EXPECT_EQ(config_file->config, next);
}

// A crash between the log's sync and the index commit leaves the index
// behind: the next open indexes the rest.
TEST(Store, IndexBehindTheLogCatchesUpAtOpen) {
  Fixture f;
  Written w;
  uint32_t stream_no = 0;
  {
    auto store = f.Open();
    StoredStream* s = *store->CreateStream(Config("ORDERS"));
    stream_no = s->entry().stream_no;
    w = Fill(s, 4000, 3);
    ASSERT_TRUE(store->Close().ok());
  }
  {
    auto env = *LmdbEnv::Open(f.data + "/index", {}, IndexDatabases());
    StreamIndex idx(env.get(), stream_no);
    ASSERT_TRUE(idx.Load().ok());
    ASSERT_TRUE(env->Write([&](MDB_txn* txn) { return idx.DropAll(txn); }).ok());
    ASSERT_TRUE(env->Sync().ok());
  }
  auto store = f.Open();
  StoredStream* s = store->Find("ORDERS");
  EXPECT_EQ(s->indexed_seq(), 4000u);
  for (const auto& [subject, seq] : w.last) EXPECT_EQ(s->LastSequenceOf(subject), seq);
  CheckSeeks(s, w, 4);
}

// An index that describes more than the log holds is rebuilt.
TEST(Store, IndexAheadOfTheLogIsRebuilt) {
  Fixture f;
  {
    auto store = f.Open();
    StoredStream* s = *store->CreateStream(Config("ORDERS"));
    Fill(s, 4000, 5);
    ASSERT_TRUE(store->Close().ok());
  }
  // The log loses its last segment (a disk that dropped a file).
  const uint64_t last_base = engine::testing::SegmentBases(f.data + "/streams/ORDERS").back();
  ASSERT_GT(last_base, 1u);
  std::filesystem::remove(f.data + "/streams/ORDERS/" + engine::SegmentFileName(last_base));
  auto store = f.Open();
  StoredStream* s = store->Find("ORDERS");
  EXPECT_EQ(s->log().last_seq(), last_base - 1);
  EXPECT_EQ(s->indexed_seq(), last_base - 1);
  bool reindexed = false;
  for (const auto& r : f.reports) reindexed |= r.reason.find("reindexing") != std::string::npos;
  EXPECT_TRUE(reindexed);
  auto r = *engine::Reader::Open(s->dir());
  engine::Record rec;
  ASSERT_TRUE(s->Seek(r.get(), last_base - 10).ok());
  ASSERT_TRUE(r->Next(&rec).ok());
  EXPECT_EQ(rec.sequence, last_base - 10);
}

TEST(Store, DurableCallbackComesAfterTheIndexCommit) {
  Fixture f;
  auto store = f.Open();
  StoredStream* s = *store->CreateStream(Config("T", engine::SyncMode::kAlways));
  std::atomic<uint64_t> seen{0};
  std::atomic<bool> index_was_behind{false};
  s->SetDurableCallback([&](uint64_t seq) {
    if (s->indexed_seq() < seq) index_was_behind = true;
    seen = seq;
  });
  uint64_t last = 0;
  for (int i = 0; i < 500; ++i) last = *s->Append({"T.x", "", "m", 0});
  WaitUntil([&] { return seen.load() >= last; });
  EXPECT_EQ(seen.load(), last);
  EXPECT_FALSE(index_was_behind.load());
  EXPECT_GE(s->indexed_seq(), last);
}

TEST(Store, LogDurableCallbackComesAfterTheLogSyncBeforeIndexing) {
  Fixture f;
  auto store = f.Open();
  StoredStream* s = *store->CreateStream(Config("L", engine::SyncMode::kAlways));
  std::atomic<uint64_t> log_seen{0}, index_seen{0};
  std::atomic<bool> log_was_not_durable{false}, index_ran_first{false};
  s->SetLogDurableCallback([&](uint64_t seq) {
    if (s->log().durable_seq() < seq) log_was_not_durable = true;
    log_seen = seq;
  });
  s->SetDurableCallback([&](uint64_t seq) {
    if (log_seen.load() < seq) index_ran_first = true;
    index_seen = seq;
  });
  uint64_t last = 0;
  for (int i = 0; i < 500; ++i) last = *s->Append({"L.x", "", "m", 0});
  WaitUntil([&] { return index_seen.load() >= last; });
  EXPECT_EQ(log_seen.load(), last);
  EXPECT_EQ(index_seen.load(), last);
  EXPECT_FALSE(log_was_not_durable.load());
  EXPECT_FALSE(index_ran_first.load());
}

TEST(Store, IndexCommitsCoalesceWithinTheCommitGap) {
  Fixture f;
  StoreOptions o = f.Options();
  o.index_commit_gap = std::chrono::milliseconds(40);
  o.index_quiet_commit = o.index_commit_gap;  // a stall between appends must not commit sooner
  auto store = Store::Open(f.data, o);
  ASSERT_TRUE(store.ok()) << store.status();
  StoredStream* s = *(*store)->CreateStream(Config("G", engine::SyncMode::kAlways));
  std::atomic<uint64_t> commits{0}, indexed{0};
  s->SetDurableCallback([&](uint64_t seq) {
    ++commits;
    indexed = seq;
  });
  const uint64_t syncs0 = s->log().stats().syncs;
  const absl::Time t0 = absl::Now();
  uint64_t last = 0;
  // One log sync per append: each waits until it is durable.
  for (int i = 0; i < 300; ++i) {
    last = *s->Append({"G.x", "", "m", 0});
    ASSERT_TRUE(s->log().WaitDurable(last, absl::Seconds(30)).ok());
  }
  WaitUntil([&] { return indexed.load() >= last; });
  const double elapsed_ms = absl::ToDoubleMilliseconds(absl::Now() - t0);
  ASSERT_EQ(indexed.load(), last);
  const uint64_t syncs = s->log().stats().syncs - syncs0;
  EXPECT_GE(syncs, 300u);
  // One commit to start, then at most one per gap.
  EXPECT_LE(commits.load(), static_cast<uint64_t>(elapsed_ms / 40.0) + 2)
      << commits.load() << " commits for " << syncs << " log syncs in " << elapsed_ms << " ms";
  EXPECT_EQ(s->indexed_seq(), last);
}

// A store whose streams commit their index only by the quiet rule: an
// hour-long gap, quiet after 1 ms; and a stream `name` in it.
StoredStream* QuietRuleStream(Fixture& f, std::unique_ptr<Store>* store, const std::string& name) {
  StoreOptions o = f.Options();
  o.index_commit_gap = std::chrono::hours(1);
  o.index_quiet_commit = std::chrono::milliseconds(1);
  absl::StatusOr<std::unique_ptr<Store>> opened = Store::Open(f.data, o);
  if (!opened.ok()) {
    ADD_FAILURE() << opened.status();
    return nullptr;
  }
  *store = std::move(*opened);
  absl::StatusOr<StoredStream*> s = (*store)->CreateStream(Config(name, engine::SyncMode::kAlways));
  if (!s.ok()) ADD_FAILURE() << s.status();
  return s.ok() ? *s : nullptr;
}

// The commit gap coalesces index commits while log syncs keep coming; once
// the durable sequence stands still (the burst ended), the index commits
// after index_quiet_commit instead of waiting out the gap.
TEST(Store, IndexCommitsSoonOnceTheLogGoesQuiet) {
  Fixture f;
  std::unique_ptr<Store> store;
  StoredStream* s = QuietRuleStream(f, &store, "Q");
  ASSERT_NE(s, nullptr);
  for (int burst = 0; burst < 3; ++burst) {
    uint64_t last = 0;
    for (int i = 0; i < 50; ++i) last = *s->Append({"Q.x", "", "m", 0});
    ASSERT_TRUE(s->log().WaitDurable(last, absl::Seconds(30)).ok());
    // Within the hour-long gap only the quiet rule can commit this burst.
    ASSERT_TRUE(WaitUntil([&] { return s->indexed_seq() >= last; })) << "burst " << burst;
  }
}

// Where each log sync takes longer than index_quiet_commit (here a
// publisher that appends every 3 ms, each append synced), every sync looks
// like the end of a burst; such commits are still 10 ms apart at least.
TEST(Store, QuietCommitsAreTenMillisecondsApartAtLeast) {
  Fixture f;
  std::unique_ptr<Store> store;
  StoredStream* s = QuietRuleStream(f, &store, "P");
  ASSERT_NE(s, nullptr);
  std::atomic<uint64_t> commits{0};
  s->SetDurableCallback([&](uint64_t) { ++commits; });
  const absl::Time t0 = absl::Now();
  uint64_t last = 0;
  for (int i = 0; i < 100; ++i) {
    last = *s->Append({"P.x", "", "m", 0});
    ASSERT_TRUE(s->log().WaitDurable(last, absl::Seconds(30)).ok());
    absl::SleepFor(absl::Milliseconds(3));  // the publisher's pace, not a wait for a condition
  }
  ASSERT_TRUE(WaitUntil([&] { return s->indexed_seq() >= last; }));
  const double elapsed_ms = absl::ToDoubleMilliseconds(absl::Now() - t0);
  EXPECT_LE(commits.load(), static_cast<uint64_t>(elapsed_ms / 10.0) + 2)
      << commits.load() << " commits for 100 synced appends in " << elapsed_ms << " ms";
}

// Between two index commits the indexer reads ahead what the log publishes
// (woken by each log sync); the commit adds those frames without reading
// them again, and a reopened log (UpdateStream) drops what was read ahead.
// The index is exact either way.
TEST(Store, FramesReadAheadBetweenCommitsAreIndexedExactly) {
  Fixture f;
  StoreOptions o = f.Options();
  o.index_commit_gap = std::chrono::hours(1);  // after the first commit, none until the log is reopened
  o.index_quiet_commit = std::chrono::hours(1);
  auto store = Store::Open(f.data, o);
  ASSERT_TRUE(store.ok()) << store.status();
  StreamConfig config = Config("RA", engine::SyncMode::kAlways);
  StoredStream* s = *(*store)->CreateStream(config);
  std::mt19937_64 rng(5);
  std::map<std::string, uint64_t> last;
  auto append = [&](int n) {
    uint64_t seq = 0;
    for (int i = 0; i < n; ++i) {
      const std::string subject = "RA.s" + std::to_string(rng() % 13);
      seq = *s->Append({subject, "", PayloadFor(seq + 1, rng() % 500), 0});
      last[subject] = seq;
    }
    return seq;
  };
  ASSERT_EQ(append(1), 1u);
  ASSERT_TRUE(WaitUntil([&] { return s->indexed_seq() == 1; }));  // the first commit comes at once
  const uint64_t end1 = append(600);
  ASSERT_TRUE(s->log().WaitDurable(end1, absl::Seconds(30)).ok());
  ASSERT_TRUE(WaitUntil([&] { return s->staged_frames() == 600; })) << s->staged_frames();
  EXPECT_EQ(s->indexed_seq(), 1u);  // within the gap: read ahead, not committed
  config.retention.max_msgs = 1'000'000;
  const uint64_t commits = s->indexer_commits();
  ASSERT_TRUE((*store)->UpdateStream(config).ok());  // closes and reopens the log
  EXPECT_EQ(s->indexed_seq(), end1);
  EXPECT_EQ(s->staged_frames(), 0u);
  // The restarted indexer's first commit comes at once; appends that are
  // durable before it would be committed by it, not read ahead.
  ASSERT_TRUE(WaitUntil([&] { return s->indexer_commits() > commits; }));
  const uint64_t end2 = append(300);
  ASSERT_TRUE(s->log().WaitDurable(end2, absl::Seconds(30)).ok());
  ASSERT_TRUE(WaitUntil([&] { return s->staged_frames() == 300; })) << s->staged_frames();
  ASSERT_TRUE((*store)->Close().ok());

  auto reopened = f.Open();
  s = reopened->Find("RA");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->indexed_seq(), end2);
  for (const auto& [subject, seq] : last) EXPECT_EQ(s->LastSequenceOf(subject), seq) << subject;
  Written w;
  auto r = *engine::Reader::Open(s->dir());
  engine::Record rec;
  while (r->Next(&rec).ok()) w.ts.push_back(rec.timestamp_ns);
  ASSERT_EQ(w.ts.size(), end2);
  CheckSeeks(s, w, 6);
}

TEST(Store, RetentionPrunesTheIndexWithTheSameCommit) {
  Fixture f;
  auto store = f.Open();
  StreamConfig c = Config("R", engine::SyncMode::kAlways);
  c.retention.max_msgs = 500;
  StoredStream* s = *store->CreateStream(c);
  uint64_t last = 0;
  // In chunks that are indexed before they expire, so that there is
  // something to prune.
  for (uint64_t i = 1; i <= 6000; ++i) {
    last = *s->Append({"R.x", "", PayloadFor(i, 400), 0});
    if (i % 100 != 0) continue;
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (s->indexed_seq() < last && absl::Now() < deadline) absl::SleepFor(absl::Microseconds(200));
    ASSERT_EQ(s->indexed_seq(), last);
  }
  const uint64_t first = s->log().first_seq();
  ASSERT_EQ(first, 5501u);
  uint64_t below = 0, total = 0;
  ASSERT_TRUE(store->env()
                  .Read([&](MDB_txn* txn) {
                    for (const char* name : {kSeqDb, kTimeDb}) {
                      MDB_cursor* cur;
                      mdb_cursor_open(txn, store->env().db(name), &cur);
                      MDB_val k, v;
                      for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
                           rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
                        uint32_t stream = 0;
                        uint64_t x = 0;
                        StreamU64Key::Parse(k, &stream, &x);
                        const uint64_t seq = std::string(name) == kSeqDb
                                                 ? x
                                                 : engine::DecodeFixed64(static_cast<const char*>(v.mv_data));
                        ++total;
                        // The entry a seek at `first` starts from may sit just below it.
                        if (seq + 20 < first) ++below;
                      }
                      mdb_cursor_close(cur);
                    }
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_GT(total, 0u);
  EXPECT_EQ(below, 0u);
  auto r = *engine::Reader::Open(s->dir());
  engine::Record rec;
  ASSERT_TRUE(s->Seek(r.get(), 5600).ok());
  ASSERT_TRUE(r->Next(&rec).ok());
  EXPECT_EQ(rec.sequence, 5600u);
}

TEST(Store, OneStorePerDataDirectory) {
  Fixture f;
  auto store = f.Open();
  absl::StatusOr<std::unique_ptr<Store>> second = Store::Open(f.data, f.Options());
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsUnavailable(second.status()));
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("in use by pid " + std::to_string(::getpid())));
}

TEST(Store, CreateIsIdempotentDeleteRemovesEverything) {
  Fixture f;
  auto store = f.Open();
  StoredStream* a = *store->CreateStream(Config("A"));
  EXPECT_EQ(*store->CreateStream(Config("A")), a);
  StreamConfig other = Config("A");
  other.retention.max_msgs = 5;
  EXPECT_TRUE(absl::IsAlreadyExists(store->CreateStream(other).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(store->CreateStream(Config("../evil")).status()));
  StreamConfig bad = Config("B");
  bad.segment_size = 1000;
  EXPECT_TRUE(absl::IsInvalidArgument(store->CreateStream(bad).status()));
  const uint32_t first_no = a->entry().stream_no;
  Fill(a, 100, 6);
  ASSERT_TRUE(store->DeleteStream("A").ok());
  EXPECT_FALSE(std::filesystem::exists(f.data + "/streams/A"));
  EXPECT_TRUE(absl::IsNotFound(store->DeleteStream("A")));
  StoredStream* again = *store->CreateStream(Config("A"));
  EXPECT_NE(again->entry().stream_no, first_no);
  EXPECT_EQ(again->log().last_seq(), 0u);
  EXPECT_EQ(again->indexed_seq(), 0u);
  ASSERT_TRUE(store->Close().ok());
  store.reset();
  store = f.Open();
  EXPECT_EQ(store->Names(), std::vector<std::string>{"A"});
}


TEST(Store, DeleteMessagesInOneBatchAndPurgeSurviveReopen) {
  Fixture f;
  {
    auto store = f.Open();
    StoredStream* s = *store->CreateStream(Config("P"));
    Fill(s, 100, 7);
    const std::vector<uint64_t> seqs = {5, 6, 7, 9, 9, 50, 200, 0};
    absl::StatusOr<size_t> n = s->DeleteMessages(seqs, false);
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(*n, 5u);  // 9 twice, 200 and 0 are not in the stream
    EXPECT_EQ(s->num_messages(), 95u);
    EXPECT_TRUE(s->IsDeleted(6) && s->IsDeleted(50) && !s->IsDeleted(8));
    EXPECT_EQ(*s->DeleteMessages(seqs, true), 0u);  // all gone already
    EXPECT_TRUE(absl::IsNotFound(s->DeleteMessage(7)));
    ASSERT_TRUE(s->DeleteMessage(8).ok());
    absl::StatusOr<uint64_t> purged = s->PurgeBefore(41);  // 1..40 minus 5..9 deleted
    ASSERT_TRUE(purged.ok());
    EXPECT_EQ(*purged, 35u);
    EXPECT_EQ(s->log().first_seq(), 41u);
    EXPECT_EQ(s->num_messages(), 59u);  // 41..100 without 50
    ASSERT_TRUE(store->Close().ok());
  }
  auto store = f.Open();
  StoredStream* s = store->Find("P");
  EXPECT_EQ(s->num_messages(), 59u);
  EXPECT_EQ(s->log().first_seq(), 41u);
  EXPECT_TRUE(s->IsDeleted(50));
  EXPECT_EQ(*s->PurgeBefore(UINT64_MAX), 59u);  // everything
  EXPECT_EQ(s->num_messages(), 0u);
  EXPECT_EQ(s->log().first_seq(), 101u);
  EXPECT_EQ(*s->Append({"P.x", "", "after", 0}), 101u);  // sequences go on
  EXPECT_EQ(s->num_messages(), 1u);
}

}  // namespace
}  // namespace shortbus::index
