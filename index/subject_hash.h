// A hash and equality for maps keyed by subject (std::string keys, looked up
// with std::string_view without a copy). Subjects are short: the hash reads
// them 8 bytes at a time and folds each pair of words with one 64x64->128
// bit multiply, inline, where the general-purpose string hash is a call and
// several passes (measured in the indexer's profile: a tenth of its CPU).
// Both multiplicands carry a secret drawn once per process, so publishers
// cannot choose subjects that collide (a map flooded with colliding keys
// turns every lookup into a scan).
#ifndef SHORTBUS_INDEX_SUBJECT_HASH_H_
#define SHORTBUS_INDEX_SUBJECT_HASH_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string_view>

namespace shortbus::index {

struct SubjectHash {
  using is_transparent = void;

  size_t operator()(std::string_view s) const {
    const char* p = s.data();
    const char* const end = p + s.size();
    const Secret& k = secret();
    // The length goes through a multiply first: XORed in plainly, it could
    // cancel against the data of a subject of another length.
    uint64_t h = Fold(k.a ^ s.size(), k.b);
    if (s.size() > 16) {
      for (; end - p > 16; p += 16) h = Fold(h ^ Load64(p), k.b ^ Load64(p + 8));
      return Fold(h ^ Load64(end - 16), k.b ^ Load64(end - 8));  // overlaps what the loop read
    }
    if (s.size() >= 8) return Fold(h ^ Load64(p), k.b ^ Load64(end - 8));
    uint64_t v = 0;
    if (s.size() >= 4) {
      v = (uint64_t{Load32(p)} << 32) | Load32(end - 4);
    } else if (!s.empty()) {
      const auto b = [](char c) { return uint64_t{static_cast<unsigned char>(c)}; };
      v = (b(p[0]) << 16) | (b(p[s.size() / 2]) << 8) | b(end[-1]);
    }
    return Fold(h ^ v, k.b);
  }

 private:
  struct Secret {
    uint64_t a, b;
  };
  static const Secret& secret() {
    static const Secret k = [] {
      std::random_device rd;
      auto draw = [&rd] { return (uint64_t{rd()} << 32) ^ rd(); };
      return Secret{draw(), draw() | 1};
    }();
    return k;
  }
  static uint64_t Fold(uint64_t a, uint64_t b) {
    const unsigned __int128 m = static_cast<unsigned __int128>(a) * b;
    return static_cast<uint64_t>(m) ^ static_cast<uint64_t>(m >> 64);
  }
  static uint64_t Load64(const char* p) {
    uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static uint32_t Load32(const char* p) {
    uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
};

struct SubjectEq {
  using is_transparent = void;
  // Up to 16 bytes compared inline, as two overlapping words or less;
  // longer subjects through memcmp.
  bool operator()(std::string_view a, std::string_view b) const {
    const size_t n = a.size();
    if (n != b.size()) return false;
    if (n > 16) return std::memcmp(a.data(), b.data(), n) == 0;
    if (n >= 8) {
      return (Word64(a.data()) ^ Word64(b.data())) == 0 && (Word64(a.data() + n - 8) ^ Word64(b.data() + n - 8)) == 0;
    }
    for (size_t i = 0; i < n; ++i) {
      if (a[i] != b[i]) return false;
    }
    return true;
  }

 private:
  static uint64_t Word64(const char* p) {
    uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
};

}  // namespace shortbus::index

#endif  // SHORTBUS_INDEX_SUBJECT_HASH_H_
