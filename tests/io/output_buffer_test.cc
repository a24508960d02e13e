#include "io/output_buffer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

namespace shortbus::io {
namespace {

TEST(OutputBuffer, AppendConsumeKeepsFifoOrderAcrossGrowthAndCompaction) {
  OutputBuffer buf;
  std::string model;
  std::mt19937 rng(7);
  char next = 0;
  for (int step = 0; step < 20000; ++step) {
    if (rng() % 3 != 0) {
      const size_t n = rng() % 5000;
      char* dst = buf.Reserve(n);
      for (size_t i = 0; i < n; ++i) dst[i] = next++;
      model.append(dst, n);
      buf.Commit(n);
    } else if (!model.empty()) {
      const size_t n = rng() % (model.size() + 1);
      buf.Consume(n);
      model.erase(0, n);
    }
    ASSERT_EQ(buf.size(), model.size());
    ASSERT_EQ(buf.Pending(), model) << "step " << step;
  }
}

TEST(OutputBuffer, ReserveReusesCapacityOnceGrown) {
  OutputBuffer buf;
  buf.Append(std::string(3000, 'a').data(), 3000);
  buf.Consume(2000);
  const char* before = buf.Pending().data();
  // 1000 live bytes and room for 3000 more after compaction: no new block.
  char* dst = buf.Reserve(3000);
  EXPECT_EQ(buf.Pending().size(), 1000u);
  EXPECT_LE(buf.Pending().data(), before);
  std::memset(dst, 'b', 3000);
  buf.Commit(3000);
  EXPECT_EQ(buf.Pending(), std::string(1000, 'a') + std::string(3000, 'b'));
}

TEST(OutputBuffer, LargeBufferIsReleasedWhenDrained) {
  OutputBuffer buf;
  const std::string big(OutputBuffer::kKeepCapacity * 2, 'x');
  buf.Append(big.data(), big.size());
  buf.Consume(big.size());
  EXPECT_TRUE(buf.empty());
  EXPECT_EQ(buf.Pending().data(), nullptr);  // released
  buf.Append("ok", 2);
  EXPECT_EQ(buf.Pending(), "ok");
}

}  // namespace
}  // namespace shortbus::io
