#include "index/reindex.h"

#include <fcntl.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/engine/test_util.h"

namespace shortbus::index {
namespace {

using ::testing::HasSubstr;
using engine::testing::PayloadFor;
using engine::testing::TempDir;

StreamConfig Config(const std::string& name) {
  StreamConfig c;
  c.name = name;
  c.subjects = {name + ".>"};
  c.segment_size = engine::kMinSegmentSize;
  c.sync = engine::SyncMode::kNever;
  c.retention.max_msgs = 100000;
  return c;
}

void Build(const std::string& data) {
  auto store = *Store::Open(data, {});
  for (const char* name : {"A", "B"}) {
    StoredStream* s = *store->CreateStream(Config(name));
    for (uint64_t i = 1; i <= 3000; ++i) {
      ASSERT_TRUE(s->Append({std::string(name) + ".s" + std::to_string(i % 5), "", PayloadFor(i, i % 500), 0}).ok());
    }
    // Index-only state: a consumer that acknowledged 1..10, and a deletion.
    ConsumerConfig cc;
    cc.name = "C";
    Consumer* k = *s->CreateConsumer(cc, 0);
    Delivery d;
    for (uint64_t i = 1; i <= 12; ++i) ASSERT_TRUE(*k->Next(0, &d));
    for (uint64_t i = 1; i <= 10; ++i) ASSERT_TRUE(k->Ack(i).ok());
    ASSERT_TRUE(k->Commit(true).ok());
    ASSERT_TRUE(s->DeleteMessage(100).ok());
  }
  ASSERT_TRUE(store->Close().ok());
}

void CheckRestored(const std::string& data) {
  auto opened = Store::Open(data, {});
  ASSERT_TRUE(opened.ok()) << opened.status();
  auto& store = *opened;
  EXPECT_EQ(store->Names(), (std::vector<std::string>{"A", "B"}));
  StoredStream* a = store->Find("A");
  EXPECT_TRUE(a->entry().config == Config("A"));
  EXPECT_EQ(a->indexed_seq(), 3000u);
  EXPECT_EQ(a->LastSequenceOf("A.s0"), 3000u);
  EXPECT_EQ(a->LastSequenceOf("A.s4"), 2999u);
  auto r = *engine::Reader::Open(a->dir());
  engine::Record rec;
  ASSERT_TRUE(a->Seek(r.get(), 1234).ok());
  ASSERT_TRUE(r->Next(&rec).ok());
  EXPECT_EQ(rec.sequence, 1234u);
  // New streams get numbers never used before.
  StoredStream* c = *store->CreateStream(Config("C"));
  EXPECT_GT(c->entry().stream_no, std::max(a->entry().stream_no, store->Find("B")->entry().stream_no));
}

TEST(Reindex, CorruptIndexIsAClearErrorAndReindexRestoresService) {
  TempDir tmp;
  const std::string data = tmp.Sub("data");
  Build(data);
  {
    int fd = ::open((data + "/index/data.mdb").c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    std::string junk(8192, '\x77');
    ASSERT_EQ(::pwrite(fd, junk.data(), junk.size(), 0), static_cast<ssize_t>(junk.size()));
    ::close(fd);
  }
  absl::StatusOr<std::unique_ptr<Store>> broken = Store::Open(data, {});
  ASSERT_FALSE(broken.ok());
  EXPECT_TRUE(absl::IsDataLoss(broken.status())) << broken.status();
  EXPECT_THAT(std::string(broken.status().message()), HasSubstr("shortbus reindex"));
  absl::StatusOr<ReindexReport> report = Reindex(data, {});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->streams.size(), 2u);
  EXPECT_EQ(report->messages_indexed, 6000u);
  EXPECT_TRUE(report->problems.empty());
  EXPECT_TRUE(std::filesystem::exists(report->old_index));  // kept, not deleted
  // What only the index held is reported lost, not silently dropped.
  EXPECT_THAT(report->lost_index_only_state, HasSubstr("are lost"));
  EXPECT_EQ(report->consumers_restored, 0u);
  CheckRestored(data);
}

TEST(Reindex, ConsumersAndDeletionsOfAReadableIndexAreCarriedOver) {
  TempDir tmp;
  const std::string data = tmp.Sub("data");
  Build(data);
  absl::StatusOr<ReindexReport> report = Reindex(data, {});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->lost_index_only_state.empty()) << report->lost_index_only_state;
  EXPECT_EQ(report->consumers_restored, 2u);
  EXPECT_EQ(report->deleted_ranges_restored, 2u);
  CheckRestored(data);
  auto store = *Store::Open(data, {});
  for (const char* name : {"A", "B"}) {
    StoredStream* s = store->Find(name);
    EXPECT_TRUE(s->IsDeleted(100));
    Consumer* k = s->FindConsumer("C");
    ASSERT_NE(k, nullptr) << name;
    auto info = *k->Info();
    EXPECT_EQ(info.ack_floor_stream_seq, 10u);
    EXPECT_EQ(info.delivered_stream_seq, 12u);
    EXPECT_EQ(info.num_ack_pending, 2u);
  }
}

TEST(Reindex, MissingIndexIsRefusedThenRebuilt) {
  TempDir tmp;
  const std::string data = tmp.Sub("data");
  Build(data);
  std::filesystem::remove_all(data + "/index");
  absl::StatusOr<std::unique_ptr<Store>> broken = Store::Open(data, {});
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(std::string(broken.status().message()), HasSubstr("not in the index"));
  absl::StatusOr<ReindexReport> report = Reindex(data, {});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->lost_index_only_state, HasSubstr("knows none of the streams"));
  CheckRestored(data);
}

TEST(Reindex, StreamWithoutConfigIsReportedAndARunningStoreIsRespected) {
  TempDir tmp;
  const std::string data = tmp.Sub("data");
  Build(data);
  {
    auto store = *Store::Open(data, {});
    absl::StatusOr<ReindexReport> busy = Reindex(data, {});
    EXPECT_TRUE(absl::IsUnavailable(busy.status())) << busy.status();
  }
  std::filesystem::remove(data + "/streams/B/" + kStreamConfigFile);
  absl::StatusOr<ReindexReport> report = Reindex(data, {});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->streams, std::vector<std::string>{"A"});
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_THAT(report->problems[0], HasSubstr("B: "));
}

// Crash windows of CreateStream and DeleteStream leave states that open
// repairs, never refuses, and that reindex never turns back into a stream.
TEST(Reindex, CrashWindowsOfCreateAndDeleteAreRepaired) {
  TempDir tmp;
  const std::string data = tmp.Sub("data");
  Build(data);
  // Create: catalogued, but the directory never made it.
  std::filesystem::remove_all(data + "/streams/B");
  // Delete: CONFIG removed first, then the crash before the catalogue commit.
  std::filesystem::remove(data + "/streams/A/" + kStreamConfigFile);
  {
    auto opened = Store::Open(data, {});
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ((*opened)->Find("B")->log().last_seq(), 0u);  // recreated, empty
    EXPECT_TRUE(std::filesystem::exists(data + "/streams/B/" + kStreamConfigFile));
    EXPECT_TRUE(std::filesystem::exists(data + "/streams/A/" + kStreamConfigFile));  // still catalogued: restored
    ASSERT_TRUE((*opened)->DeleteStream("A").ok());
  }
  absl::StatusOr<ReindexReport> report = Reindex(data, {});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->streams, std::vector<std::string>{"B"});
}

}  // namespace
}  // namespace shortbus::index
