// A JsHost for sans-IO tests of the JetStream layer: a manual clock, timers
// that fire only when the test advances that clock, and a Post queue the
// test drains.
//
// Time: NowNs() is the fake clock; Clock() returns it as a function for
// index::StoreOptions::clock, so frame timestamps follow it too. The clock
// is atomic: the store's background threads read it.
// Timers: Advance(d) fires every timer due up to now + d, earliest first
// (ties in creation order), with the clock set to the timer's due time
// while it runs, and drains the Post queue after each, as an event loop
// would. A timer that keeps re-arming itself at the same instant would hang
// a real loop (it never lets time pass): after kSpinLimit fires at one
// instant Advance stops, records the failure in spins() and reports it with
// ADD_FAILURE.
// Posts: Post may be called from any thread (a stream's durable callback);
// tasks run only in DrainPosts/Advance, on the test's thread.
#ifndef SHORTBUS_TESTS_SERVER_FAKE_JS_HOST_H_
#define SHORTBUS_TESTS_SERVER_FAKE_JS_HOST_H_

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "server/js_host.h"

namespace shortbus::server {

class FakeJsHost : public JsHost {
 public:
  static constexpr int kSpinLimit = 1000;

  explicit FakeJsHost(int64_t start_ns) : now_(start_ns) {}

  void Post(std::function<void()> task) override {
    std::lock_guard<std::mutex> l(mu_);
    posts_.push_back(std::move(task));
  }

  uint64_t AddTimer(absl::Duration delay, std::function<void()> fn) override {
    const int64_t at = now_.load() + std::max<int64_t>(0, absl::ToInt64Nanoseconds(delay));
    const uint64_t id = next_id_++;
    timers_.emplace(std::make_pair(at, id), std::move(fn));
    due_.emplace(id, at);
    return id;
  }

  void CancelTimer(uint64_t id) override {
    auto it = due_.find(id);
    if (it == due_.end()) return;
    timers_.erase({it->second, id});
    due_.erase(it);
  }

  int64_t NowNs() override { return now_.load(); }

  std::function<int64_t()> Clock() {
    return [this] { return now_.load(); };
  }

  // Runs queued tasks, and those they queue, until none is left; returns
  // how many ran.
  size_t DrainPosts() {
    size_t ran = 0;
    while (true) {
      std::deque<std::function<void()>> batch;
      {
        std::lock_guard<std::mutex> l(mu_);
        batch.swap(posts_);
      }
      if (batch.empty()) return ran;
      for (auto& task : batch) {
        task();
        ++ran;
      }
    }
  }

  // Drops queued tasks without running them (teardown, after the objects
  // they point at are stopped).
  void DiscardPosts() {
    std::lock_guard<std::mutex> l(mu_);
    posts_.clear();
  }

  // Moves the clock forward by `d`, firing what falls due (see the file
  // comment); returns how many timers fired.
  size_t Advance(absl::Duration d) {
    const int64_t target = now_.load() + absl::ToInt64Nanoseconds(d);
    size_t fired = 0;
    int64_t instant = now_.load();
    int at_instant = 0;
    DrainPosts();
    while (!timers_.empty() && timers_.begin()->first.first <= target) {
      auto it = timers_.begin();
      const int64_t at = std::max(it->first.first, now_.load());
      if (at == instant) {
        if (++at_instant > kSpinLimit) {
          ++spins_;
          ADD_FAILURE() << "a timer re-armed itself " << kSpinLimit << " times at t="
                        << (at - start_marker_) << "ns without letting time pass (a busy loop)";
          break;
        }
      } else {
        instant = at;
        at_instant = 1;
      }
      std::function<void()> fn = std::move(it->second);
      due_.erase(it->first.second);
      timers_.erase(it);
      now_.store(at);
      fn();
      ++fired;
      DrainPosts();
    }
    if (now_.load() < target) now_.store(target);
    DrainPosts();
    return fired;
  }

  size_t pending_timers() const { return timers_.size(); }
  int spins() const { return spins_; }
  // Subtracted from times in failure messages.
  void set_start_marker(int64_t ns) { start_marker_ = ns; }

 private:
  std::atomic<int64_t> now_;
  std::mutex mu_;
  std::deque<std::function<void()>> posts_;  // under mu_
  std::map<std::pair<int64_t, uint64_t>, std::function<void()>> timers_;  // (due, id) -> fn
  absl::flat_hash_map<uint64_t, int64_t> due_;                           // id -> due
  uint64_t next_id_ = 1;
  int spins_ = 0;
  int64_t start_marker_ = 0;
};

}  // namespace shortbus::server

#endif  // SHORTBUS_TESTS_SERVER_FAKE_JS_HOST_H_
