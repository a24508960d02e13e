#include "index/env_syncer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "tests/engine/test_util.h"

namespace shortbus::index {
namespace {

using engine::testing::WaitUntil;

// A client whose committed sequence the test sets; it records what each
// sync reported.
class Client : public EnvSyncClient {
 public:
  std::atomic<uint64_t> committed{0};
  uint64_t SyncSnapshot() override { return committed.load(); }
  void SyncDone(uint64_t snapshot, const absl::Status& status) override {
    std::lock_guard<std::mutex> l(mu);
    done.push_back({snapshot, status.ok()});
  }
  std::vector<std::pair<uint64_t, bool>> Done() {
    std::lock_guard<std::mutex> l(mu);
    return done;
  }
  std::mutex mu;
  std::vector<std::pair<uint64_t, bool>> done;
};

// A gate the fake sync waits on, so the test decides when a sync ends.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = true;
  int syncs = 0;
  bool fail = false;
  absl::Status Sync() {
    std::unique_lock<std::mutex> l(mu);
    ++syncs;
    cv.notify_all();
    cv.wait(l, [&] { return open; });
    return fail ? absl::InternalError("disk gone") : absl::OkStatus();
  }
  void Set(bool is_open) {
    std::lock_guard<std::mutex> l(mu);
    open = is_open;
    cv.notify_all();
  }
  int Syncs() {
    std::lock_guard<std::mutex> l(mu);
    return syncs;
  }
};

// Requests that arrive while a sync runs are served together by the next
// one, which reports each client's snapshot taken before it began.
TEST(EnvSyncer, RequestsDuringASyncShareTheNextOne) {
  Gate gate;
  gate.Set(false);
  EnvSyncer syncer([&] { return gate.Sync(); });
  Client a, b;
  a.committed = 5;
  syncer.Request(&a);
  ASSERT_TRUE(WaitUntil([&] { return gate.Syncs() == 1; }));  // a's sync is running
  a.committed = 9;
  b.committed = 3;
  syncer.Request(&a);
  syncer.Request(&b);
  syncer.Request(&b);  // once is enough
  gate.Set(true);
  ASSERT_TRUE(WaitUntil([&] { return a.Done().size() == 2 && b.Done().size() == 1; }));
  EXPECT_EQ(a.Done()[0], (std::pair<uint64_t, bool>{5, true}));
  EXPECT_EQ(a.Done()[1], (std::pair<uint64_t, bool>{9, true}));
  EXPECT_EQ(b.Done()[0], (std::pair<uint64_t, bool>{3, true}));
  EXPECT_EQ(gate.Syncs(), 2);
}

// A failed sync is reported and retried until one succeeds.
TEST(EnvSyncer, AFailedSyncIsRetried) {
  Gate gate;
  gate.fail = true;
  EnvSyncer syncer([&] { return gate.Sync(); }, std::chrono::milliseconds(1));
  Client a;
  a.committed = 7;
  syncer.Request(&a);
  ASSERT_TRUE(WaitUntil([&] { return a.Done().size() >= 2; }));
  EXPECT_EQ(a.Done()[0], (std::pair<uint64_t, bool>{7, false}));
  {
    std::lock_guard<std::mutex> l(gate.mu);
    gate.fail = false;
  }
  ASSERT_TRUE(WaitUntil([&] { return !a.Done().empty() && a.Done().back().second; }));
  EXPECT_EQ(a.Done().back(), (std::pair<uint64_t, bool>{7, true}));
}

// Forget waits for a sync that is about the client, and afterwards the
// client is never called, even when that sync failed and is retried.
TEST(EnvSyncer, ForgetWaitsForTheRunningSyncAndDropsTheRequest) {
  Gate gate;
  gate.Set(false);
  gate.fail = true;
  EnvSyncer syncer([&] { return gate.Sync(); }, std::chrono::milliseconds(1));
  Client a;
  syncer.Request(&a);
  ASSERT_TRUE(WaitUntil([&] { return gate.Syncs() == 1; }));
  std::atomic<bool> forgotten{false};
  std::thread t([&] {
    syncer.Forget(&a);
    forgotten = true;
  });
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_FALSE(forgotten.load());  // the sync about `a` still runs
  gate.Set(true);
  t.join();
  const size_t calls = a.Done().size();
  EXPECT_EQ(calls, 1u);
  // Failed requests go back ahead of new ones: had `a` gone back, the sync
  // that serves `b` would serve it too.
  {
    std::lock_guard<std::mutex> l(gate.mu);
    gate.fail = false;
  }
  Client b;
  syncer.Request(&b);
  ASSERT_TRUE(WaitUntil([&] { return !b.Done().empty() && b.Done().back().second; }));
  EXPECT_EQ(a.Done().size(), calls);  // not retried for a forgotten client
}

}  // namespace
}  // namespace shortbus::index
