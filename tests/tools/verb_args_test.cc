#include "tools/verb_args.h"

#include <gtest/gtest.h>

namespace shortbus::tools {
namespace {

absl::StatusOr<uint64_t> SizeOf(const std::string& v) {
  absl::StatusOr<VerbArgs> a = ParseVerbArgs({"--max-bytes", v}, {"--max-bytes"}, {});
  if (!a.ok()) return a.status();
  return a->Size("--max-bytes", 7);
}

TEST(VerbArgsSize, SuffixesArePowersOf1024) {
  EXPECT_EQ(*SizeOf("512"), 512u);
  EXPECT_EQ(*SizeOf("512B"), 512u);
  EXPECT_EQ(*SizeOf("64K"), 64u << 10);
  EXPECT_EQ(*SizeOf("64kb"), 64u << 10);
  EXPECT_EQ(*SizeOf("10MiB"), 10u << 20);
  EXPECT_EQ(*SizeOf("1G"), uint64_t{1} << 30);
  EXPECT_EQ(*SizeOf("2T"), uint64_t{2} << 40);
}

TEST(VerbArgsSize, RefusesWhatIsNotOne) {
  for (const char* bad : {"", "K", "12Q", "1.5G", "-1", "1 G", "1KK", "99999999999T"}) {
    EXPECT_FALSE(SizeOf(bad).ok()) << bad;
  }
}

TEST(VerbArgsSize, FallbackWhenAbsent) {
  absl::StatusOr<VerbArgs> a = ParseVerbArgs({}, {"--max-bytes"}, {});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a->Size("--max-bytes", 7), 7u);
}

}  // namespace
}  // namespace shortbus::tools
