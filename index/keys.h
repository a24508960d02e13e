// Key encodings of the index databases. Every integer in a key is
// big-endian, so that LMDB's byte order is numeric order; a signed
// timestamp has its sign bit flipped first, so that negative times sort
// before positive ones. docs/format.md ("The index") lists each database.
#ifndef SHORTBUS_INDEX_KEYS_H_
#define SHORTBUS_INDEX_KEYS_H_

#include <lmdb.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace shortbus::index {

inline void PutBigEndian32(char* p, uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<char>(v & 0xff);
}
inline void PutBigEndian64(char* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<char>(v & 0xff);
}
inline uint32_t GetBigEndian32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
inline uint64_t GetBigEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
inline uint64_t OrderedFromSigned(int64_t v) { return static_cast<uint64_t>(v) ^ (uint64_t{1} << 63); }
inline int64_t SignedFromOrdered(uint64_t v) { return static_cast<int64_t>(v ^ (uint64_t{1} << 63)); }

// (stream number u32, u64): the sequence, segment and time indexes.
struct StreamU64Key {
  char bytes[12];
  StreamU64Key(uint32_t stream, uint64_t v) {
    PutBigEndian32(bytes, stream);
    PutBigEndian64(bytes + 4, v);
  }
  MDB_val val() { return MDB_val{sizeof bytes, bytes}; }
  static bool Parse(const MDB_val& v, uint32_t* stream, uint64_t* x) {
    if (v.mv_size != 12) return false;
    const char* p = static_cast<const char*>(v.mv_data);
    *stream = GetBigEndian32(p);
    *x = GetBigEndian64(p + 4);
    return true;
  }
};

// (stream number u32, bytes): per-subject state, consumers. The bytes follow
// the number directly; LMDB compares lengths after content, so a key is a
// prefix-ordered (stream, name) pair.
inline std::string StreamBytesKey(uint32_t stream, std::string_view bytes) {
  std::string k(4 + bytes.size(), '\0');
  PutBigEndian32(k.data(), stream);
  if (!bytes.empty()) std::memcpy(k.data() + 4, bytes.data(), bytes.size());
  return k;
}

inline MDB_val ValOf(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
inline std::string_view ViewOf(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

}  // namespace shortbus::index

#endif  // SHORTBUS_INDEX_KEYS_H_
