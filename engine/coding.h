// Little-endian fixed-width integer coding for on-disk formats.
//
// Every multi-byte integer in a shortbus file is little-endian. These helpers
// are the only way engine code reads or writes one: no struct is ever cast
// over disk bytes. `dst`/`src` need no alignment.
#ifndef SHORTBUS_ENGINE_CODING_H_
#define SHORTBUS_ENGINE_CODING_H_

#include <bit>
#include <cstdint>
#include <cstring>

namespace shortbus::engine {

template <typename T>
inline T ToLittleEndian(T v) {
  if constexpr (std::endian::native == std::endian::big) {
    if constexpr (sizeof(T) == 2) return static_cast<T>(__builtin_bswap16(v));
    if constexpr (sizeof(T) == 4) return static_cast<T>(__builtin_bswap32(v));
    if constexpr (sizeof(T) == 8) return static_cast<T>(__builtin_bswap64(v));
  }
  return v;
}

inline void EncodeFixed16(char* dst, uint16_t v) {
  v = ToLittleEndian(v);
  std::memcpy(dst, &v, sizeof v);
}
inline void EncodeFixed32(char* dst, uint32_t v) {
  v = ToLittleEndian(v);
  std::memcpy(dst, &v, sizeof v);
}
inline void EncodeFixed64(char* dst, uint64_t v) {
  v = ToLittleEndian(v);
  std::memcpy(dst, &v, sizeof v);
}
inline uint16_t DecodeFixed16(const char* src) {
  uint16_t v;
  std::memcpy(&v, src, sizeof v);
  return ToLittleEndian(v);
}
inline uint32_t DecodeFixed32(const char* src) {
  uint32_t v;
  std::memcpy(&v, src, sizeof v);
  return ToLittleEndian(v);
}
inline uint64_t DecodeFixed64(const char* src) {
  uint64_t v;
  std::memcpy(&v, src, sizeof v);
  return ToLittleEndian(v);
}

// Rounds `n` up to a multiple of `align` (a power of two).
constexpr uint64_t AlignUp(uint64_t n, uint64_t align) { return (n + align - 1) & ~(align - 1); }

}  // namespace shortbus::engine

#endif  // SHORTBUS_ENGINE_CODING_H_
