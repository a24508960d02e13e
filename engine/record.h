// What goes into a stream and what comes out of it.
#ifndef SHORTBUS_ENGINE_RECORD_H_
#define SHORTBUS_ENGINE_RECORD_H_

#include <cstdint>
#include <string_view>

namespace shortbus::engine {

// Input to Log::Append. The views need only live for the call.
struct Message {
  std::string_view subject;  // non-empty, at most 65535 bytes
  std::string_view headers;  // raw NATS header block, may be empty
  std::string_view payload;
  // 0 = now. Timestamps in a stream never decrease: an earlier value is
  // raised to the last one appended.
  int64_t timestamp_ns = 0;
};

// Output of Reader::Next. The views point into the segment mapping (zero
// copy) or, for a compressed payload, into the reader's buffer; they stay
// valid until the next call on the same Reader.
struct Record {
  uint64_t sequence = 0;
  int64_t timestamp_ns = 0;
  std::string_view subject;
  std::string_view headers;
  std::string_view payload;
  // Where the frame lies: the base sequence of its segment, its offset in
  // the segment file, and the bytes it occupies (padding included). What an
  // index stores to seek straight back to it (Reader::SeekToPosition).
  uint64_t segment_base = 0;
  uint64_t offset = 0;
  uint64_t frame_bytes = 0;
};

}  // namespace shortbus::engine

#endif  // SHORTBUS_ENGINE_RECORD_H_
