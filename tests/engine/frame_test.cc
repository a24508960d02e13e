#include "engine/frame.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/coding.h"

namespace shortbus::engine {
namespace {

std::vector<char> Encode(uint64_t seq, std::string_view subject, std::string_view headers,
                         std::string_view payload) {
  std::vector<char> buf(PaddedFrameSize(subject.size(), headers.size(), payload.size()) + 8, '\x7f');
  uint64_t n = EncodeFrame(buf.data(), seq, 1234567, subject, headers, payload);
  EXPECT_EQ(n, PaddedFrameSize(subject.size(), headers.size(), payload.size()));
  buf.resize(n);
  return buf;
}

TEST(Frame, RoundTrip) {
  auto buf = Encode(42, "orders.eu", "NATS/1.0\r\nA: b\r\n\r\n", "hello world");
  FrameView f;
  ASSERT_EQ(DecodeFrame(buf.data(), buf.size(), &f), FrameStatus::kOk);
  EXPECT_EQ(f.sequence, 42u);
  EXPECT_EQ(f.timestamp_ns, 1234567);
  EXPECT_EQ(f.subject, "orders.eu");
  EXPECT_EQ(f.headers, "NATS/1.0\r\nA: b\r\n\r\n");
  EXPECT_EQ(f.stored_payload, "hello world");
  EXPECT_EQ(f.payload_len, 11u);
  EXPECT_FALSE(f.compressed());
  EXPECT_EQ(f.padded_len(), buf.size());
}

TEST(Frame, SizeIsAlignedAndPaddingZeroed) {
  for (size_t len = 0; len < 20; ++len) {
    auto buf = Encode(1, "s", "", std::string(len, 'x'));
    EXPECT_EQ(buf.size() % kFrameAlign, 0u);
    const size_t used = kFrameHeaderSize + 1 + len;
    for (size_t i = used; i < buf.size(); ++i) EXPECT_EQ(buf[i], 0) << "len " << len;
  }
}

TEST(Frame, ZeroLengthIsEnd) {
  std::vector<char> zeros(64, 0);
  FrameView f;
  EXPECT_EQ(DecodeFrame(zeros.data(), zeros.size(), &f), FrameStatus::kEnd);
  EXPECT_EQ(DecodeFrame(zeros.data(), 2, &f), FrameStatus::kEnd);
}

// Every single byte of the frame is covered: flipping any bit of any byte
// (header, subject, headers, payload) is detected.
TEST(Frame, ChecksumCoversEveryByte) {
  auto good = Encode(7, "a.b", "NATS/1.0\r\n\r\n", "payload bytes");
  const size_t len = kFrameHeaderSize + 3 + 12 + 13;
  for (size_t i = 0; i < len; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      auto bad = good;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      FrameView f;
      FrameStatus st = DecodeFrame(bad.data(), bad.size(), &f);
      EXPECT_NE(st, FrameStatus::kOk) << "byte " << i << " bit " << bit;
    }
  }
}

TEST(Frame, TruncatedFrameIsReportedNotRead) {
  auto buf = Encode(1, "subj", "", std::string(100, 'p'));
  FrameView f;
  for (size_t avail = 4; avail < kFrameHeaderSize + 4 + 100; ++avail) {
    EXPECT_EQ(DecodeFrame(buf.data(), avail, &f), FrameStatus::kTruncated) << avail;
  }
}

TEST(Frame, LengthSmallerThanHeaderIsBadLength) {
  auto buf = Encode(1, "subj", "", "x");
  EncodeFixed32(buf.data(), 20);
  FrameView f;
  EXPECT_EQ(DecodeFrame(buf.data(), buf.size(), &f), FrameStatus::kBadLength);
}

TEST(Frame, InconsistentFieldLengthsAreBadLength) {
  auto buf = Encode(1, "subj", "", "xyz");
  EncodeFixed16(buf.data() + 32, 5);  // subject_len no longer adds up to frame_len
  FrameView f;
  EXPECT_EQ(DecodeFrame(buf.data(), buf.size(), &f), FrameStatus::kBadLength);
}

// Found by fuzz/segment_fuzzer (corpus oom-forged-compressed-length): a
// whole LZ4 frame claiming a huge payload made the reader allocate it
// (2 GB for one input) before the decompression failed.
TEST(Frame, CompressedLengthsOutsideWhatLz4CanProduceAreBadLength) {
  const std::string stored(10, 's');  // bytes standing for a compressed payload
  const auto frame_claiming = [&](uint32_t payload_len) {
    std::vector<char> buf(PaddedFrameSize(1, 0, stored.size()));
    buf[kFrameHeaderSize] = 'a';
    std::copy(stored.begin(), stored.end(), buf.begin() + kFrameHeaderSize + 1);
    SealFrame(buf.data(), kFrameFlagLz4, 1, 1, 1, 0, stored.size(), payload_len);
    return buf;
  };
  const auto status_of = [&](uint32_t payload_len) {
    const std::vector<char> buf = frame_claiming(payload_len);
    FrameView f;
    return DecodeFrame(buf.data(), buf.size(), &f);
  };
  EXPECT_EQ(status_of(1u << 30), FrameStatus::kBadLength);
  EXPECT_EQ(status_of(10), FrameStatus::kBadLength);  // not smaller than stored
  EXPECT_EQ(status_of(10 * 255 + 64 + 1), FrameStatus::kBadLength);
  EXPECT_EQ(status_of(10 * 255 + 64), FrameStatus::kOk);
  EXPECT_EQ(status_of(11), FrameStatus::kOk);
}

TEST(Frame, UnknownFlagsRejected) {
  auto buf = Encode(1, "subj", "", "xyz");
  EncodeFixed32(buf.data() + 4, 0x80);
  FrameView f;
  EXPECT_EQ(DecodeFrame(buf.data(), buf.size(), &f), FrameStatus::kBadFlags);
}

TEST(Frame, PeekReadsLengthAndSequenceOnly) {
  auto buf = Encode(99, "subj", "", "xyz");
  buf[kFrameHeaderSize + 5] ^= 1;  // corrupt the payload: peek does not care
  uint32_t len;
  uint64_t seq;
  ASSERT_TRUE(PeekFrame(buf.data(), buf.size(), &len, &seq));
  EXPECT_EQ(seq, 99u);
  EXPECT_EQ(len, kFrameHeaderSize + 7);
  EXPECT_EQ(PeekTimestamp(buf.data()), 1234567);
  EXPECT_FALSE(PeekFrame(buf.data(), 10, &len, &seq));
}

TEST(Frame, EmptyPayloadAndLongSubject) {
  std::string subject(kMaxSubjectLen, 's');
  auto buf = Encode(3, subject, "", "");
  FrameView f;
  ASSERT_EQ(DecodeFrame(buf.data(), buf.size(), &f), FrameStatus::kOk);
  EXPECT_EQ(f.subject.size(), kMaxSubjectLen);
  EXPECT_TRUE(f.stored_payload.empty());
}

TEST(Frame, LittleEndianOnDisk) {
  auto buf = Encode(0x0102030405060708ull, "s", "", "");
  EXPECT_EQ(static_cast<uint8_t>(buf[16]), 0x08);
  EXPECT_EQ(static_cast<uint8_t>(buf[23]), 0x01);
  EXPECT_EQ(static_cast<uint8_t>(buf[0]), kFrameHeaderSize + 1);
}

}  // namespace
}  // namespace shortbus::engine
