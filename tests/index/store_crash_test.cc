// kill -9 of a process appending through a Store, at random moments and so
// often between a log sync and the index commit that follows it: after
// restart every acknowledged publish is there, the index covers the whole
// log, and seeks and last-per-subject answers are right.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <random>
#include <thread>

#include "index/store.h"
#include "tests/engine/child_process.h"
#include "tests/engine/test_util.h"

namespace shortbus::index {
namespace {

using engine::testing::Child;
using engine::testing::Fd;
using engine::testing::MakePipe;
using engine::testing::PayloadFor;
using engine::testing::SpawnSelf;
using engine::testing::TempDir;

constexpr char kEnvDir[] = "SHORTBUS_STORE_CRASH_DIR";
constexpr int kAckFd = 201;

StreamConfig Config() {
  StreamConfig c;
  c.name = "S";
  c.segment_size = engine::kMinSegmentSize;
  c.sync = engine::SyncMode::kAlways;
  return c;
}

std::string SubjectFor(uint64_t seq) { return "S.k" + std::to_string(seq % 13); }

// Runs child test `filter` on `data`, reads `want` reports (u64 each) from
// it, kills it, reads what was already in the pipe, and returns the
// greatest value reported (0 when none).
uint64_t RunChildThenKill(const char* filter, const std::string& data, uint64_t want) {
  Fd r, w;
  if (!MakePipe(&r, &w)) return 0;
  const pid_t pid = SpawnSelf(filter, {std::string(kEnvDir) + "=" + data}, {{w.get(), kAckFd}});
  EXPECT_GT(pid, 0);
  if (pid <= 0) return 0;
  Child child(pid);
  w.Reset();
  uint64_t best = 0;
  auto read_one = [&]() {
    char b[8];
    if (::read(r.get(), b, 8) != 8) return false;  // the child died (or was killed)
    uint64_t v;
    std::memcpy(&v, b, 8);
    best = std::max(best, v);
    return true;
  };
  for (uint64_t got = 0; got < want && read_one(); ++got) {
  }
  child.KillAndWait();
  while (read_one()) {
  }
  return best;
}

// The child: appends until killed, acknowledging each sequence the Store
// reports durable and indexed.
TEST(StoreCrashChild, Append) {
  const char* dir = std::getenv(kEnvDir);
  if (dir == nullptr) GTEST_SKIP() << "run by StoreCrash.* only";
  auto store = Store::Open(dir, {});
  if (!store.ok()) ::_exit(10);
  absl::StatusOr<StoredStream*> s = (*store)->CreateStream(Config());
  if (!s.ok()) ::_exit(11);
  (*s)->SetDurableCallback([](uint64_t seq) {
    char b[8];
    std::memcpy(b, &seq, 8);
    if (::write(kAckFd, b, 8) != 8) ::_exit(12);
  });
  for (uint64_t i = (*s)->log().last_seq() + 1;; ++i) {
    if (!(*s)->Append({SubjectFor(i), "", PayloadFor(i, 50 + i % 3000), 0}).ok()) ::_exit(13);
    // At most 64 publishes in flight, as a client with a bounded window:
    // keeps the log (and the parent's re-reading of it) small.
    while (i > 64 && (*s)->indexed_seq() < i - 64) std::this_thread::yield();
  }
}

TEST(StoreCrash, AcknowledgedPublishesAndTheIndexSurviveKill9) {
  TempDir tmp;
  const std::string data = tmp.Sub("data");
  std::mt19937_64 rng(42);
  uint64_t acked = 0;
  for (int cycle = 0; cycle < 40; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle));
    const uint64_t want = 1 + rng() % 40;  // acknowledgements before the kill
    acked = std::max(acked, RunChildThenKill("StoreCrashChild.Append", data, want));
    ASSERT_GT(acked, 0u) << "the child acknowledged nothing";

    auto store = Store::Open(data, {});
    ASSERT_TRUE(store.ok()) << store.status();
    StoredStream* s = (*store)->Find("S");
    ASSERT_NE(s, nullptr);
    const uint64_t last = s->log().last_seq();
    ASSERT_GE(last, acked);
    EXPECT_EQ(s->indexed_seq(), last);  // the index caught up with the whole log
    std::map<std::string, uint64_t> last_by_subject;
    auto reader = *engine::Reader::Open(s->dir());
    engine::Record rec;
    uint64_t expect = 1;
    while (reader->Next(&rec).ok()) {
      ASSERT_EQ(rec.sequence, expect);
      ASSERT_EQ(rec.payload, PayloadFor(expect, 50 + expect % 3000));
      last_by_subject[std::string(rec.subject)] = rec.sequence;
      ++expect;
    }
    ASSERT_EQ(expect, last + 1);
    for (const auto& [subject, seq] : last_by_subject) ASSERT_EQ(s->LastSequenceOf(subject), seq) << subject;
    for (int i = 0; i < 50; ++i) {
      const uint64_t seq = 1 + rng() % last;
      ASSERT_TRUE(s->Seek(reader.get(), seq).ok());
      ASSERT_TRUE(reader->Next(&rec).ok());
      ASSERT_EQ(rec.sequence, seq);
    }
    ASSERT_TRUE((*store)->Close().ok());
  }
}

