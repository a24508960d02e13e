#include "engine/frame.h"

#include <cstring>

#include <xxhash.h>

#include "engine/coding.h"

namespace shortbus::engine {
namespace {

uint64_t FrameChecksum(const char* p, uint32_t frame_len, uint32_t flags) {
  uint64_t seed = static_cast<uint64_t>(frame_len) | (static_cast<uint64_t>(flags) << 32);
  return XXH3_64bits_withSeed(p + 16, frame_len - 16, seed);
}

}  // namespace

uint64_t PaddedFrameSize(size_t subject_len, size_t headers_len, size_t stored_len) {
  return AlignUp(kFrameHeaderSize + subject_len + headers_len + stored_len, kFrameAlign);
}

void SealFrame(char* dst, uint32_t flags, uint64_t sequence, int64_t timestamp_ns,
               size_t subject_len, size_t headers_len, size_t stored_len, uint32_t payload_len) {
  const uint64_t len = kFrameHeaderSize + subject_len + headers_len + stored_len;
  const uint32_t frame_len = static_cast<uint32_t>(len);
  EncodeFixed32(dst + 0, frame_len);
  EncodeFixed32(dst + 4, flags);
  EncodeFixed64(dst + 16, sequence);
  EncodeFixed64(dst + 24, static_cast<uint64_t>(timestamp_ns));
  EncodeFixed16(dst + 32, static_cast<uint16_t>(subject_len));
  EncodeFixed16(dst + 34, 0);
  EncodeFixed32(dst + 36, static_cast<uint32_t>(headers_len));
  EncodeFixed32(dst + 40, static_cast<uint32_t>(stored_len));
  EncodeFixed32(dst + 44, payload_len);
  const uint64_t padded = AlignUp(len, kFrameAlign);
  if (padded > len) std::memset(dst + len, 0, padded - len);
  EncodeFixed64(dst + 8, FrameChecksum(dst, frame_len, flags));
}

uint64_t EncodeFrame(char* dst, uint64_t sequence, int64_t timestamp_ns, std::string_view subject,
                     std::string_view headers, std::string_view payload) {
  char* body = dst + kFrameHeaderSize;
  std::memcpy(body, subject.data(), subject.size());
  body += subject.size();
  if (!headers.empty()) std::memcpy(body, headers.data(), headers.size());
  body += headers.size();
  if (!payload.empty()) std::memcpy(body, payload.data(), payload.size());
  SealFrame(dst, 0, sequence, timestamp_ns, subject.size(), headers.size(), payload.size(),
            static_cast<uint32_t>(payload.size()));
  return PaddedFrameSize(subject.size(), headers.size(), payload.size());
}

const char* FrameStatusName(FrameStatus s) {
  switch (s) {
    case FrameStatus::kOk: return "ok";
    case FrameStatus::kEnd: return "end of data";
    case FrameStatus::kTruncated: return "frame runs past the end of the segment";
    case FrameStatus::kBadLength: return "bad frame length";
    case FrameStatus::kBadFlags: return "unknown frame flags";
    case FrameStatus::kBadChecksum: return "checksum mismatch";
  }
  return "unknown";
}

FrameStatus DecodeFrame(const char* p, uint64_t avail, FrameView* out, bool verify_checksum) {
  if (avail < 4) return FrameStatus::kEnd;
  const uint32_t frame_len = DecodeFixed32(p);
  if (frame_len == 0) return FrameStatus::kEnd;
  if (frame_len < kFrameHeaderSize) return FrameStatus::kBadLength;
  if (frame_len > avail) return FrameStatus::kTruncated;
  const uint32_t flags = DecodeFixed32(p + 4);
  const uint16_t subject_len = DecodeFixed16(p + 32);
  const uint32_t headers_len = DecodeFixed32(p + 36);
  const uint32_t stored_len = DecodeFixed32(p + 40);
  const uint32_t payload_len = DecodeFixed32(p + 44);
  const uint64_t body = uint64_t{subject_len} + headers_len + stored_len;
  if (kFrameHeaderSize + body != frame_len) return FrameStatus::kBadLength;
  if ((flags & ~kFrameKnownFlags) != 0) return FrameStatus::kBadFlags;
  if (verify_checksum && DecodeFixed64(p + 8) != FrameChecksum(p, frame_len, flags)) {
    return FrameStatus::kBadChecksum;
  }
  if (!(flags & kFrameFlagLz4) && payload_len != stored_len) return FrameStatus::kBadLength;
  // Compressed only when smaller; LZ4 expands at most about 255 times. A
  // forged length beyond that would make a reader allocate it to find out.
  if ((flags & kFrameFlagLz4) && (payload_len <= stored_len || payload_len > uint64_t{stored_len} * 255 + 64)) {
    return FrameStatus::kBadLength;
  }
  out->frame_len = frame_len;
  out->flags = flags;
  out->sequence = DecodeFixed64(p + 16);
  out->timestamp_ns = static_cast<int64_t>(DecodeFixed64(p + 24));
  const char* b = p + kFrameHeaderSize;
  out->subject = std::string_view(b, subject_len);
  out->headers = std::string_view(b + subject_len, headers_len);
  out->stored_payload = std::string_view(b + subject_len + headers_len, stored_len);
  out->payload_len = payload_len;
  return FrameStatus::kOk;
}

bool PeekFrame(const char* p, uint64_t avail, uint32_t* frame_len, uint64_t* sequence) {
  if (avail < kFrameHeaderSize) return false;
  const uint32_t len = DecodeFixed32(p);
  if (len < kFrameHeaderSize || len > avail) return false;
  *frame_len = len;
  *sequence = DecodeFixed64(p + 16);
  return true;
}

int64_t PeekTimestamp(const char* p) { return static_cast<int64_t>(DecodeFixed64(p + 24)); }

}  // namespace shortbus::engine
