// Durable consumers through the Store: deliver policies, filters, acks,
// naks, redelivery, limits, deleted messages, and state across reopen.
#include "index/consumer.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "index/keys.h"
#include "index/store.h"
#include "tests/engine/test_util.h"

namespace shortbus::index {
namespace {

using engine::testing::TempDir;

constexpr int64_t kSecond = 1'000'000'000;

class ConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    StoreOptions o;
    o.reporter = [this](const engine::CorruptionReport& r) { reports_.push_back(r.reason); };
    auto s = Store::Open(tmp_.Sub("data"), o);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    StreamConfig c;
    c.name = "ORDERS";
    c.subjects = {"orders.>"};
    c.segment_size = engine::kMinSegmentSize;
    auto st = store_->CreateStream(c);
    ASSERT_TRUE(st.ok()) << st.status();
    stream_ = *st;
  }
  void Reopen() {
    ASSERT_TRUE(store_->Close().ok());
    store_.reset();
    Open();
  }

  // Appends `n` messages on subjects orders.<i % kinds>, with timestamps
  // i seconds apart starting at `t0`.
  void Append(int n, int kinds = 3, int64_t t0 = 0) {
    for (int i = 0; i < n; ++i) {
      const uint64_t next = stream_->log().last_seq() + 1;
      std::string subject = "orders." + std::to_string(next % kinds);
      auto seq = stream_->Append({subject, "", "p" + std::to_string(next), t0 ? t0 + int64_t(next) * kSecond : 0});
      ASSERT_TRUE(seq.ok()) << seq.status();
    }
  }

  Consumer* Create(ConsumerConfig c, int64_t now = 0) {
    auto r = stream_->CreateConsumer(c, now);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : nullptr;
  }

  // A consumer "C" with `ack_wait` that has been handed every message.
  Consumer* CreateDrained(absl::Duration ack_wait) {
    ConsumerConfig c;
    c.name = "C";
    c.ack_wait = ack_wait;
    Consumer* k = Create(c);
    if (k != nullptr) Drain(k, 0);
    return k;
  }

  // Sequences delivered by successive Next calls at `now` until none.
  std::vector<uint64_t> Drain(Consumer* c, int64_t now, size_t max = 1000) {
    std::vector<uint64_t> out;
    Delivery d;
    while (out.size() < max) {
      auto r = c->Next(now, &d);
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok() || !*r) break;
      out.push_back(d.record.sequence);
    }
    return out;
  }

  TempDir tmp_;
  std::vector<std::string> reports_;
  std::unique_ptr<Store> store_;
  StoredStream* stream_ = nullptr;
};

std::vector<uint64_t> Range(uint64_t a, uint64_t b) {
  std::vector<uint64_t> v;
  for (uint64_t i = a; i <= b; ++i) v.push_back(i);
  return v;
}

ConsumerConfig Named(const std::string& name) {
  ConsumerConfig c;
  c.name = name;
  return c;
}

TEST_F(ConsumerTest, DeliversEverythingInOrderThenWaitsForMore) {
  Append(10);
  Consumer* c = Create(Named("C"));
  EXPECT_EQ(Drain(c, 0), Range(1, 10));
  Append(5);
  EXPECT_EQ(Drain(c, 0), Range(11, 15));
  auto info = c->Info();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->delivered_stream_seq, 15u);
  EXPECT_EQ(info->delivered_consumer_seq, 15u);
  EXPECT_EQ(info->num_ack_pending, 15u);
  EXPECT_EQ(info->ack_floor_stream_seq, 0u);
  EXPECT_EQ(info->num_pending, 0u);
}

