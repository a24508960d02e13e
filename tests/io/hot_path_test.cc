// In steady state the loop allocates nothing per message: counted by
// replacing operator new for this binary and counting only on the loop's
// thread while many clients' messages are echoed (through SendV) and a
// periodic timer ticks.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "io/event_loop.h"
#include "io/listen.h"
#include "tests/io/io_test_util.h"
#include "tests/alloc_counter.h"


using shortbus::testing::StartCountingAllocations;
using shortbus::testing::StopCountingAllocations;

namespace shortbus::io {
namespace {

// Echoes each read back as two parts, the way a protocol layer writes a
// header and a payload.
class SplitEcho : public test::EchoHandler {
 public:
  void OnData(EventLoop& loop, ConnId id, const char* data, size_t len) override {
    const size_t half = len / 2;
    loop.SendV(id, {std::string_view(data, half), std::string_view(data + half, len - half)});
  }
};

TEST(HotPathCounter, CountsAnAllocation) {
  StartCountingAllocations();
  std::string* s = new std::string(100, 'x');
  const uint64_t seen = StopCountingAllocations();
  delete s;
  EXPECT_GE(seen, 1u);
}

class HotPathTest : public ::testing::TestWithParam<test::BackendCase> {};

TEST_P(HotPathTest, EchoInSteadyStateAllocatesNothingOnTheLoop) {
  std::string why;
  std::unique_ptr<EventLoop> loop = test::MakeLoop(GetParam(), &why);
  if (loop == nullptr) GTEST_SKIP() << why;
  SplitEcho echo;
  test::TempDir dir;
  auto tcp = ListenTcp("127.0.0.1", 0);
  ASSERT_TRUE(tcp.ok()) << tcp.status();
  ASSERT_TRUE(loop->AddListener(tcp->fd, &echo).ok());
  auto unix_fd = ListenUnix(dir.path() + "/s.sock", 0600);
  ASSERT_TRUE(unix_fd.ok()) << unix_fd.status();
  ASSERT_TRUE(loop->AddListener(*unix_fd, &echo).ok());
  std::atomic<uint64_t> ticks{0};
  loop->AddTimer(absl::Milliseconds(1), absl::Milliseconds(1), [&] { ticks.fetch_add(1); });
  test::LoopThread thread(loop);

  constexpr int kConns = 16;
  constexpr int kWindow = 32;  // messages in flight per connection
  constexpr size_t kMsg = 100;
  std::vector<int> fds;
  for (int i = 0; i < kConns; ++i) {
    fds.push_back(i % 2 == 0 ? test::ConnectTcp(tcp->port)
                             : test::ConnectUnix(dir.path() + "/s.sock"));
    ASSERT_GE(fds.back(), 0);
  }
  std::string window;
  for (int m = 0; m < kWindow; ++m) window += std::string(kMsg - 1, static_cast<char>('a' + m % 26)) + "\n";
  std::string back(window.size(), '\0');
  // Each round: every connection sends a window of messages (one write per
  // message) and reads all of them back.
  auto rounds = [&](int n) {
    for (int r = 0; r < n; ++r) {
      for (int fd : fds) {
        for (int m = 0; m < kWindow; ++m) {
          if (!test::WriteAll(fd, window.data() + m * kMsg, kMsg)) return false;
        }
      }
      for (int fd : fds) {
        if (!test::ReadExactly(fd, back.data(), back.size()) || back != window) return false;
      }
    }
    return true;
  };
  ASSERT_TRUE(rounds(200));  // warm-up: buffers reach their working size

  thread.RunSync([] {
    StartCountingAllocations();
  });
  const uint64_t ticks_before = ticks.load();
  const uint64_t bytes_before = echo.bytes.load();
  ASSERT_TRUE(rounds(1000));
  uint64_t seen = 0;
  thread.RunSync([&] {
    seen = StopCountingAllocations();
  });
  EXPECT_EQ(seen, 0u) << "allocations on the loop thread while echoing "
                      << 1000 * kConns * kWindow << " messages";
  EXPECT_GT(ticks.load(), ticks_before);  // the timer ran while counting
  EXPECT_EQ(echo.bytes.load(), bytes_before);  // SplitEcho does not count
  for (int fd : fds) close(fd);
  ASSERT_TRUE(test::WaitFor([&] { return echo.closed.load() == kConns; }));
}

INSTANTIATE_TEST_SUITE_P(Backends, HotPathTest, ::testing::ValuesIn(test::AllBackends()),
                         test::BackendCaseName);

}  // namespace
}  // namespace shortbus::io
