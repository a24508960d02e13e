#include "index/subject_hash.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <unordered_set>

#include "absl/container/flat_hash_map.h"

namespace shortbus::index {
namespace {

// SubjectEq agrees with string equality at every length around its word
// boundaries, wherever the one differing byte is.
TEST(SubjectHash, EqualityAgreesWithStringEquality) {
  std::mt19937_64 rng(7);
  for (size_t len = 0; len <= 40; ++len) {
    std::string a(len, ' ');
    for (char& c : a) c = static_cast<char>('a' + rng() % 26);
    const std::string same = a;  // another buffer
    EXPECT_TRUE(SubjectEq{}(a, same)) << len;
    EXPECT_EQ(SubjectHash{}(a), SubjectHash{}(same)) << len;
    for (size_t i = 0; i < len; ++i) {
      std::string b = a;
      b[i] = static_cast<char>(b[i] ^ 1);
      EXPECT_FALSE(SubjectEq{}(a, b)) << len << " " << i;
    }
    EXPECT_FALSE(SubjectEq{}(a, a + "x")) << len;
  }
}

// No two of 200,000 subjects that differ in one byte, or in the last few
// characters of a common prefix (sensor.1, sensor.2, ...), share a 64-bit
// hash; every length from 0 to 40 takes part.
TEST(SubjectHash, StructuredSubjectsDoNotCollide) {
  std::unordered_set<size_t> seen;
  size_t n = 0;
  auto add = [&](const std::string& s) {
    ++n;
    EXPECT_TRUE(seen.insert(SubjectHash{}(s)).second) << s;
  };
  for (int i = 0; i < 150000; ++i) add("sensor." + std::to_string(i));
  for (size_t len = 1; len <= 40; ++len) {
    const std::string base(len, 'q');
    add(base);
    for (size_t i = 0; i < len; ++i) {
      for (int v : {0, 1, int{'r'}, 0x80, 0xff}) {
        std::string s = base;
        s[i] = static_cast<char>(v);
        if (s != base) add(s);
      }
    }
  }
  EXPECT_GT(n, 150000u);
}

// The map keyed by subject finds a subject by a string_view into another
// buffer (a frame), without building a string.
TEST(SubjectHash, HeterogeneousLookup) {
  absl::flat_hash_map<std::string, int, SubjectHash, SubjectEq> m;
  m.emplace("orders.created", 1);
  m.emplace("orders.shipped", 2);
  const char frame[] = "xxorders.shippedyy";
  auto it = m.find(std::string_view(frame + 2, 14));
  ASSERT_NE(it, m.end());
  EXPECT_EQ(it->second, 2);
  EXPECT_EQ(m.find(std::string_view(frame + 2, 13)), m.end());
}

}  // namespace
}  // namespace shortbus::index