TEST_F(ConsumerTest, AckMovesTheFloorOnlyOverAContiguousPrefix) {
  Append(6);
  Consumer* c = Create(Named("C"));
  Drain(c, 0);
  ASSERT_TRUE(c->Ack(1).ok());
  ASSERT_TRUE(c->Ack(2).ok());
  ASSERT_TRUE(c->Ack(4).ok());
  EXPECT_TRUE(absl::IsNotFound(c->Ack(4)));   // twice
  EXPECT_TRUE(absl::IsNotFound(c->Ack(99)));  // never delivered
  auto info = *c->Info();
  EXPECT_EQ(info.ack_floor_stream_seq, 2u);
  EXPECT_EQ(info.ack_floor_consumer_seq, 2u);
  EXPECT_EQ(info.num_ack_pending, 3u);
  ASSERT_TRUE(c->Ack(3).ok());
  info = *c->Info();
  EXPECT_EQ(info.ack_floor_stream_seq, 4u);
  ASSERT_TRUE(c->Ack(5).ok());
  ASSERT_TRUE(c->Ack(6).ok());
  info = *c->Info();
  EXPECT_EQ(info.ack_floor_stream_seq, 6u);
  EXPECT_EQ(info.num_ack_pending, 0u);
}

TEST_F(ConsumerTest, FilterSubjectsWithWildcards) {
  for (const char* s : {"orders.eu.new", "orders.us.new", "orders.eu.paid", "orders.eu", "orders.eu.new.x"}) {
    ASSERT_TRUE(stream_->Append({s, "", "x", 0}).ok());
  }
  ConsumerConfig c = Named("EU");
  c.filter_subjects = {"orders.eu.*"};
  EXPECT_EQ(Drain(Create(c), 0), (std::vector<uint64_t>{1, 3}));
  c = Named("NEW");
  c.filter_subjects = {"orders.*.new", "orders.eu.>"};
  Consumer* n = Create(c);
  EXPECT_EQ((*n->Info()).num_pending, 4u);  // 1, 2, 3, 5
  EXPECT_EQ(Drain(n, 0), (std::vector<uint64_t>{1, 2, 3, 5}));
  c = Named("ALL");
  c.filter_subjects = {">"};
  EXPECT_EQ(Drain(Create(c), 0), Range(1, 5));
}

TEST_F(ConsumerTest, DeliverPolicies) {
  Append(9, 3, 1000 * kSecond);  // message i at (1000 + i) s
  ConsumerConfig c = Named("LAST");
  c.deliver_policy = DeliverPolicy::kLast;
  EXPECT_EQ(Drain(Create(c), 0), (std::vector<uint64_t>{9}));
  c = Named("NEW");
  c.deliver_policy = DeliverPolicy::kNew;
  Consumer* fresh = Create(c);
  EXPECT_TRUE(Drain(fresh, 0).empty());
  c = Named("FROM4");
  c.deliver_policy = DeliverPolicy::kByStartSequence;
  c.opt_start_seq = 4;
  EXPECT_EQ(Drain(Create(c), 0), Range(4, 9));
  c = Named("SINCE");
  c.deliver_policy = DeliverPolicy::kByStartTime;
  c.opt_start_seq = 0;
  c.opt_start_time_ns = (1000 + 6) * kSecond + 1;  // after message 6
  EXPECT_EQ(Drain(Create(c), 0), Range(7, 9));
  c = Named("LPS");
  c.deliver_policy = DeliverPolicy::kLastPerSubject;
  c.opt_start_time_ns = 0;
  Consumer* lps = Create(c);
  EXPECT_EQ(Drain(lps, 0), (std::vector<uint64_t>{7, 8, 9}));  // last of orders.1, .2, .0
  Append(2);
  EXPECT_EQ(Drain(fresh, 0), Range(10, 11));
  EXPECT_EQ(Drain(lps, 0), Range(10, 11));  // then everything new
}

TEST_F(ConsumerTest, LastPerSubjectWithAFilter) {
  Append(9, 3);
  ConsumerConfig c = Named("LPS1");
  c.deliver_policy = DeliverPolicy::kLastPerSubject;
  c.filter_subjects = {"orders.1"};
  EXPECT_EQ(Drain(Create(c), 0), (std::vector<uint64_t>{7}));
}

TEST_F(ConsumerTest, MaxAckPendingStopsDeliveryUntilAcked) {
  Append(10);
  ConsumerConfig c = Named("C");
  c.max_ack_pending = 3;
  Consumer* k = Create(c);
  EXPECT_EQ(Drain(k, 0), Range(1, 3));
  ASSERT_TRUE(k->Ack(2).ok());
  EXPECT_EQ(Drain(k, 0), (std::vector<uint64_t>{4}));
}

