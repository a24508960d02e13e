// One record of a segment, as it lies on disk. docs/format.md is the byte
// truth; this header is its code.
//
// Frame (all integers little-endian, frame start 8-byte aligned):
//   off size field
//     0    4  frame_len    bytes from offset 0 to the end of the payload
//                          (unpadded); 0 marks the end of written data
//     4    4  flags        bit 0: payload is LZ4 block-compressed
//     8    8  checksum     XXH3-64 of bytes [16, frame_len) with
//                          seed = frame_len | (uint64(flags) << 32)
//    16    8  sequence     contiguous from the stream's first, never reused
//    24    8  timestamp    ns since the Unix epoch, non-decreasing in a stream
//    32    2  subject_len
//    34    2  reserved     0
//    36    4  headers_len  NATS header block (NATS/1.0 ...), may be 0
//    40    4  stored_len   payload bytes as stored (compressed if bit 0)
//    44    4  payload_len  payload bytes once decompressed
//    48       subject, headers, stored payload
//   then zero padding up to the next multiple of 8.
//
// Every byte of the frame is covered by the checksum: bytes [0, 8) through
// the seed, the rest by the hash input.
#ifndef SHORTBUS_ENGINE_FRAME_H_
#define SHORTBUS_ENGINE_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace shortbus::engine {

inline constexpr size_t kFrameHeaderSize = 48;
inline constexpr size_t kFrameAlign = 8;
inline constexpr uint32_t kFrameFlagLz4 = 1u << 0;
inline constexpr uint32_t kFrameKnownFlags = kFrameFlagLz4;
inline constexpr size_t kMaxSubjectLen = 0xffff;

// A decoded frame. Views point into the bytes passed to DecodeFrame and live
// as long as they do; `payload` is the stored (possibly compressed) payload.
struct FrameView {
  uint32_t frame_len = 0;  // unpadded
  uint32_t flags = 0;
  uint64_t sequence = 0;
  int64_t timestamp_ns = 0;
  std::string_view subject;
  std::string_view headers;
  std::string_view stored_payload;
  uint32_t payload_len = 0;  // decompressed length

  bool compressed() const { return (flags & kFrameFlagLz4) != 0; }
  // Bytes this frame occupies in the segment, padding included.
  uint64_t padded_len() const { return (uint64_t{frame_len} + kFrameAlign - 1) & ~uint64_t{kFrameAlign - 1}; }
};

// Bytes a frame with these field lengths occupies, padding included.
uint64_t PaddedFrameSize(size_t subject_len, size_t headers_len, size_t stored_len);

// Writes the header and checksum of a frame whose subject, headers and stored
// payload the caller has already placed at dst + kFrameHeaderSize (in that
// order, back to back), and zeroes the padding. Lets the caller compress
// straight into the mapping. REQUIRES: dst 8-byte aligned, room for
// PaddedFrameSize(...) bytes.
void SealFrame(char* dst, uint32_t flags, uint64_t sequence, int64_t timestamp_ns,
               size_t subject_len, size_t headers_len, size_t stored_len, uint32_t payload_len);

// Copies subject, headers and payload into dst and seals the frame.
// Returns the padded size written.
uint64_t EncodeFrame(char* dst, uint64_t sequence, int64_t timestamp_ns, std::string_view subject,
                     std::string_view headers, std::string_view payload);

enum class FrameStatus {
  kOk,           // a whole frame with a valid checksum
  kEnd,          // frame_len == 0: the end of written data
  kTruncated,    // frame_len runs past the bytes available
  kBadLength,    // frame_len too small or fields inconsistent with it
  kBadFlags,     // unknown flag bits
  kBadChecksum,  // checksum mismatch
};

const char* FrameStatusName(FrameStatus s);

// Decodes and verifies the frame at `p`, given `avail` readable bytes from p.
// Never reads outside [p, p + avail). REQUIRES: p 8-byte aligned.
// `verify_checksum` false skips only the checksum (the lengths and flags are
// still checked): for a reader of frames this process wrote itself
// (ReaderOptions::verify_checksums).
FrameStatus DecodeFrame(const char* p, uint64_t avail, FrameView* out, bool verify_checksum = true);

// Reads only frame_len and sequence, without verifying the checksum: the
// cheap step of a scan that skips frames. Returns false where the 4-byte
// length field is 0 or the frame would not fit in `avail`.
bool PeekFrame(const char* p, uint64_t avail, uint32_t* frame_len, uint64_t* sequence);
// The timestamp field of a frame PeekFrame accepted, likewise unverified.
int64_t PeekTimestamp(const char* p);

}  // namespace shortbus::engine

#endif  // SHORTBUS_ENGINE_FRAME_H_
