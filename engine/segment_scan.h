// Walks the frames of one segment mapping, checking each checksum and that
// sequences run on without a gap. Recovery, verify and readers share it.
#ifndef SHORTBUS_ENGINE_SEGMENT_SCAN_H_
#define SHORTBUS_ENGINE_SEGMENT_SCAN_H_

#include <cstdint>

#include "engine/frame.h"

namespace shortbus::engine {

struct ScanResult {
  uint64_t end = 0;             // offset just past the last good frame (padded)
  uint64_t last_seq = 0;        // sequence of the last good frame (expected-1 if none)
  int64_t last_ts = 0;          // its timestamp (prev_ts if none)
  uint64_t last_frame_off = 0;  // its offset (0 if none)
  uint64_t frames = 0;          // good frames seen
  // kEnd when the scan met the end-of-data marker or the end of the mapping;
  // otherwise why the frame at `end` was rejected.
  FrameStatus stop = FrameStatus::kEnd;
  bool sequence_break = false;  // the frame at `end` is whole but out of sequence
};

// Scans [start, limit) of `base` starting with a frame whose sequence must be
// `expected_seq`. Stops at the first frame that is not whole, valid and next
// in sequence. Never reads outside [base, base + limit).
// REQUIRES: start 8-byte aligned, start <= limit.
ScanResult ScanFrames(const char* base, uint64_t limit, uint64_t start, uint64_t expected_seq,
                      int64_t prev_ts);

// True when every byte of [base + from, base + to) is zero.
bool IsAllZero(const char* base, uint64_t from, uint64_t to);

// Offset just past the last non-zero byte in [from, to), rounded up to 8;
// `from` when all are zero.
uint64_t LastNonZeroEnd(const char* base, uint64_t from, uint64_t to);

}  // namespace shortbus::engine

#endif  // SHORTBUS_ENGINE_SEGMENT_SCAN_H_