TEST_F(ConsumerTest, RedeliveryAfterAckWaitThenGivesUpAtMaxDeliver) {
  Append(3);
  ConsumerConfig c = Named("C");
  c.ack_wait = absl::Seconds(5);
  c.max_deliver = 2;
  Consumer* k = Create(c);
  EXPECT_EQ(Drain(k, 0), Range(1, 3));
  ASSERT_TRUE(k->Ack(2).ok());
  EXPECT_EQ(k->next_deadline(), 5 * kSecond);
  EXPECT_TRUE(Drain(k, 5 * kSecond - 1).empty());  // not yet
  Delivery d;
  ASSERT_TRUE(*k->Next(5 * kSecond, &d));
  EXPECT_EQ(d.record.sequence, 1u);
  EXPECT_EQ(d.deliveries, 2u);
  EXPECT_EQ(d.consumer_seq, 4u);
  EXPECT_EQ(d.record.payload, "p1");
  EXPECT_EQ(Drain(k, 5 * kSecond), (std::vector<uint64_t>{3}));
  EXPECT_EQ((*k->Info()).num_redelivered, 2u);
  // Second deadline passes: max_deliver 2 reached, both are given up.
  EXPECT_TRUE(Drain(k, 11 * kSecond).empty());
  auto info = *k->Info();
  EXPECT_EQ(info.num_ack_pending, 0u);
  EXPECT_EQ(info.num_max_delivered, 2u);
  EXPECT_EQ(info.ack_floor_stream_seq, 3u);
}

