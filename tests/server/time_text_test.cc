#include "server/time_text.h"

#include <gtest/gtest.h>

namespace shortbus::server {
namespace {

TEST(ParseDurationArg, UnitsAndSums) {
  EXPECT_EQ(*ParseDurationArg("30s"), absl::Seconds(30));
  EXPECT_EQ(*ParseDurationArg("10m"), absl::Minutes(10));
  EXPECT_EQ(*ParseDurationArg("2h"), absl::Hours(2));
  EXPECT_EQ(*ParseDurationArg("1d"), absl::Hours(24));
  EXPECT_EQ(*ParseDurationArg("1d12h"), absl::Hours(36));
  EXPECT_EQ(*ParseDurationArg("1h30m"), absl::Minutes(90));
  EXPECT_EQ(*ParseDurationArg("1.5h"), absl::Minutes(90));
  EXPECT_EQ(*ParseDurationArg("250ms"), absl::Milliseconds(250));
  EXPECT_EQ(*ParseDurationArg("0"), absl::ZeroDuration());
}

TEST(ParseDurationArg, RefusesWhatIsNotOne) {
  for (const char* bad : {"", "10", "m", "-5m", "5 m", "3w", "soon", "1d-2h", "2024-01-01T00:00:00Z"}) {
    absl::StatusOr<absl::Duration> d = ParseDurationArg(bad);
    EXPECT_FALSE(d.ok()) << bad;
    EXPECT_TRUE(absl::IsInvalidArgument(d.status())) << bad;
  }
}

TEST(ParseTimeArg, RelativeMeansAgo) {
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  EXPECT_EQ(*ParseTimeArg("10m", now), now - absl::Minutes(10));
  EXPECT_EQ(*ParseTimeArg("1d", now), now - absl::Hours(24));
  EXPECT_EQ(*ParseTimeArg("30s", now), now - absl::Seconds(30));
}

TEST(ParseTimeArg, Rfc3339WithZoneAndFraction) {
  const absl::Time now = absl::Now();
  EXPECT_EQ(*ParseTimeArg("2023-11-14T22:13:20Z", now), absl::FromUnixSeconds(1700000000));
  EXPECT_EQ(*ParseTimeArg("2023-11-15T00:13:20+02:00", now), absl::FromUnixSeconds(1700000000));
  EXPECT_EQ(*ParseTimeArg("2023-11-14T22:13:20.000000001Z", now), absl::FromUnixNanos(1700000000000000001));
  EXPECT_FALSE(ParseTimeArg("2023-11-14", now).ok());
  EXPECT_FALSE(ParseTimeArg("yesterday", now).ok());
}

TEST(FormatRfc3339, UtcWithNanosecondsRoundTrips) {
  const absl::Time t = absl::FromUnixNanos(1700000000000000001);
  EXPECT_EQ(FormatRfc3339(t), "2023-11-14T22:13:20.000000001Z");
  EXPECT_EQ(*ParseTimeArg(FormatRfc3339(t), absl::Now()), t);
}

TEST(FormatDurationArg, ReadsBackAsTheSameDuration) {
  EXPECT_EQ(FormatDurationArg(absl::Hours(24)), "1d");
  EXPECT_EQ(FormatDurationArg(absl::Hours(36)), "1d12h");
  EXPECT_EQ(FormatDurationArg(absl::Minutes(2)), "2m");
  EXPECT_EQ(FormatDurationArg(absl::ZeroDuration()), "0");
  for (absl::Duration d : {absl::Hours(50), absl::Milliseconds(1500), absl::Minutes(90)}) {
    EXPECT_EQ(*ParseDurationArg(FormatDurationArg(d)), d) << FormatDurationArg(d);
  }
}

}  // namespace
}  // namespace shortbus::server
