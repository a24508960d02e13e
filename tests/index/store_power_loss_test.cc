// Power loss under a Store: the stream's log runs on the power-loss model
// (tests/engine/power_loss_fs.h) while the index (LMDB) keeps every commit
// it made, as it does when its own syncs were honoured. A writer appends,
// a consumer delivers and acknowledges what is committed (not yet durable,
// as the server does) and commits its state; the power is cut at a random
// moment, the log loses what was not synced, and the Store is opened again:
//   - every message the log reported durable is there, readable, and the
//     log is a valid prefix;
//   - the index is caught up with the recovered log, never beyond it: seeks
//     by sequence land on the right message, last-per-subject answers match
//     the log;
//   - a consumer that had passed the new end of the log is moved back to it
//     (its delivered position and ack floor are never beyond the log), and
//     one that had not keeps its acknowledged position.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <thread>

#include "index/store.h"
#include "tests/engine/child_process.h"
#include "tests/engine/power_loss_fs.h"
#include "tests/engine/test_util.h"

namespace shortbus::index {
namespace {

using engine::testing::PayloadFor;
using engine::testing::PowerLossFileSystem;
using engine::testing::TempDir;
using Clock = std::chrono::steady_clock;

std::string SubjectFor(uint64_t seq) { return "S.k" + std::to_string(seq % 11); }
size_t LenFor(uint64_t seq) { return 20 + engine::testing::Mix(seq) % 3000; }

StreamConfig Config() {
  StreamConfig c;
  c.name = "S";
  c.subjects = {"S.>"};
  c.segment_size = engine::kMinSegmentSize;
  c.sync = engine::SyncMode::kInterval;
  c.sync_interval = absl::Milliseconds(5);
  return c;
}

TEST(StorePowerLoss, IndexAndConsumersFollowTheRecoveredLog) {
  TempDir tmp;
  const std::string data = tmp.Sub("data");
  const char* env_seed = std::getenv("SHORTBUS_POWER_SEED");
  const uint64_t seed = env_seed != nullptr ? std::strtoull(env_seed, nullptr, 10) : std::random_device{}();
  std::printf("store power loss seed=%llu (SHORTBUS_POWER_SEED to replay)\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  uint64_t durable_before = 0;  // the log's durable_seq just before the last cut
  uint64_t floor_before = 0;    // the consumer's ack floor committed and synced before the cut
  int moved_back = 0;           // cycles where the consumer had passed the recovered end
  for (int cycle = 0; cycle <= 20; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle) + " seed " + std::to_string(seed));
    PowerLossFileSystem fs;
    StoreOptions o;
    o.fs = &fs;
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(data, o);
    ASSERT_TRUE(store.ok()) << store.status();
    absl::StatusOr<StoredStream*> opened = (*store)->CreateStream(Config());
    ASSERT_TRUE(opened.ok()) << opened.status();
    StoredStream* s = *opened;
    const uint64_t last = s->log().last_seq();
    ASSERT_GE(last, durable_before) << "messages reported durable before the cut are gone";
    EXPECT_EQ(s->indexed_seq(), last) << "the index did not catch up with the recovered log";

    // The log is a valid prefix; the index agrees with it.
    auto reader = *engine::Reader::Open(s->dir());
    engine::Record rec;
    std::map<std::string, uint64_t> last_by_subject;
    for (uint64_t expect = 1; expect <= last; ++expect) {
      ASSERT_TRUE(reader->Next(&rec).ok()) << "sequence " << expect;
      ASSERT_EQ(rec.sequence, expect);
      ASSERT_EQ(rec.payload, PayloadFor(expect, LenFor(expect)));
      last_by_subject[std::string(rec.subject)] = expect;
    }
    for (const auto& [subject, seq] : last_by_subject) ASSERT_EQ(s->LastSequenceOf(subject), seq) << subject;
    for (int i = 0; i < 30 && last > 0; ++i) {
      const uint64_t seq = 1 + rng() % last;
      ASSERT_TRUE(s->Seek(reader.get(), seq).ok());
      ASSERT_TRUE(reader->Next(&rec).ok());
      ASSERT_EQ(rec.sequence, seq);
    }

    ConsumerConfig cc;
    cc.name = "C";
    cc.max_ack_pending = 100000;
    absl::StatusOr<Consumer*> c = s->CreateConsumer(cc, 0);
    ASSERT_TRUE(c.ok()) << c.status();
    absl::StatusOr<ConsumerInfo> info = (*c)->Info();
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_LE(info->delivered_stream_seq, last) << "the consumer is beyond the log";
    EXPECT_LE(info->ack_floor_stream_seq, info->delivered_stream_seq);
    EXPECT_GE(info->ack_floor_stream_seq, std::min(floor_before, last)) << "a synced ack floor went back";
    if (cycle == 20) {
      ASSERT_TRUE((*store)->Close().ok());
      break;
    }

    // Appends and consumption on this (the writer) thread; the cut comes
    // from another at a random moment.
    std::atomic<bool> cut{false};
    std::atomic<uint64_t> floor_synced{info->ack_floor_stream_seq};
    const auto wait = std::chrono::microseconds(500 + rng() % 60'000);
    std::thread cutter([&] {
      std::this_thread::sleep_for(wait);
      durable_before = s->log().durable_seq();
      floor_before = floor_synced.load();
      fs.CutPower();
      cut = true;
    });
    const auto until = Clock::now() + std::chrono::seconds(20);
    for (uint64_t seq = last + 1; !cut && Clock::now() < until; ++seq) {
      if (!s->Append({SubjectFor(seq), "", PayloadFor(seq, LenFor(seq)), 0}).ok()) break;  // the power went
      if (seq % 16 != 0) continue;
      // The consumer takes what is committed, acknowledges it, commits;
      // one commit in four synced (a confirmed acknowledgement).
      Delivery d;
      std::vector<uint64_t> got;
      while (got.size() < 64) {
        absl::StatusOr<bool> n = (*c)->Next(0, &d);
        if (!n.ok() || !*n) break;
        got.push_back(d.record.sequence);
      }
      bool acked = true;
      for (uint64_t g : got) acked = acked && (*c)->Ack(g).ok();
      EXPECT_TRUE(acked);  // (no ASSERT: the cutter thread must be joined)
      const bool sync = (seq / 16) % 4 == 0;
      if (!(*c)->Commit(sync).ok()) break;
      if (sync) {
        absl::StatusOr<ConsumerInfo> now = (*c)->Info();
        if (now.ok()) floor_synced = now->ack_floor_stream_seq;
      }
    }
    cutter.join();
    absl::StatusOr<ConsumerInfo> at_cut = (*c)->Info();
    const uint64_t passed = at_cut.ok() ? at_cut->delivered_stream_seq : 0;
    (void)(*store)->Close();  // fails: the log's disk is gone
    store->reset();
    fs.LoseUnsynced(rng);
    // Whether the consumer had passed what the log will keep is known at
    // the next open; count it there.
    if (passed > durable_before) ++moved_back;
  }
  std::printf("store power loss: 20 cuts, consumer ahead of the durable log at %d of them\n", moved_back);
}

}  // namespace
}  // namespace shortbus::index
