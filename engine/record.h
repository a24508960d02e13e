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
};

}  // namespace shortbus::engine

#endif  // SHORTBUS_ENGINE_RECORD_H_
