#include "io/timer_queue.h"

#include <time.h>

#include <algorithm>
#include <utility>

namespace shortbus::io {

int64_t TimerQueue::NowNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

bool TimerQueue::Later(const Entry& a, const Entry& b) {
  if (a.deadline_ns != b.deadline_ns) return a.deadline_ns > b.deadline_ns;
  return a.order > b.order;
}

void TimerQueue::Push(const Entry& e) {
  heap_.push_back(e);
  std::push_heap(heap_.begin(), heap_.end(), Later);
}

TimerId TimerQueue::Add(int64_t delay_ns, int64_t period_ns, std::function<void()> fn) {
  uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = static_cast<uint32_t>(timers_.size());
    timers_.emplace_back();
  }
  Timer& t = timers_[slot];
  t.live = true;
  t.period_ns = period_ns > 0 ? period_ns : 0;
  t.fn = std::move(fn);
  ++live_;
  Push({NowNanos() + std::max<int64_t>(delay_ns, 0), next_order_++, slot, t.generation});
  return TimerId{(uint64_t{t.generation} << 32) | slot};
}

void TimerQueue::Release(uint32_t slot) {
  Timer& t = timers_[slot];
  t.live = false;
  t.fn = nullptr;
  ++t.generation;
  --live_;
  free_.push_back(slot);
}

bool TimerQueue::Cancel(TimerId id) {
  const uint32_t slot = static_cast<uint32_t>(id.value);
  const uint32_t generation = static_cast<uint32_t>(id.value >> 32);
  if (slot >= timers_.size()) return false;
  Timer& t = timers_[slot];
  if (!t.live || t.generation != generation) return false;
  // The heap entry stays until it reaches the top and is dropped as stale.
  Release(slot);
  return true;
}

void TimerQueue::DropStaleTop() {
  while (!heap_.empty()) {
    const Entry& top = heap_.front();
    const Timer& t = timers_[top.slot];
    if (t.live && t.generation == top.generation) return;
    std::pop_heap(heap_.begin(), heap_.end(), Later);
    heap_.pop_back();
  }
}

void TimerQueue::RunDue(int64_t now_ns) {
  for (;;) {
    DropStaleTop();
    if (heap_.empty() || heap_.front().deadline_ns > now_ns) return;
    std::pop_heap(heap_.begin(), heap_.end(), Later);
    Entry e = heap_.back();
    heap_.pop_back();
    // fn is moved out while it runs: it may add timers (moving timers_) or
    // cancel itself (destroying the slot's fn).
    std::function<void()> fn = std::move(timers_[e.slot].fn);
    const int64_t period = timers_[e.slot].period_ns;
    if (period == 0) {
      Release(e.slot);
      fn();
      continue;
    }
    fn();
    Timer& t = timers_[e.slot];
    if (!t.live || t.generation != e.generation) continue;  // cancelled by fn
    t.fn = std::move(fn);
    // A periodic timer that fell behind skips the missed ticks.
    int64_t next = e.deadline_ns + period;
    if (next <= now_ns) next = now_ns + period;
    Push({next, next_order_++, e.slot, e.generation});
  }
}

int64_t TimerQueue::NanosUntilNext(int64_t now_ns) {
  DropStaleTop();
  if (heap_.empty()) return -1;
  return std::max<int64_t>(heap_.front().deadline_ns - now_ns, 0);
}

}  // namespace shortbus::io
