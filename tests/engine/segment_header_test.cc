#include "engine/segment_header.h"

#include <gtest/gtest.h>

#include <vector>

#include <xxhash.h>

#include "engine/coding.h"

namespace shortbus::engine {
namespace {

SegmentIdentity SampleIdentity() {
  SegmentIdentity id;
  for (size_t i = 0; i < id.stream_id.size(); ++i) id.stream_id[i] = static_cast<uint8_t>(i * 7);
  id.base_seq = 1001;
  id.created_ns = 1700000000123456789;
  id.segment_size = 1 << 20;
  return id;
}

TEST(SegmentHeader, IdentityRoundTrip) {
  std::vector<char> hdr(kSegmentDataOffset, '\x55');
  EncodeSegmentIdentity(hdr.data(), SampleIdentity());
  SegmentIdentity out;
  ASSERT_TRUE(DecodeSegmentIdentity(hdr.data(), "x.seg", &out).ok());
  EXPECT_EQ(out.stream_id, SampleIdentity().stream_id);
  EXPECT_EQ(out.base_seq, 1001u);
  EXPECT_EQ(out.created_ns, 1700000000123456789);
  EXPECT_EQ(out.segment_size, 1u << 20);
  // The live words and the sync record start zeroed.
  EXPECT_EQ(DecodeFixed64(hdr.data() + kSegmentCommittedEndOffset), 0u);
  SyncRecord rec;
  EXPECT_FALSE(DecodeSyncRecord(hdr.data(), &rec));
}

TEST(SegmentHeader, EveryIdentityByteIsChecked) {
  std::vector<char> good(kSegmentDataOffset);
  EncodeSegmentIdentity(good.data(), SampleIdentity());
  for (size_t i = 0; i < 64; ++i) {
    auto bad = good;
    bad[i] ^= 0x10;
    SegmentIdentity out;
    absl::Status s = DecodeSegmentIdentity(bad.data(), "x.seg", &out);
    EXPECT_FALSE(s.ok()) << "byte " << i;
  }
}

TEST(SegmentHeader, BadMagicSaysNotASegment) {
  std::vector<char> hdr(kSegmentDataOffset, 0);
  SegmentIdentity out;
  absl::Status s = DecodeSegmentIdentity(hdr.data(), "x.seg", &out);
  EXPECT_TRUE(absl::IsDataLoss(s));
  EXPECT_NE(s.message().find("not a shortbus segment"), absl::string_view::npos) << s;
}

TEST(SegmentHeader, NewerVersionIsFailedPrecondition) {
  std::vector<char> hdr(kSegmentDataOffset);
  EncodeSegmentIdentity(hdr.data(), SampleIdentity());
  EncodeFixed32(hdr.data() + 8, kSegmentFormatVersion + 1);
  EncodeFixed64(hdr.data() + 56, XXH3_64bits(hdr.data(), 56));  // a valid header of a newer build
  SegmentIdentity out;
  absl::Status s = DecodeSegmentIdentity(hdr.data(), "x.seg", &out);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(s.message().find("format version 2"), absl::string_view::npos) << s;
}

TEST(SegmentHeader, SyncRecordRoundTripAndTornWrite) {
  std::vector<char> hdr(kSegmentDataOffset);
  EncodeSegmentIdentity(hdr.data(), SampleIdentity());
  EncodeSyncRecord(hdr.data(), SyncRecord{8192, 1500, 77, false, true});
  SyncRecord rec;
  ASSERT_TRUE(DecodeSyncRecord(hdr.data(), &rec));
  EXPECT_FALSE(rec.sealed);
  EXPECT_TRUE(rec.clean);
  EncodeSyncRecord(hdr.data(), SyncRecord{8192, 1500, 77, true, false});
  ASSERT_TRUE(DecodeSyncRecord(hdr.data(), &rec));
  EXPECT_FALSE(rec.clean);
  EXPECT_EQ(rec.synced_end, 8192u);
  EXPECT_EQ(rec.last_seq, 1500u);
  EXPECT_EQ(rec.last_ts, 77);
  EXPECT_TRUE(rec.sealed);
  for (size_t i = 0; i < kSegmentSyncRecordSize; ++i) {
    auto bad = hdr;
    bad[kSegmentSyncRecordOffset + i] ^= 1;
    EXPECT_FALSE(DecodeSyncRecord(bad.data(), &rec)) << "byte " << i;
  }
}

TEST(SegmentHeader, FileNames) {
  EXPECT_EQ(SegmentFileName(1), "00000000000000000001.seg");
  EXPECT_EQ(SegmentFileName(18446744073709551615ull), "18446744073709551615.seg");
  uint64_t base = 0;
  EXPECT_TRUE(ParseSegmentFileName("00000000000000001000.seg", &base));
  EXPECT_EQ(base, 1000u);
  EXPECT_FALSE(ParseSegmentFileName("00000000000000000000.seg", &base));
  EXPECT_FALSE(ParseSegmentFileName("0000000000000000100.seg", &base));
  EXPECT_FALSE(ParseSegmentFileName("0000000000000000100x.seg", &base));
  EXPECT_FALSE(ParseSegmentFileName("00000000000000001000.seg.bad", &base));
  EXPECT_FALSE(ParseSegmentFileName("99999999999999999999.seg", &base));  // overflows u64
  EXPECT_FALSE(ParseSegmentFileName("next.seg.tmp", &base));
}

}  // namespace
}  // namespace shortbus::engine