// The child of the consumer test: a stream of 3000 messages and a consumer
// that takes batches, acknowledges them (one in seven is nak'd first and
// acknowledged on redelivery), commits each batch with a sync, and only then
// reports its ack floor: a confirmed acknowledgement.
TEST(StoreCrashChild, Consume) {
  const char* dir = std::getenv(kEnvDir);
  if (dir == nullptr) GTEST_SKIP() << "run by StoreCrash.* only";
  auto store = Store::Open(dir, {});
  if (!store.ok()) ::_exit(10);
  StreamConfig sc = Config();
  sc.sync = engine::SyncMode::kInterval;
  absl::StatusOr<StoredStream*> s = (*store)->CreateStream(sc);
  if (!s.ok()) ::_exit(11);
  for (uint64_t i = (*s)->log().last_seq() + 1; i <= 3000; ++i) {
    if (!(*s)->Append({SubjectFor(i), "", PayloadFor(i, 100), 0}).ok()) ::_exit(13);
  }
  if (!(*s)->log().Sync().ok()) ::_exit(14);
  ConsumerConfig cc;
  cc.name = "C";
  cc.filter_subjects = {"S.k1", "S.k2", "S.k3", "S.k5", "S.k8"};
  cc.max_ack_pending = 500;
  absl::StatusOr<Consumer*> c = (*s)->CreateConsumer(cc, 0);
  if (!c.ok()) ::_exit(15);
  std::mt19937_64 rng(::getpid());
  int64_t now = 0;
  while (true) {
    Delivery d;
    std::vector<uint64_t> batch;
    const size_t want = 1 + rng() % 200;
    while (batch.size() < want) {
      absl::StatusOr<bool> r = (*c)->Next(now, &d);
      if (!r.ok()) ::_exit(16);
      if (!*r) break;
      batch.push_back(d.record.sequence);
    }
    for (uint64_t seq : batch) {
      absl::Status st = seq % 7 == 0 && rng() % 2 == 0 ? (*c)->Nak(seq, absl::ZeroDuration(), now) : (*c)->Ack(seq);
      if (!st.ok()) ::_exit(17);
    }
    if (!(*c)->Commit(true).ok()) ::_exit(18);
    absl::StatusOr<ConsumerInfo> info = (*c)->Info();
    if (!info.ok()) ::_exit(19);
    uint64_t floor = info->ack_floor_stream_seq;
    char b[8];
    std::memcpy(b, &floor, 8);
    if (::write(kAckFd, b, 8) != 8) ::_exit(12);
    if (batch.empty()) {
      // Everything delivered: add a little more to consume.
      const uint64_t next = (*s)->log().last_seq() + 1;
      for (uint64_t i = next; i < next + 50; ++i) {
        if (!(*s)->Append({SubjectFor(i), "", PayloadFor(i, 100), 0}).ok()) ::_exit(13);
      }
    }
  }
}

TEST(StoreCrash, ConfirmedConsumerAcknowledgementsNeverGoBack) {
  TempDir tmp;
  const std::string data = tmp.Sub("data");
  std::mt19937_64 rng(9);
  uint64_t confirmed = 0;
  for (int cycle = 0; cycle < 25; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle));
    const uint64_t want = 1 + rng() % 30;  // confirmed batches before the kill
    confirmed = std::max(confirmed, RunChildThenKill("StoreCrashChild.Consume", data, want));
    auto store = Store::Open(data, {});
    ASSERT_TRUE(store.ok()) << store.status();
    StoredStream* s = (*store)->Find("S");
    ASSERT_NE(s, nullptr);
    Consumer* c = s->FindConsumer("C");
    if (c == nullptr) {
      ASSERT_EQ(confirmed, 0u) << "a consumer that confirmed acknowledgements vanished";
      continue;
    }
    absl::StatusOr<ConsumerInfo> info = c->Info();
    ASSERT_TRUE(info.ok()) << info.status();
    ASSERT_GE(info->ack_floor_stream_seq, confirmed);
    ASSERT_LE(info->ack_floor_stream_seq, info->delivered_stream_seq);
    ASSERT_LE(info->delivered_stream_seq, s->log().last_seq());
    ASSERT_LE(info->num_ack_pending, 500u);
    ASSERT_TRUE((*store)->Close().ok());
  }
  EXPECT_GT(confirmed, 0u);
}

}  // namespace
}  // namespace shortbus::index
