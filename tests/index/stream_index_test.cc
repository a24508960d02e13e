#include "index/stream_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "engine/log.h"
#include "engine/reader.h"
#include "engine/segment_header.h"
#include "index/keys.h"
#include "tests/engine/test_util.h"

namespace shortbus::index {
namespace {

using engine::Log;
using engine::Reader;
using engine::Record;
using engine::testing::PayloadFor;
using engine::testing::TempDir;

struct Truth {
  uint64_t seq;
  int64_t ts;
  std::string subject;
};

constexpr uint64_t kSparse = 4096;

std::unique_ptr<LmdbEnv> OpenEnv(const std::string& dir) {
  auto env = LmdbEnv::Open(dir, {}, {kSeqDb, kTimeDb, kSubjectsDb, kProgressDb, kSegmentsDb});
  EXPECT_TRUE(env.ok()) << env.status();
  return std::move(*env);
}

// Indexes the log from what `idx` has indexed to the end, committing every
// `batch` records (a random batch when 0).
void IndexLog(LmdbEnv* env, StreamIndex* idx, const std::string& log_dir, std::mt19937_64* rng, size_t batch) {
  auto r = *Reader::Open(log_dir);
  const IndexProgress& p = idx->progress();
  if (p.indexed_seq != 0) {
    ASSERT_TRUE(r->SeekToPosition(p.segment_base, p.next_offset, p.indexed_seq + 1).ok());
  }
  Record rec;
  size_t in_batch = 0, limit = batch != 0 ? batch : 1 + (*rng)() % 700;
  auto commit = [&] {
    absl::Status s = env->Write([&](MDB_txn* txn) { return idx->WriteBatch(txn); });
    ASSERT_TRUE(s.ok()) << s;
    idx->Committed();
  };
  while (r->Next(&rec).ok()) {
    idx->Add(rec);
    if (++in_batch == limit) {
      commit();
      in_batch = 0;
      limit = batch != 0 ? batch : 1 + (*rng)() % 700;
    }
  }
  if (idx->has_pending()) commit();
}

std::vector<std::pair<std::string, std::string>> Dump(LmdbEnv* env) {
  std::vector<std::pair<std::string, std::string>> out;
  EXPECT_TRUE(env->Read([&](MDB_txn* txn) {
                  for (const char* name : {kSeqDb, kTimeDb, kSubjectsDb, kProgressDb, kSegmentsDb}) {
                    MDB_cursor* cur;
                    mdb_cursor_open(txn, env->db(name), &cur);
                    MDB_val k, v;
                    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
                         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
                      out.emplace_back(std::string(name) + ":" + std::string(ViewOf(k)), std::string(ViewOf(v)));
                    }
                    mdb_cursor_close(cur);
                  }
                  return absl::OkStatus();
                }).ok());
  return out;
}

class StreamIndexTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    rng_.seed(static_cast<uint64_t>(GetParam()) * 7919 + 1);
    log_dir_ = tmp_.Sub("stream");
    auto log = *Log::Open(log_dir_, engine::testing::SmallOptions());
    int64_t ts = 1'000'000'000;
    const uint64_t n = 8000 + rng_() % 8000;
    for (uint64_t i = 1; i <= n; ++i) {
      ts += static_cast<int64_t>(rng_() % 3);  // equal timestamps happen
      std::string subject = "orders." + std::to_string(rng_() % 17);
      const size_t len = rng_() % 10 == 0 ? 2000 + rng_() % 6000 : rng_() % 300;
      ASSERT_TRUE(log->Append({subject, "", PayloadFor(i, len), ts}).ok());
      truth_.push_back({i, ts, subject});
    }
    ASSERT_TRUE(log->Close().ok());
  }

  TempDir tmp_;
  std::string log_dir_;
  std::vector<Truth> truth_;
  std::mt19937_64 rng_;
};

