#include "tests/torture/torture_message.h"

#include <xxhash.h>

#include <cstdio>
#include <cstdlib>

#include "tests/engine/child_process.h"
#include "tests/engine/seq_stream.h"

namespace shortbus::torture {
namespace {

using engine::testing::Mix;

uint64_t Key(MessageId id) { return Mix(id.cycle * 0x100000001b3ull ^ Mix(id.counter)); }

size_t FillerLen(MessageId id) { return engine::testing::PickLength(Key(id), {1, 40'000, 60'000, 5, 2'048, 6'144, 400}); }

std::string Hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return std::string(buf, 16);
}

}  // namespace

std::string PayloadFor(MessageId id) {
  std::string s = "c=" + std::to_string(id.cycle) + " n=" + std::to_string(id.counter) + " ";
  const size_t len = FillerLen(id);
  uint64_t x = Key(id) | 1;
  s.reserve(s.size() + len + 17);
  for (size_t i = 0; i < len; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s.push_back(static_cast<char>(x & 0xff));  // any byte, '\0' and '\r\n' included
  }
  const uint64_t sum = XXH3_64bits(s.data(), s.size());
  s.push_back('#');
  s += Hex16(sum);
  return s;
}

std::string SubjectFor(MessageId id) {
  const uint64_t h = Key(id) >> 20;
  return std::string(h % 3 == 0 ? "tort.a." : "tort.b.") + std::to_string(h % 5);
}

bool IsFamilyA(std::string_view subject) { return subject.starts_with("tort.a."); }

bool CheckPayload(std::string_view payload, MessageId* id, std::string* why) {
  if (payload.size() < 17 || payload[payload.size() - 17] != '#') {
    *why = "no checksum trailer";
    return false;
  }
  const std::string_view body = payload.substr(0, payload.size() - 17);
  if (Hex16(XXH3_64bits(body.data(), body.size())) != payload.substr(payload.size() - 16)) {
    *why = "checksum mismatch";
    return false;
  }
  unsigned long long c = 0, n = 0;
  int used = 0;
  const std::string head(body.substr(0, std::min<size_t>(body.size(), 48)));
  if (std::sscanf(head.c_str(), "c=%llu n=%llu %n", &c, &n, &used) != 2 || used == 0) {
    *why = "no cycle and counter";
    return false;
  }
  id->cycle = c;
  id->counter = n;
  if (PayloadFor(*id) != payload) {
    *why = "not the payload of c=" + std::to_string(c) + " n=" + std::to_string(n);
    return false;
  }
  return true;
}

}  // namespace shortbus::torture
