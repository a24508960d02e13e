// EventLoop over every backend available here: echo, batching, partial
// writes, closing, stale ids, timers, Post and Stop.
#include "io/event_loop.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>
#include <string>

#include "io/listen.h"
#include "tests/io/io_test_util.h"

namespace shortbus::io {
namespace {

using test::BackendCase;
using test::EchoHandler;
using test::LoopThread;
using test::WaitFor;

class EventLoopTest : public ::testing::TestWithParam<BackendCase> {
 protected:
  void SetUp() override {
    std::string why;
    loop_ = test::MakeLoop(GetParam(), &why);
    if (loop_ == nullptr) GTEST_SKIP() << GetParam().name << " unavailable: " << why;
  }
  // Listens on an ephemeral TCP port with handler; returns the port.
  uint16_t ListenEcho(ConnectionHandler* handler) {
    auto l = ListenTcp("127.0.0.1", 0);
    EXPECT_TRUE(l.ok()) << l.status();
    EXPECT_TRUE(loop_->AddListener(l->fd, handler).ok());
    return l->port;
  }
  std::unique_ptr<EventLoop> loop_;
};

TEST_P(EventLoopTest, BackendNameMatchesRequest) {
  const std::string_view name = loop_->backend_name();
  if (GetParam().options.backend == Backend::kEpoll) {
    EXPECT_EQ(name, "epoll");
  } else if (GetParam().options.uring_buffer_rings) {
    EXPECT_EQ(name, "uring");
  } else {
    EXPECT_EQ(name, "uring-single");
  }
}

TEST_P(EventLoopTest, EchoesOneClient) {
  EchoHandler echo;
  const uint16_t port = ListenEcho(&echo);
  LoopThread thread(loop_.get());
  const int fd = test::ConnectTcp(port);
  ASSERT_GE(fd, 0);
  const std::string msg = "hello, loop";
  ASSERT_TRUE(test::WriteAll(fd, msg.data(), msg.size()));
  std::string got(msg.size(), '\0');
  ASSERT_TRUE(test::ReadExactly(fd, got.data(), got.size()));
  EXPECT_EQ(got, msg);
  close(fd);
  ASSERT_TRUE(WaitFor([&] { return echo.closed.load() == 1; }));
  std::lock_guard<std::mutex> lock(echo.mu);
  EXPECT_EQ(echo.reasons[0], CloseReason::kPeerClosed);
  EXPECT_EQ(echo.peers[0].rfind("127.0.0.1:", 0), 0u) << echo.peers[0];
}

INSTANTIATE_TEST_SUITE_P(Backends, EventLoopTest, ::testing::ValuesIn(test::AllBackends()),
                         test::BackendCaseName);

}  // namespace
}  // namespace shortbus::io