TEST_P(StreamIndexTest, SeeksMatchABruteForceScan) {
  auto env = OpenEnv(tmp_.Sub("index"));
  StreamIndex idx(env.get(), 1, kSparse);
  ASSERT_TRUE(idx.Load().ok());
  IndexLog(env.get(), &idx, log_dir_, &rng_, 0);
  EXPECT_EQ(idx.progress().indexed_seq, truth_.size());

  auto r = *Reader::Open(log_dir_);
  Record rec;
  for (int i = 0; i < 300; ++i) {
    const uint64_t seq = 1 + rng_() % truth_.size();
    absl::StatusOr<IndexPosition> pos = idx.SeekSequence(seq);
    ASSERT_TRUE(pos.ok()) << pos.status();
    ASSERT_LE(pos->seq, seq);
    ASSERT_TRUE(r->SeekToPosition(pos->segment_base, pos->offset, seq).ok());
    ASSERT_TRUE(r->Next(&rec).ok());
    ASSERT_EQ(rec.sequence, seq);
    // Sparse: the scan from the entry covers at most sparse_bytes of frames
    // before the frame that crossed the threshold (one frame of slack).
    if (rec.segment_base == pos->segment_base) {
      ASSERT_LE(rec.offset - pos->offset, kSparse + 8200) << seq;
    }
  }
  for (int i = 0; i < 300; ++i) {
    const int64_t t = truth_.front().ts - 2 + static_cast<int64_t>(rng_() % (truth_.back().ts - truth_.front().ts + 5));
    auto want = std::lower_bound(truth_.begin(), truth_.end(), t,
                                 [](const Truth& x, int64_t v) { return x.ts < v; });
    absl::StatusOr<IndexPosition> pos = idx.SeekTime(t);
    if (pos.ok()) {
      ASSERT_TRUE(r->SeekToPosition(pos->segment_base, pos->offset, pos->seq).ok());
    } else {
      ASSERT_TRUE(absl::IsNotFound(pos.status()));
      ASSERT_TRUE(r->SeekToSequence(1).ok());
    }
    absl::Status s;
    while ((s = r->Next(&rec)).ok() && rec.timestamp_ns < t) {
    }
    if (want == truth_.end()) {
      ASSERT_TRUE(engine::IsEndOfData(s));
    } else {
      ASSERT_TRUE(s.ok()) << s;
      ASSERT_EQ(rec.sequence, want->seq) << "time " << t;
    }
  }
  std::map<std::string, SubjectState> subjects;
  for (const Truth& t : truth_) {
    subjects[t.subject].last_seq = t.seq;
    ++subjects[t.subject].count;
  }
  for (const auto& [subject, st] : subjects) {
    absl::StatusOr<SubjectState> got = idx.Subject(subject);
    ASSERT_TRUE(got.ok()) << subject;
    EXPECT_EQ(got->last_seq, st.last_seq);
    EXPECT_EQ(got->count, st.count);
  }
  EXPECT_TRUE(absl::IsNotFound(idx.Subject("never.seen").status()));
}

TEST_P(StreamIndexTest, SegmentTableDescribesEverySegmentAndIsPruned) {
  auto env = OpenEnv(tmp_.Sub("index"));
  StreamIndex idx(env.get(), 4, kSparse);
  ASSERT_TRUE(idx.Load().ok());
  IndexLog(env.get(), &idx, log_dir_, &rng_, 0);
  const std::vector<uint64_t> bases = engine::testing::SegmentBases(log_dir_);
  ASSERT_GT(bases.size(), 2u);
  auto table = idx.Segments();
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_EQ(table->size(), bases.size());
  uint64_t next = 1;
  for (size_t i = 0; i < bases.size(); ++i) {
    const SegmentInfo& g = (*table)[i];
    SCOPED_TRACE(g.file);
    EXPECT_EQ(g.base, bases[i]);
    EXPECT_EQ(g.first_seq, next);
    EXPECT_EQ(g.file, engine::SegmentFileName(bases[i]));
    EXPECT_EQ(g.sealed, i + 1 < bases.size());
    EXPECT_EQ(g.first_ts, truth_[g.first_seq - 1].ts);
    EXPECT_EQ(g.last_ts, truth_[g.last_seq - 1].ts);
    EXPECT_GT(g.bytes, engine::kSegmentDataOffset);
    next = g.last_seq + 1;
  }
  EXPECT_EQ(next, truth_.size() + 1);
  // Retention past the second segment's end: the first two records go.
  const uint64_t first = (*table)[1].last_seq + 1;
  ASSERT_TRUE(env->Write([&](MDB_txn* txn) { return idx.PruneBelow(txn, first); }).ok());
  auto pruned = *idx.Segments();
  ASSERT_EQ(pruned.size(), bases.size() - 2);
  EXPECT_EQ(pruned.front().base, bases[2]);
}

TEST_P(StreamIndexTest, RebuiltIndexEqualsMaintainedIndex) {
  auto env = OpenEnv(tmp_.Sub("index"));
  StreamIndex idx(env.get(), 3, kSparse);
  ASSERT_TRUE(idx.Load().ok());
  IndexLog(env.get(), &idx, log_dir_, &rng_, 0);  // random batches, as while appending
  const auto maintained = Dump(env.get());
  ASSERT_FALSE(maintained.empty());
  ASSERT_TRUE(env->Write([&](MDB_txn* txn) { return idx.DropAll(txn); }).ok());
  EXPECT_TRUE(Dump(env.get()).empty());
  IndexLog(env.get(), &idx, log_dir_, &rng_, truth_.size());  // one batch: a reindex
  EXPECT_EQ(Dump(env.get()), maintained);
}

