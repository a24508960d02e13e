// One-shot and periodic timers for one loop thread: a binary heap of
// deadlines over a slot table with generations, so a cancelled or fired
// timer's id is safely ignored afterwards. Not thread-safe: the owning loop
// calls every method from its thread.
#ifndef SHORTBUS_IO_TIMER_QUEUE_H_
#define SHORTBUS_IO_TIMER_QUEUE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace shortbus::io {

// Identifies one timer; {0} is never a valid timer.
struct TimerId {
  uint64_t value = 0;
  friend bool operator==(TimerId, TimerId) = default;
};

class TimerQueue {
 public:
  // Monotonic clock in nanoseconds (CLOCK_MONOTONIC, read through the vDSO).
  static int64_t NowNanos();

  // Fires fn at now + delay_ns, then (if period_ns > 0) every period_ns
  // after its previous deadline until cancelled. Allocates only when the
  // table or heap grows (and for fn's own state).
  TimerId Add(int64_t delay_ns, int64_t period_ns, std::function<void()> fn);
  // Returns true if the timer was pending; its fn will not run again (even
  // when called from inside that fn).
  bool Cancel(TimerId id);
  // Runs every timer due at now_ns, in deadline order (ties: creation
  // order). fn may add and cancel timers.
  void RunDue(int64_t now_ns);
  // Nanoseconds until the earliest pending deadline (0 if overdue), or -1
  // when no timer is pending.
  int64_t NanosUntilNext(int64_t now_ns);
  size_t pending() const { return live_; }

 private:
  struct Timer {
    uint32_t generation = 1;
    bool live = false;
    int64_t period_ns = 0;
    std::function<void()> fn;
  };
  struct Entry {
    int64_t deadline_ns;
    uint64_t order;  // creation/reschedule order, breaks ties
    uint32_t slot;
    uint32_t generation;
  };
  static bool Later(const Entry& a, const Entry& b);
  void Push(const Entry& e);
  void DropStaleTop();
  void Release(uint32_t slot);

  std::vector<Timer> timers_;
  std::vector<uint32_t> free_;
  std::vector<Entry> heap_;  // min-heap by (deadline_ns, order)
  uint64_t next_order_ = 0;
  size_t live_ = 0;
};

}  // namespace shortbus::io

#endif  // SHORTBUS_IO_TIMER_QUEUE_H_
