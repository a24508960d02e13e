#include "index/catalog.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/engine/test_util.h"

namespace shortbus::index {
namespace {

using ::testing::HasSubstr;
using engine::testing::TempDir;

StreamConfig Sample(const std::string& name) {
  StreamConfig c;
  c.name = name;
  c.subjects = {"orders.>", "billing.*.paid"};
  c.segment_size = 1 << 20;
  c.sync = engine::SyncMode::kAlways;
  c.sync_interval = absl::Milliseconds(250);
  c.retention.max_msgs = 1000;
  c.retention.max_bytes = 1 << 30;
  c.retention.max_age = absl::Hours(24);
  c.retention.max_msg_size = 65536;
  c.retention.discard = engine::DiscardPolicy::kNew;
  c.compression = engine::Compression::kLz4;
  c.duplicate_window = absl::Seconds(30);
  c.metadata = R"({"retention":"workqueue"})";
  return c;
}

TEST(Catalog, EntryRoundTrip) {
  CatalogEntry e{7, 123456789, Sample("ORDERS")};
  absl::StatusOr<CatalogEntry> back = DecodeCatalogEntry("ORDERS", EncodeCatalogEntry(e));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->stream_no, 7u);
  EXPECT_EQ(back->created_ns, 123456789);
  EXPECT_TRUE(back->config == e.config);
}

TEST(Catalog, VersionOneEntriesWithoutMetadataAreStillRead) {
  StreamConfig c = Sample("OLD");
  c.metadata.clear();
  std::string bytes = EncodeCatalogEntry({3, 42, c});
  bytes.resize(bytes.size() - 4);  // the empty metadata's u32 length
  bytes[0] = 1;
  absl::StatusOr<CatalogEntry> back = DecodeCatalogEntry("OLD", bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->config == c);
}

TEST(Catalog, MalformedEntryIsDataLoss) {
  std::string bytes = EncodeCatalogEntry({1, 0, Sample("S")});
  EXPECT_TRUE(absl::IsDataLoss(DecodeCatalogEntry("S", bytes.substr(0, bytes.size() - 1)).status()));
  EXPECT_TRUE(absl::IsDataLoss(DecodeCatalogEntry("S", bytes + "x").status()));
  bytes[0] = 9;
  EXPECT_TRUE(absl::IsDataLoss(DecodeCatalogEntry("S", bytes).status()));
}

TEST(Catalog, AddNumbersStreamsAndPersists) {
  TempDir tmp;
  {
    auto env = *LmdbEnv::Open(tmp.Sub("index"), {}, {kStreamsDb});
    absl::StatusOr<CatalogEntry> a, b, dup;
    ASSERT_TRUE(env->Write([&](MDB_txn* txn) {
                  a = CatalogAdd(env.get(), txn, Sample("A"), 1);
                  return a.status();
                }).ok());
    ASSERT_TRUE(env->Write([&](MDB_txn* txn) {
                  b = CatalogAdd(env.get(), txn, Sample("B"), 2);
                  return b.status();
                }).ok());
    EXPECT_EQ(a->stream_no, 1u);
    EXPECT_EQ(b->stream_no, 2u);
    absl::Status s = env->Write([&](MDB_txn* txn) {
      dup = CatalogAdd(env.get(), txn, Sample("A"), 3);
      return dup.status();
    });
    EXPECT_TRUE(absl::IsAlreadyExists(s)) << s;
    // Numbers are never reused, even after a removal.
    ASSERT_TRUE(env->Write([&](MDB_txn* txn) { return CatalogRemove(env.get(), txn, "A"); }).ok());
    ASSERT_TRUE(env->Write([&](MDB_txn* txn) {
                  a = CatalogAdd(env.get(), txn, Sample("A"), 4);
                  return a.status();
                }).ok());
    EXPECT_EQ(a->stream_no, 3u);
    ASSERT_TRUE(env->Sync().ok());
  }
  auto env = *LmdbEnv::Open(tmp.Sub("index"), {}, {kStreamsDb});
  absl::StatusOr<std::vector<CatalogEntry>> all = CatalogList(*env);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].config.name, "A");
  EXPECT_EQ((*all)[0].stream_no, 3u);
  EXPECT_EQ((*all)[1].config.name, "B");
  EXPECT_TRUE((*all)[1].config == Sample("B"));
  EXPECT_TRUE(absl::IsNotFound(env->Write([&](MDB_txn* txn) { return CatalogRemove(env.get(), txn, "Z"); })));
}

TEST(Catalog, StreamNamesAreSafeDirectoryNames) {
  EXPECT_TRUE(ValidateStreamName("ORDERS_v2-eu").ok());
  for (const std::string& bad : std::vector<std::string>{"", "a/b", "..", "a b", "x.y", std::string(65, 'n'), std::string("a\0b", 3)}) {
    absl::Status s = ValidateStreamName(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << "'" << bad << "'";
  }
  EXPECT_THAT(std::string(ValidateStreamName("a/b").message()), HasSubstr("letters, digits"));
}

}  // namespace
}  // namespace shortbus::index