TEST_P(StreamIndexTest, StateSurvivesReopenAndIndexingResumes) {
  const std::string dir = tmp_.Sub("index");
  std::vector<std::pair<std::string, std::string>> full;
  {
    auto env = OpenEnv(dir);
    StreamIndex idx(env.get(), 2, kSparse);
    ASSERT_TRUE(idx.Load().ok());
    IndexLog(env.get(), &idx, log_dir_, &rng_, truth_.size());
    full = Dump(env.get());
  }
  {
    // Index half, "crash", reopen, index the rest: the same result.
    auto env = OpenEnv(tmp_.Sub("index2"));
    StreamIndex idx(env.get(), 2, kSparse);
    ASSERT_TRUE(idx.Load().ok());
    auto r = *Reader::Open(log_dir_);
    Record rec;
    for (size_t i = 0; i < truth_.size() / 2 && r->Next(&rec).ok(); ++i) idx.Add(rec);
    ASSERT_TRUE(env->Write([&](MDB_txn* txn) { return idx.WriteBatch(txn); }).ok());
    idx.Committed();
    ASSERT_TRUE(env->Sync().ok());
  }
  auto env = OpenEnv(tmp_.Sub("index2"));
  StreamIndex idx(env.get(), 2, kSparse);
  ASSERT_TRUE(idx.Load().ok());
  EXPECT_EQ(idx.progress().indexed_seq, truth_.size() / 2);
  IndexLog(env.get(), &idx, log_dir_, &rng_, 0);
  EXPECT_EQ(Dump(env.get()), full);
}

// Read-ahead: frames staged in chunks and added up to random sequences
// (a log's durable end) give the same index as frames added one by one,
// across segment changes and sequence gaps (here: frames left out, as a
// reader leaves out damaged ones), and when the staged frames are dropped
// and read again from read_end() (a log reopened).
TEST_P(StreamIndexTest, StagedFramesIndexAsAddedOnes) {
  auto kept = [](uint64_t seq) { return seq % 97 != 0 && seq % 101 != 3; };
  auto env = OpenEnv(tmp_.Sub("added"));
  StreamIndex added(env.get(), 4, kSparse);
  ASSERT_TRUE(added.Load().ok());
  {
    auto r = *Reader::Open(log_dir_);
    Record rec;
    while (r->Next(&rec).ok()) {
      if (kept(rec.sequence)) added.Add(rec);
    }
    ASSERT_TRUE(env->Write([&](MDB_txn* txn) { return added.WriteBatch(txn); }).ok());
    added.Committed();
  }
  auto env2 = OpenEnv(tmp_.Sub("staged"));
  StreamIndex staged(env2.get(), 4, kSparse);
  ASSERT_TRUE(staged.Load().ok());
  auto r = *Reader::Open(log_dir_);
  const uint64_t last = truth_.back().seq;
  uint64_t durable = 0;
  Record rec;
  bool more = true;
  for (size_t rounds = 0; more || staged.staged() > 0; ++rounds) {
    ASSERT_LT(rounds, truth_.size()) << "staged frames never added";
    // Stage a chunk.
    for (size_t n = 1 + rng_() % 900; more && n > 0;) {
      more = r->Next(&rec).ok();
      if (more && kept(rec.sequence)) {
        staged.Stage(rec);
        ASSERT_EQ(staged.read_end().indexed_seq, rec.sequence);
        ASSERT_EQ(staged.read_end().next_offset, rec.offset + rec.frame_bytes);
        --n;
      }
    }
    // The log syncs somewhere up to what was read; commit up to there.
    const uint64_t read = staged.read_end().indexed_seq;
    durable = std::max(durable, std::min(last, durable + rng_() % (read - durable + 50)));
    staged.AddStaged(durable);
    ASSERT_LE(staged.staged_held(), 2 * staged.staged()) << "the added prefix is not dropped";
    if (staged.has_pending()) {
      ASSERT_TRUE(env2->Write([&](MDB_txn* txn) { return staged.WriteBatch(txn); }).ok());
      staged.Committed();
    }
    if (rng_() % 8 == 0 && more) {
      // Reopened: what was staged is dropped, and read again from read_end().
      staged.DropStaged();
      const IndexProgress e = staged.read_end();
      ASSERT_EQ(e.indexed_seq, staged.progress().indexed_seq);
      ASSERT_TRUE((e.indexed_seq == 0 ? r->SeekToSequence(1)
                                      : r->SeekToPosition(e.segment_base, e.next_offset, e.indexed_seq + 1))
                      .ok());
    }
    if (!more && staged.staged() > 0) durable = last;
  }
  EXPECT_EQ(staged.progress().indexed_seq, added.progress().indexed_seq);
  EXPECT_EQ(Dump(env2.get()), Dump(env.get()));
  for (const char* subject : {"orders.0", "orders.16"}) {
    auto a = added.Subject(subject), b = staged.Subject(subject);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->last_seq, b->last_seq);
    EXPECT_EQ(a->count, b->count);
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, StreamIndexTest, ::testing::Range(0, 6));

}  // namespace
}  // namespace shortbus::index
