// The first 4 KiB of every segment file. docs/format.md is the byte truth.
//
// Identity (written once at creation, covered by its own checksum):
//   off size field
//     0    8  magic          "SHBUSSEG"
//     8    4  version        kSegmentFormatVersion
//    12    4  data_offset    where the first frame starts (4096)
//    16   16  stream_id      the stream's identity (random, from STREAM)
//    32    8  base_seq       sequence of the first frame in this segment
//    40    8  created_ns     creation time, ns since the Unix epoch
//    48    8  segment_size   file size at creation
//    56    8  checksum       XXH3-64 of bytes [0, 56)
//
// Live words (shared-memory words, never trusted by recovery):
//    64    8  committed_end  end offset of the last whole committed frame;
//                            the writer stores it with release order,
//                            readers load it with acquire order
//    72    8  sealed_hint    1 once the writer has moved to the next segment
//
// Sync record (written by the syncer only after the data it describes was
// made durable; covered by its own checksum, so a torn write of it is seen):
//   128    8  synced_end     frames in [data_offset, synced_end) are durable
//   136    8  last_seq       sequence of the last frame before synced_end
//                            (base_seq - 1 when there is none)
//   144    8  last_ts        timestamp of that frame (0 when none)
//   152    4  flags          bit 0: sealed (synced_end is the final end)
//                            bit 1: clean (written by Close after its last
//                            sync: every byte after synced_end is zero)
//   156    4  reserved       0
//   160    8  checksum       XXH3-64 of bytes [128, 160)
// Bytes [168, 4096) are zero and reserved.
#ifndef SHORTBUS_ENGINE_SEGMENT_HEADER_H_
#define SHORTBUS_ENGINE_SEGMENT_HEADER_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace shortbus::engine {

inline constexpr uint32_t kSegmentFormatVersion = 1;
inline constexpr uint64_t kSegmentDataOffset = 4096;
// Sequences are 1..kMaxSequence: a log refuses to append past it, and a
// segment named with a base beyond it is not the stream's (recovery sets
// it aside). 2^63 - 1 leaves every sum of a sequence and a count in range.
inline constexpr uint64_t kMaxSequence = (uint64_t{1} << 63) - 1;
inline constexpr uint64_t kSegmentCommittedEndOffset = 64;
inline constexpr uint64_t kSegmentSealedHintOffset = 72;
inline constexpr uint64_t kSegmentSyncRecordOffset = 128;
inline constexpr uint64_t kSegmentSyncRecordSize = 40;
inline constexpr uint32_t kSyncFlagSealed = 1u << 0;
inline constexpr uint32_t kSyncFlagClean = 1u << 1;

using StreamId = std::array<uint8_t, 16>;

std::string StreamIdHex(const StreamId& id);

struct SegmentIdentity {
  StreamId stream_id{};
  uint64_t base_seq = 0;
  int64_t created_ns = 0;
  uint64_t segment_size = 0;
};

struct SyncRecord {
  uint64_t synced_end = kSegmentDataOffset;
  uint64_t last_seq = 0;
  int64_t last_ts = 0;
  bool sealed = false;
  bool clean = false;
};

// Writes the identity block and zeroes the live words and sync record.
// REQUIRES: hdr has kSegmentDataOffset writable bytes.
void EncodeSegmentIdentity(char* hdr, const SegmentIdentity& id);

// Verifies magic, version, data offset and checksum. Errors are DataLoss
// (or FailedPrecondition for a newer format version) naming `path`.
absl::Status DecodeSegmentIdentity(const char* hdr, const std::string& path, SegmentIdentity* out);

void EncodeSyncRecord(char* hdr, const SyncRecord& rec);
// False when the record is absent (all zero) or its checksum fails.
bool DecodeSyncRecord(const char* hdr, SyncRecord* out);

// The live words. `hdr` is the start of a mapping of the segment; the words
// are 8-byte aligned because mappings are page aligned.
inline std::atomic_ref<uint64_t> CommittedEnd(char* hdr) {
  return std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(hdr + kSegmentCommittedEndOffset));
}
inline std::atomic_ref<uint64_t> SealedHint(char* hdr) {
  return std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(hdr + kSegmentSealedHintOffset));
}

// Segment files are named by base sequence: 20 decimal digits + ".seg".
std::string SegmentFileName(uint64_t base_seq);
// Parses a name made by SegmentFileName; false for any other name.
bool ParseSegmentFileName(const std::string& name, uint64_t* base_seq);

}  // namespace shortbus::engine

#endif  // SHORTBUS_ENGINE_SEGMENT_HEADER_H_
