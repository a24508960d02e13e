#include "engine/segment_scan.h"

#include <cstring>

#include "engine/coding.h"

namespace shortbus::engine {

ScanResult ScanFrames(const char* base, uint64_t limit, uint64_t start, uint64_t expected_seq,
                      int64_t prev_ts) {
  ScanResult r;
  r.end = start;
  r.last_seq = expected_seq - 1;
  r.last_ts = prev_ts;
  uint64_t off = start;
  while (off < limit) {
    FrameView f;
    FrameStatus st = DecodeFrame(base + off, limit - off, &f);
    if (st != FrameStatus::kOk) {
      r.stop = st;
      return r;
    }
    if (f.sequence != r.last_seq + 1) {
      r.stop = FrameStatus::kBadLength;
      r.sequence_break = true;
      return r;
    }
    r.last_seq = f.sequence;
    r.last_ts = f.timestamp_ns;
    r.last_frame_off = off;
    ++r.frames;
    off += f.padded_len();
    r.end = off;
  }
  r.stop = FrameStatus::kEnd;
  return r;
}

bool IsAllZero(const char* base, uint64_t from, uint64_t to) {
  static const char kZeros[4096] = {};
  for (uint64_t off = from; off < to;) {
    uint64_t n = std::min<uint64_t>(sizeof kZeros, to - off);
    if (std::memcmp(base + off, kZeros, n) != 0) return false;
    off += n;
  }
  return true;
}

uint64_t LastNonZeroEnd(const char* base, uint64_t from, uint64_t to) {
  uint64_t end = to;
  // Skip whole zero pages from the back first; then bytes.
  while (end > from) {
    uint64_t page_start = end > 4096 ? ((end - 1) & ~uint64_t{4095}) : 0;
    if (page_start < from) page_start = from;
    if (!IsAllZero(base, page_start, end)) break;
    end = page_start;
  }
  while (end > from && base[end - 1] == 0) --end;
  return end == from ? from : AlignUp(end, 8);
}

}  // namespace shortbus::engine
