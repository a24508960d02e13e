// Encoding of index values: fixed-width little-endian integers and
// length-prefixed byte strings, appended to a std::string; and a reader that
// fails once, for good, on running short. Keys are big-endian
// (index/keys.h); values are little-endian like the engine's files.
#ifndef SHORTBUS_INDEX_VALUE_CODEC_H_
#define SHORTBUS_INDEX_VALUE_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/coding.h"

namespace shortbus::index {

inline void Put8(std::string* s, uint8_t v) { s->push_back(static_cast<char>(v)); }
inline void Put32(std::string* s, uint32_t v) {
  char b[4];
  engine::EncodeFixed32(b, v);
  s->append(b, 4);
}
inline void Put64(std::string* s, uint64_t v) {
  char b[8];
  engine::EncodeFixed64(b, v);
  s->append(b, 8);
}
// u32 length, then the bytes.
inline void PutBytes(std::string* s, std::string_view bytes) {
  Put32(s, static_cast<uint32_t>(bytes.size()));
  s->append(bytes);
}

class ValueReader {
 public:
  explicit ValueReader(std::string_view b) : b_(b) {}
  uint8_t U8() { return Take(1) ? static_cast<uint8_t>(b_[pos_ - 1]) : 0; }
  uint32_t U32() { return Take(4) ? engine::DecodeFixed32(b_.data() + pos_ - 4) : 0; }
  uint64_t U64() { return Take(8) ? engine::DecodeFixed64(b_.data() + pos_ - 8) : 0; }
  int64_t I64() { return static_cast<int64_t>(U64()); }
  std::string Bytes(uint32_t n) { return Take(n) ? std::string(b_.substr(pos_ - n, n)) : std::string(); }
  // A u32 length, then that many bytes (PutBytes).
  std::string LengthPrefixed() { return Bytes(U32()); }
  bool ok() const { return ok_; }
  bool done() const { return pos_ == b_.size(); }

 private:
  bool Take(size_t n) {
    if (!ok_ || b_.size() - pos_ < n) return ok_ = false;
    pos_ += n;
    return true;
  }
  std::string_view b_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace shortbus::index

#endif  // SHORTBUS_INDEX_VALUE_CODEC_H_
