#include "io/timer_queue.h"

#include <gtest/gtest.h>

#include <vector>

namespace shortbus::io {
namespace {

constexpr int64_t kMs = 1'000'000;

TEST(TimerQueue, RunsDueTimersInDeadlineThenCreationOrder) {
  TimerQueue q;
  std::vector<int> fired;
  const int64_t t0 = TimerQueue::NowNanos();
  q.Add(30 * kMs, 0, [&] { fired.push_back(30); });
  q.Add(10 * kMs, 0, [&] { fired.push_back(10); });
  q.Add(20 * kMs, 0, [&] { fired.push_back(20); });
  EXPECT_EQ(q.pending(), 3u);
  q.RunDue(t0);  // nothing due yet
  EXPECT_TRUE(fired.empty());
  const int64_t wait = q.NanosUntilNext(TimerQueue::NowNanos());  // after the Adds
  EXPECT_GT(wait, 0);
  EXPECT_LE(wait, 10 * kMs);
  q.RunDue(t0 + 25 * kMs);
  EXPECT_EQ(fired, (std::vector<int>{10, 20}));
  q.RunDue(t0 + 60 * kMs);
  EXPECT_EQ(fired, (std::vector<int>{10, 20, 30}));
  EXPECT_EQ(q.pending(), 0u);
  EXPECT_EQ(q.NanosUntilNext(t0), -1);
}

TEST(TimerQueue, CancelledTimerNeverRunsAndItsIdGoesStale) {
  TimerQueue q;
  int runs = 0;
  const TimerId id = q.Add(0, 0, [&] { ++runs; });
  EXPECT_TRUE(q.Cancel(id));
  EXPECT_FALSE(q.Cancel(id));
  // The slot is reused under a new generation; the old id does not reach it.
  const TimerId next = q.Add(0, 0, [&] { runs += 10; });
  EXPECT_NE(next, id);
  EXPECT_FALSE(q.Cancel(id));
  q.RunDue(TimerQueue::NowNanos() + kMs);
  EXPECT_EQ(runs, 10);
  EXPECT_FALSE(q.Cancel(TimerId{}));
}

TEST(TimerQueue, PeriodicTimerRepeatsUntilItCancelsItself) {
  TimerQueue q;
  int ticks = 0;
  TimerId id;
  id = q.Add(kMs, kMs, [&] {
    if (++ticks == 3) q.Cancel(id);
  });
  const int64_t t0 = TimerQueue::NowNanos();
  for (int i = 1; i <= 10; ++i) q.RunDue(t0 + i * 2 * kMs);
  EXPECT_EQ(ticks, 3);
  EXPECT_EQ(q.pending(), 0u);
}

TEST(TimerQueue, PeriodicTimerThatFellBehindSkipsMissedTicks) {
  TimerQueue q;
  int ticks = 0;
  q.Add(kMs, kMs, [&] { ++ticks; });
  q.RunDue(TimerQueue::NowNanos() + 100 * kMs);
  EXPECT_EQ(ticks, 1);
}

TEST(TimerQueue, TimerAddedFromACallbackRunsLater) {
  TimerQueue q;
  std::vector<int> fired;
  q.Add(0, 0, [&] {
    fired.push_back(1);
    q.Add(0, 0, [&] { fired.push_back(2); });
  });
  const int64_t now = TimerQueue::NowNanos() + kMs;
  q.RunDue(now);
  // Due at once, so it runs in the same pass.
  EXPECT_EQ(fired, (std::vector<int>{1, 2}));
}

}  // namespace
}  // namespace shortbus::io