TEST_F(ConsumerTest, NakInProgressAndTerm) {
  Append(4);
  Consumer* k = CreateDrained(absl::Seconds(30));
  ASSERT_TRUE(k->Nak(1, absl::ZeroDuration(), 10).ok());         // now
  ASSERT_TRUE(k->Nak(2, absl::Seconds(2), 10).ok());             // in 2 s
  ASSERT_TRUE(k->InProgress(3, 20 * kSecond).ok());               // until 50 s
  ASSERT_TRUE(k->Term(4).ok());
  EXPECT_TRUE(absl::IsNotFound(k->Term(4)));
  EXPECT_EQ(Drain(k, 10), (std::vector<uint64_t>{1}));
  EXPECT_EQ(Drain(k, 2 * kSecond + 10), (std::vector<uint64_t>{2}));
  EXPECT_TRUE(Drain(k, 29 * kSecond).empty());  // 1 is due at 30 s, 2 at 32 s, 3 at 50 s
  EXPECT_EQ(Drain(k, 45 * kSecond), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(Drain(k, 50 * kSecond), (std::vector<uint64_t>{3}));
}

TEST_F(ConsumerTest, AckPolicyAllAndNone) {
  Append(5);
  ConsumerConfig c = Named("ALL");
  c.ack_policy = AckPolicy::kAll;
  Consumer* all = Create(c);
  Drain(all, 0);
  ASSERT_TRUE(all->Ack(3).ok());
  auto info = *all->Info();
  EXPECT_EQ(info.ack_floor_stream_seq, 3u);
  EXPECT_EQ(info.num_ack_pending, 2u);
  c = Named("NONE");
  c.ack_policy = AckPolicy::kNone;
  Consumer* none = Create(c);
  EXPECT_EQ(Drain(none, 0), Range(1, 5));
  EXPECT_EQ((*none->Info()).num_ack_pending, 0u);
  EXPECT_TRUE(Drain(none, 1000 * kSecond).empty());  // nothing is ever redelivered
  EXPECT_TRUE(absl::IsNotFound(none->Ack(1)));
}

TEST_F(ConsumerTest, DeletedMessagesAreSkippedAndStayDeleted) {
  Append(8);
  ASSERT_TRUE(stream_->DeleteMessage(3).ok());
  ASSERT_TRUE(stream_->DeleteMessage(4).ok());
  ASSERT_TRUE(stream_->DeleteMessage(7).ok());
  EXPECT_TRUE(absl::IsNotFound(stream_->DeleteMessage(7)));
  EXPECT_TRUE(absl::IsNotFound(stream_->DeleteMessage(9)));
  EXPECT_TRUE(absl::IsNotFound(stream_->DeleteMessage(0)));
  EXPECT_EQ(stream_->num_messages(), 5u);
  Consumer* k = Create(Named("C"));
  EXPECT_EQ((*k->Info()).num_pending, 5u);
  EXPECT_EQ(Drain(k, 0), (std::vector<uint64_t>{1, 2, 5, 6, 8}));
  auto reader = *engine::Reader::Open(stream_->dir());
  engine::Record rec;
  EXPECT_TRUE(absl::IsNotFound(stream_->GetMessage(4, reader.get(), &rec)));
  ASSERT_TRUE(stream_->GetMessage(5, reader.get(), &rec).ok());
  EXPECT_EQ(rec.payload, "p5");
  Reopen();
  EXPECT_TRUE(stream_->IsDeleted(3));
  EXPECT_TRUE(stream_->IsDeleted(4));
  EXPECT_FALSE(stream_->IsDeleted(5));
  EXPECT_EQ(stream_->num_messages(), 5u);
  EXPECT_EQ(stream_->DeletedIn(1, 8), 3u);
}

TEST_F(ConsumerTest, DeletingAPendingMessageDropsItAtRedelivery) {
  Append(3);
  Consumer* k = CreateDrained(absl::Seconds(1));
  ASSERT_TRUE(stream_->DeleteMessage(2).ok());
  EXPECT_EQ(Drain(k, 2 * kSecond), (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ((*k->Info()).num_ack_pending, 2u);
}

TEST_F(ConsumerTest, StateSurvivesReopenOnlyOnceCommitted) {
  Append(10);
  ConsumerConfig c = Named("C");
  c.ack_wait = absl::Seconds(10);
  Consumer* k = Create(c);
  EXPECT_EQ(Drain(k, 0, 6), Range(1, 6));
  for (uint64_t s : {1, 2, 3, 5}) ASSERT_TRUE(k->Ack(s).ok());
  ASSERT_TRUE(k->Commit(true).ok());
  EXPECT_FALSE(k->dirty());
  ASSERT_TRUE(k->Ack(4).ok());  // not committed: lost by the reopen below
  Reopen();
  k = stream_->FindConsumer("C");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->config(), c);
  auto info = *k->Info();
  EXPECT_EQ(info.delivered_stream_seq, 6u);
  EXPECT_EQ(info.ack_floor_stream_seq, 3u);
  EXPECT_EQ(info.num_ack_pending, 2u);  // 4 and 6
  EXPECT_EQ(k->next_deadline(), 10 * kSecond);
  EXPECT_EQ(Drain(k, 0), Range(7, 10));
  EXPECT_EQ(Drain(k, 10 * kSecond), (std::vector<uint64_t>{4, 6, 7, 8, 9, 10}));
}

TEST_F(ConsumerTest, StatePastTheLogEndIsMovedBackAndReported) {
  Append(5);
  Consumer* k = Create(Named("C"));
  Drain(k, 0);
  ASSERT_TRUE(k->Commit(true).ok());
  // Forge a state that saw sequences 6..9, as if the log had lost its tail.
  ConsumerState forged;
  forged.delivered_stream_seq = 9;
  forged.delivered_consumer_seq = 9;
  for (uint64_t s = 1; s <= 9; ++s) forged.pending.Add({s, s, 1, 30 * kSecond});
  std::string value;
  EncodeConsumerState(forged, &value);
  const std::string key = StreamBytesKey(stream_->entry().stream_no, "C");
  ASSERT_TRUE(store_->env()
                  .Write([&](MDB_txn* txn) {
                    MDB_val kv = ValOf(key), vv = ValOf(value);
                    return LmdbStatus(mdb_put(txn, store_->env().db(kConsumerStateDb), &kv, &vv, 0), "put");
                  })
                  .ok());
  Reopen();
  k = stream_->FindConsumer("C");
  ASSERT_NE(k, nullptr);
  auto info = *k->Info();
  EXPECT_EQ(info.delivered_stream_seq, 5u);
  EXPECT_EQ(info.num_ack_pending, 5u);
  ASSERT_FALSE(reports_.empty());
  EXPECT_NE(reports_.back().find("resuming from the log's end"), std::string::npos) << reports_.back();
  Append(2);
  EXPECT_EQ(Drain(k, 0), Range(6, 7));  // the new messages, under reused numbers, are delivered
}

TEST_F(ConsumerTest, CreateUpdateDelete) {
  ConsumerConfig c = Named("C");
  Consumer* k = Create(c);
  EXPECT_EQ(*stream_->CreateConsumer(c, 0), k);  // same config: the same consumer
  ConsumerConfig other = c;
  other.max_deliver = 3;
  EXPECT_TRUE(absl::IsAlreadyExists(stream_->CreateConsumer(other, 0).status()));
  ASSERT_TRUE(stream_->UpdateConsumer(other).ok());
  EXPECT_EQ(k->config().max_deliver, 3);
  ConsumerConfig moved = other;
  moved.deliver_policy = DeliverPolicy::kNew;
  EXPECT_TRUE(absl::IsInvalidArgument(stream_->UpdateConsumer(moved).status()));
  EXPECT_TRUE(absl::IsNotFound(stream_->UpdateConsumer(Named("nope")).status()));
  Create(Named("D"));
  EXPECT_EQ(stream_->ConsumerNames(), (std::vector<std::string>{"C", "D"}));
  ASSERT_TRUE(stream_->DeleteConsumer("C").ok());
  EXPECT_TRUE(absl::IsNotFound(stream_->DeleteConsumer("C")));
  Reopen();
  EXPECT_EQ(stream_->ConsumerNames(), (std::vector<std::string>{"D"}));
  EXPECT_EQ(stream_->FindConsumer("D")->config(), Named("D"));
}

TEST_F(ConsumerTest, InvalidConfigurationsAreRefusedWithTheField) {
  ConsumerConfig c = Named("bad name");
  EXPECT_TRUE(absl::IsInvalidArgument(stream_->CreateConsumer(c, 0).status()));
  c = Named("C");
  c.deliver_policy = DeliverPolicy::kByStartSequence;
  EXPECT_NE(stream_->CreateConsumer(c, 0).status().message().find("opt_start_seq"), std::string_view::npos);
  c = Named("C");
  c.max_deliver = 0;
  EXPECT_NE(stream_->CreateConsumer(c, 0).status().message().find("max_deliver"), std::string_view::npos);
  c = Named("C");
  c.ack_wait = absl::ZeroDuration();
  EXPECT_NE(stream_->CreateConsumer(c, 0).status().message().find("ack_wait"), std::string_view::npos);
  EXPECT_TRUE(stream_->ConsumerNames().empty());
}

TEST_F(ConsumerTest, DeletingTheStreamDeletesItsConsumersAndDeletions) {
  Append(3);
  Create(Named("C"));
  ASSERT_TRUE(stream_->DeleteMessage(2).ok());
  ASSERT_TRUE(store_->DeleteStream("ORDERS").ok());
  StreamConfig sc;
  sc.name = "ORDERS";
  sc.subjects = {"orders.>"};
  sc.segment_size = engine::kMinSegmentSize;
  stream_ = *store_->CreateStream(sc);
  EXPECT_TRUE(stream_->ConsumerNames().empty());
  Append(3);
  EXPECT_FALSE(stream_->IsDeleted(2));
  Reopen();
  EXPECT_TRUE(stream_->ConsumerNames().empty());
  EXPECT_FALSE(stream_->IsDeleted(2));
}

TEST_F(ConsumerTest, RandomAcksAgainstAModel) {
  std::mt19937_64 rng(7);
  Append(300, 5);
  ConsumerConfig c = Named("M");
  c.filter_subjects = {"orders.1", "orders.3"};
  c.max_ack_pending = 20;
  c.ack_wait = absl::Seconds(1);
  Consumer* k = Create(c);
  std::map<uint64_t, int> pending;  // seq -> deliveries
  int64_t now = 0;
  uint64_t acked = 0;
  for (int step = 0; step < 2000; ++step) {
    Delivery d;
    const int op = static_cast<int>(rng() % 4);
    if (op == 0) {
      auto r = k->Next(now, &d);
      ASSERT_TRUE(r.ok());
      if (*r) {
        EXPECT_TRUE(d.record.subject == "orders.1" || d.record.subject == "orders.3");
        pending[d.record.sequence]++;
        EXPECT_EQ(static_cast<int>(d.deliveries), pending[d.record.sequence]);
      }
    } else if (op == 1 && !pending.empty()) {
      auto it = std::next(pending.begin(), static_cast<long>(rng() % pending.size()));
      ASSERT_TRUE(k->Ack(it->first).ok());
      pending.erase(it);
      ++acked;
    } else if (op == 2) {
      now += static_cast<int64_t>(rng() % (kSecond / 2));
    } else if (op == 3 && rng() % 50 == 0) {
      ASSERT_TRUE(k->Commit(false).ok());
      Reopen();
      k = stream_->FindConsumer("M");
      ASSERT_NE(k, nullptr);
    }
    auto info = *k->Info();
    ASSERT_EQ(info.num_ack_pending, pending.size());
    ASSERT_LE(info.num_ack_pending, 20u);
    const uint64_t floor = pending.empty() ? info.delivered_stream_seq : pending.begin()->first - 1;
    ASSERT_EQ(info.ack_floor_stream_seq, floor);
  }
  EXPECT_GT(acked, 100u);
}

TEST(PendingSet, AddFindRemoveAndTrim) {
  PendingSet p;
  for (uint64_t s = 1; s <= 200; ++s) p.Add({s * 2, s, 1, 0});
  EXPECT_EQ(p.size(), 200u);
  EXPECT_EQ(p.Find(3), nullptr);
  ASSERT_NE(p.Find(4), nullptr);
  EXPECT_TRUE(p.Remove(2));
  EXPECT_FALSE(p.Remove(2));
  EXPECT_EQ(p.front()->stream_seq, 4u);
  EXPECT_EQ(p.RemoveUpTo(200), 99u);  // 4..200 even
  EXPECT_EQ(p.front()->stream_seq, 202u);
  EXPECT_EQ(p.RemoveAbove(300), 50u);  // 302..400
  EXPECT_EQ(p.size(), 50u);
  ASSERT_NE(p.Find(300), nullptr);
  EXPECT_EQ(p.Find(302), nullptr);
  p.Add({301, 999, 1, 0});
  EXPECT_EQ(p.RemoveUpTo(1000), 51u);
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(p.front(), nullptr);
}

TEST(ConsumerConfigCodec, RoundTripAndMalformed) {
  ConsumerConfig c;
  c.name = "C";
  c.description = "d";
  c.filter_subjects = {"a.*", "b.>"};
  c.deliver_policy = DeliverPolicy::kByStartTime;
  c.opt_start_time_ns = -5;
  c.ack_policy = AckPolicy::kAll;
  c.ack_wait = absl::Milliseconds(1500);
  c.max_deliver = 4;
  c.max_ack_pending = -1;
  c.deliver_subject = "push.here";
  c.deliver_group = "g";
  c.idle_heartbeat = absl::Seconds(5);
  c.flow_control = true;
  c.metadata = R"({"ephemeral":true})";
  const std::string bytes = EncodeConsumerConfig(c);
  auto back = DecodeConsumerConfig("C", bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, c);
  // A version 1 record (no metadata) still reads.
  ConsumerConfig v1 = c;
  v1.metadata.clear();
  std::string old = EncodeConsumerConfig(v1);
  old.resize(old.size() - 4);
  old[0] = 1;
  auto back_v1 = DecodeConsumerConfig("C", old);
  ASSERT_TRUE(back_v1.ok()) << back_v1.status();
  EXPECT_EQ(*back_v1, v1);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_TRUE(absl::IsDataLoss(DecodeConsumerConfig("C", bytes.substr(0, cut)).status())) << cut;
  }
  ConsumerState st;
  st.delivered_stream_seq = 3;
  st.pending.Add({2, 1, 1, 0});
  st.pending.Add({1, 1, 1, 0});  // out of order: refused when read back
  std::string sb;
  EncodeConsumerState(st, &sb);
  ConsumerState out;
  EXPECT_TRUE(absl::IsDataLoss(DecodeConsumerState(sb, &out)));
}

}  // namespace
}  // namespace shortbus::index
