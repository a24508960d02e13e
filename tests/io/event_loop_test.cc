// EventLoop over every backend available here: echo, batching, partial
// writes, closing, stale ids, timers, Post and Stop.
#include "io/event_loop.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <string>

#include "io/listen.h"
#include "io/poller.h"  // Connection::kBusyFlushes
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
  uint16_t ListenEcho(ConnectionHandler* handler);
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
  LoopThread thread(loop_);
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

// Sends, on its first byte, `total` bytes of a known pattern through
// Reserve/Commit, then optionally closes with flush.
class SourceHandler : public ConnectionHandler {
 public:
  SourceHandler(size_t total, bool close_after) : total_(total), close_after_(close_after) {}
  static char PatternAt(size_t i) { return static_cast<char>((i * 7) % 251); }
  // The index of the first of n bytes (stream offset `at`) not matching
  // the pattern, or n.
  static size_t Mismatch(const char* p, size_t n, size_t at) {
    for (size_t i = 0; i < n; ++i) {
      if (p[i] != PatternAt(at + i)) return i;
    }
    return n;
  }

  void OnAccept(EventLoop&, ConnId id, const PeerInfo&) override {
    std::lock_guard<std::mutex> lock(mu);
    this->id = id;
  }
  void OnData(EventLoop& loop, ConnId id, const char*, size_t) override {
    if (started_) return;
    started_ = true;
    constexpr size_t kChunk = 64 * 1024;
    for (size_t off = 0; off < total_; off += kChunk) {
      const size_t n = std::min(kChunk, total_ - off);
      char* dst = loop.Reserve(id, n);
      for (size_t i = 0; i < n; ++i) dst[i] = PatternAt(off + i);
      loop.Commit(id, n);
    }
    queued.store(true);
    if (close_after_) {
      close_returned = loop.Close(id, /*flush_first=*/true);
      send_after_close = loop.Send(id, "x", 1);
    }
  }
  void OnClose(EventLoop&, ConnId, CloseReason r, int) override {
    reason = r;
    closed.store(true);
  }

  std::mutex mu;
  ConnId id;
  std::atomic<bool> queued{false};
  std::atomic<bool> closed{false};
  std::atomic<CloseReason> reason{CloseReason::kError};
  bool close_returned = false;
  bool send_after_close = true;

 private:
  const size_t total_;
  const bool close_after_;
  bool started_ = false;
};

// A SourceHandler behind a TCP listener, the loop running, and a client
// that has started it (fd, closed by the test).
struct SourceRun {
  SourceRun(std::unique_ptr<EventLoop>& loop, size_t total, bool close_after)
      : source(total, close_after), port(Listen(*loop, &source)), thread(loop),
        fd(ConnectAndGo(port)) {}
  static uint16_t Listen(EventLoop& loop, ConnectionHandler* handler) {
    auto l = ListenTcp("127.0.0.1", 0);
    EXPECT_TRUE(l.ok()) << l.status();
    EXPECT_TRUE(loop.AddListener(l->fd, handler).ok());
    return l->port;
  }
  // Connects to port and sends the byte that starts a SourceHandler.
  static int ConnectAndGo(uint16_t port) {
    const int fd = test::ConnectTcp(port);
    if (fd >= 0 && !test::WriteAll(fd, "g", 1)) return -1;
    return fd;
  }
  ConnId id() {
    std::lock_guard<std::mutex> lock(source.mu);
    return source.id;
  }

  SourceHandler source;
  uint16_t port;
  LoopThread thread;
  int fd;
};

// Connects to port and waits until echo has accepted `count` connections;
// -1 if either fails.
int ConnectAccepted(uint16_t port, EchoHandler& echo, int count) {
  const int fd = test::ConnectTcp(port);
  if (fd < 0) return -1;
  if (!WaitFor([&] { return echo.accepted.load() == count; })) {
    close(fd);
    return -1;
  }
  return fd;
}

// The id of the i-th connection echo accepted.
ConnId IdOf(EchoHandler& echo, size_t i) {
  std::lock_guard<std::mutex> lock(echo.mu);
  return echo.ids.at(i);
}

uint16_t EventLoopTest::ListenEcho(ConnectionHandler* handler) {
  return SourceRun::Listen(*loop_, handler);
}

TEST_P(EventLoopTest, ManyClientsRandomSplitsOverTcpAndUnix) {
  EchoHandler echo;
  const uint16_t port = ListenEcho(&echo);
  test::TempDir dir;
  const std::string sock = dir.path() + "/echo.sock";
  auto unix_fd = ListenUnix(sock, 0600);
  ASSERT_TRUE(unix_fd.ok()) << unix_fd.status();
  ASSERT_TRUE(loop_->AddListener(*unix_fd, &echo, sock).ok());
  LoopThread thread(loop_);

  constexpr int kClients = 200;
  constexpr size_t kBytes = 16 * 1024;
  struct Client {
    int fd;
    std::string data;
    size_t sent = 0;
    size_t received = 0;
  };
  std::mt19937 rng(42);
  std::vector<Client> clients(kClients);
  for (int i = 0; i < kClients; ++i) {
    Client& c = clients[i];
    c.fd = i % 2 == 0 ? test::ConnectTcp(port) : test::ConnectUnix(sock);
    ASSERT_GE(c.fd, 0) << i;
    c.data.resize(kBytes);
    for (char& b : c.data) b = static_cast<char>(rng());
  }
  std::vector<pollfd> fds(kClients);
  std::string buf(8192, '\0');
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  size_t done = 0;
  while (done < kClients) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << done << " clients done";
    for (int i = 0; i < kClients; ++i) {
      const Client& c = clients[i];
      fds[i] = {c.fd, static_cast<short>(POLLIN | (c.sent < kBytes ? POLLOUT : 0)), 0};
    }
    ASSERT_GT(poll(fds.data(), fds.size(), 20000), 0);
    for (int i = 0; i < kClients; ++i) {
      Client& c = clients[i];
      if ((fds[i].revents & POLLOUT) != 0 && c.sent < kBytes) {
        const size_t n = std::min<size_t>(kBytes - c.sent, 1 + rng() % 3000);
        const ssize_t w = send(c.fd, c.data.data() + c.sent, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) c.sent += static_cast<size_t>(w);
      }
      if ((fds[i].revents & POLLIN) != 0) {
        const ssize_t r = recv(c.fd, buf.data(), buf.size(), MSG_DONTWAIT);
        ASSERT_GT(r, 0) << "client " << i << " lost its connection";
        ASSERT_LE(c.received + static_cast<size_t>(r), c.sent);
        ASSERT_EQ(std::string_view(buf.data(), static_cast<size_t>(r)),
                  std::string_view(c.data).substr(c.received, static_cast<size_t>(r)))
            << "client " << i << " at " << c.received;
        c.received += static_cast<size_t>(r);
        if (c.received == kBytes) ++done;
      }
    }
  }
  for (Client& c : clients) close(c.fd);
  ASSERT_TRUE(WaitFor([&] { return echo.closed.load() == kClients; }));
  EXPECT_EQ(echo.accepted.load(), kClients);
  EXPECT_EQ(echo.bytes.load(), uint64_t{kClients} * kBytes);
  std::lock_guard<std::mutex> lock(echo.mu);
  EXPECT_EQ(std::count(echo.peers.begin(), echo.peers.end(), sock), kClients / 2);
}

TEST_P(EventLoopTest, OneBytePerWrite) {
  EchoHandler echo;
  const uint16_t port = ListenEcho(&echo);
  LoopThread thread(loop_);
  const int fd = test::ConnectTcp(port);
  ASSERT_GE(fd, 0);
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  // Ping-pong: each byte is its own read on the loop.
  for (int i = 0; i < 300; ++i) {
    const char b = static_cast<char>(i);
    ASSERT_TRUE(test::WriteAll(fd, &b, 1));
    char got = 0;
    ASSERT_TRUE(test::ReadExactly(fd, &got, 1));
    ASSERT_EQ(got, b) << i;
  }
  // Then a stream of single-byte writes read back as a whole.
  std::string sent;
  for (int i = 0; i < 2000; ++i) {
    const char b = static_cast<char>('a' + i % 26);
    sent.push_back(b);
    ASSERT_TRUE(test::WriteAll(fd, &b, 1));
  }
  std::string got(sent.size(), '\0');
  ASSERT_TRUE(test::ReadExactly(fd, got.data(), got.size()));
  EXPECT_EQ(got, sent);
  close(fd);
}

TEST_P(EventLoopTest, LargeTransferToSlowReaderGrowsThenDrainsPendingOutput) {
  constexpr size_t kTotal = size_t{64} << 20;
  SourceRun run(loop_, kTotal, /*close_after=*/false);
  const int fd = run.fd;
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(WaitFor([&] { return run.source.queued.load(); }));
  const ConnId id = run.id();
  // Nothing read yet: the socket buffers hold a few MiB at most, the rest
  // waits in the loop.
  size_t pending = 0;
  run.thread.RunSync([&] { pending = loop_->PendingOutput(id); });
  EXPECT_GT(pending, kTotal / 2);

  std::string buf(256 * 1024, '\0');
  size_t got = 0;
  size_t last_pending = pending;
  bool decreased = false;
  while (got < kTotal) {
    const size_t n = std::min(buf.size(), kTotal - got);
    ASSERT_TRUE(test::ReadExactly(fd, buf.data(), n)) << got;
    ASSERT_EQ(SourceHandler::Mismatch(buf.data(), n, got), n);
    got += n;
    if (got % (size_t{8} << 20) == 0) {
      run.thread.RunSync([&] { pending = loop_->PendingOutput(id); });
      if (pending < last_pending) decreased = true;
      last_pending = pending;
    }
  }
  EXPECT_TRUE(decreased);
  ASSERT_TRUE(WaitFor([&] {
    run.thread.RunSync([&] { pending = loop_->PendingOutput(id); });
    return pending == 0;
  }));
  close(fd);
  ASSERT_TRUE(WaitFor([&] { return run.source.closed.load(); }));
}

TEST_P(EventLoopTest, PeerClosesMidStream) {
  EchoHandler echo;
  const uint16_t echo_port = ListenEcho(&echo);
  SourceRun run(loop_, size_t{16} << 20, /*close_after=*/false);
  const int fd = run.fd;
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(WaitFor([&] { return run.source.queued.load(); }));
  char some[1000];
  ASSERT_TRUE(test::ReadExactly(fd, some, sizeof(some)));
  close(fd);  // with unread data: the loop's sends fail (EPIPE/ECONNRESET)
  ASSERT_TRUE(WaitFor([&] { return run.source.closed.load(); }));
  const CloseReason r = run.source.reason.load();
  EXPECT_TRUE(r == CloseReason::kPeerClosed || r == CloseReason::kError) << CloseReasonName(r);

  // The loop goes on serving others.
  const int other = test::ConnectTcp(echo_port);
  ASSERT_GE(other, 0);
  ASSERT_TRUE(test::WriteAll(other, "still here", 10));
  char got[10];
  ASSERT_TRUE(test::ReadExactly(other, got, sizeof(got)));
  EXPECT_EQ(std::string_view(got, sizeof(got)), "still here");
  close(other);
  EXPECT_TRUE(run.thread.run_status().ok());
}

TEST_P(EventLoopTest, CloseWithFlushDeliversEverythingThenCloses) {
  constexpr size_t kTotal = size_t{4} << 20;
  SourceRun run(loop_, kTotal, /*close_after=*/true);
  const int fd = run.fd;
  SourceHandler& source = run.source;
  ASSERT_GE(fd, 0);
  std::string all;
  ASSERT_TRUE(test::ReadUntilEof(fd, &all));
  ASSERT_EQ(all.size(), kTotal);
  ASSERT_EQ(SourceHandler::Mismatch(all.data(), kTotal, 0), kTotal);
  close(fd);
  ASSERT_TRUE(WaitFor([&] { return source.closed.load(); }));
  EXPECT_EQ(source.reason.load(), CloseReason::kClosedByUs);
  EXPECT_TRUE(source.close_returned);
  EXPECT_FALSE(source.send_after_close);
}

// A peer that never reads holds a flushing close open without limit; the
// caller's deadline ends it with Close(id, false) (input the peer goes on
// sending meanwhile is discarded).
TEST_P(EventLoopTest, CloseWithoutFlushCutsAFlushingCloseShort) {
  constexpr size_t kTotal = size_t{32} << 20;
  SourceRun run(loop_, kTotal, /*close_after=*/true);
  ASSERT_GE(run.fd, 0);
  ASSERT_TRUE(WaitFor([&] { return run.source.queued.load(); }));
  const ConnId id = run.id();
  const std::string junk(64 * 1024, 'j');
  ASSERT_TRUE(test::WriteAll(run.fd, junk.data(), junk.size()));
  size_t pending = 0;
  // The flush stalls: the peer's receive buffer is full.
  ASSERT_TRUE(WaitFor([&] {
    run.thread.RunSync([&] { pending = loop_->PendingOutput(id); });
    return pending > 0 && pending < kTotal;
  }));
  bool again = true;
  bool cut = false;
  run.thread.RunSync([&] {
    again = loop_->Close(id, /*flush_first=*/true);
    EXPECT_FALSE(loop_->IsOpen(id));
    EXPECT_FALSE(loop_->Send(id, "x", 1));
  });
  EXPECT_FALSE(again);  // already flushing
  run.thread.RunSync([&] { cut = loop_->Close(id, /*flush_first=*/false); });
  EXPECT_TRUE(cut);
  ASSERT_TRUE(WaitFor([&] { return run.source.closed.load(); }));
  EXPECT_EQ(run.source.reason.load(), CloseReason::kClosedByUs);
  std::string got;
  EXPECT_TRUE(test::ReadUntilEof(run.fd, &got));  // or a reset: the rest was dropped
  EXPECT_LT(got.size(), kTotal);
  run.thread.RunSync([&] { EXPECT_EQ(loop_->PendingOutput(id), 0u); });
  close(run.fd);
}

TEST_P(EventLoopTest, CloseWithoutFlushEndsTheConnection) {
  EchoHandler echo;
  const uint16_t port = ListenEcho(&echo);
  LoopThread thread(loop_);
  const int fd = ConnectAccepted(port, echo, 1);
  ASSERT_GE(fd, 0);
  const ConnId id = IdOf(echo, 0);
  bool closed = false;
  thread.RunSync([&] { closed = loop_->Close(id, /*flush_first=*/false); });
  EXPECT_TRUE(closed);
  std::string rest;
  EXPECT_TRUE(test::ReadUntilEof(fd, &rest));
  ASSERT_TRUE(WaitFor([&] { return echo.closed.load() == 1; }));
  std::lock_guard<std::mutex> lock(echo.mu);
  EXPECT_EQ(echo.reasons[0], CloseReason::kClosedByUs);
  close(fd);
}

TEST_P(EventLoopTest, StaleConnectionIdIsIgnored) {
  EchoHandler echo;
  const uint16_t port = ListenEcho(&echo);
  LoopThread thread(loop_);
  const int a = ConnectAccepted(port, echo, 1);
  ASSERT_GE(a, 0);
  close(a);
  ASSERT_TRUE(WaitFor([&] { return echo.closed.load() == 1; }));
  // The next connection reuses the slot under a new generation.
  const int b = ConnectAccepted(port, echo, 2);
  ASSERT_GE(b, 0);
  const ConnId stale = IdOf(echo, 0);
  const ConnId live = IdOf(echo, 1);
  EXPECT_NE(stale, live);
  EXPECT_EQ(static_cast<uint32_t>(stale.value), static_cast<uint32_t>(live.value));
  thread.RunSync([&] {
    EXPECT_FALSE(loop_->Send(stale, "stale", 5));
    EXPECT_FALSE(loop_->SendV(stale, {"a", "b"}));
    EXPECT_EQ(loop_->Reserve(stale, 10), nullptr);
    loop_->Commit(stale, 10);
    EXPECT_EQ(loop_->PendingOutput(stale), 0u);
    EXPECT_FALSE(loop_->IsOpen(stale));
    EXPECT_FALSE(loop_->Close(stale, true));
    EXPECT_FALSE(loop_->Send(ConnId{}, "x", 1));
    EXPECT_FALSE(loop_->Send(ConnId{~uint64_t{0}}, "x", 1));
    EXPECT_TRUE(loop_->IsOpen(live));
    EXPECT_TRUE(loop_->SendV(live, {"he", "", "llo"}));
  });
  char got[5];
  ASSERT_TRUE(test::ReadExactly(b, got, sizeof(got)));
  EXPECT_EQ(std::string_view(got, 5), "hello");
  close(b);
  ASSERT_TRUE(WaitFor([&] { return echo.closed.load() == 2; }));
}

TEST_P(EventLoopTest, TimersFireInOrderAndCancelledOnesDoNot) {
  LoopThread thread(loop_);
  std::mutex mu;
  std::vector<int> fired;
  std::atomic<int> ticks{0};
  std::atomic<bool> sentinel{false};
  auto record = [&](int v) {
    return [&, v] {
      std::lock_guard<std::mutex> lock(mu);
      fired.push_back(v);
    };
  };
  TimerId periodic;
  thread.RunSync([&] {
    loop_->AddTimer(absl::Milliseconds(30), absl::ZeroDuration(), record(30));
    loop_->AddTimer(absl::Milliseconds(10), absl::ZeroDuration(), record(10));
    const TimerId cancelled = loop_->AddTimer(absl::Milliseconds(15), absl::ZeroDuration(), record(15));
    loop_->AddTimer(absl::Milliseconds(20), absl::ZeroDuration(), record(20));
    loop_->AddTimer(absl::Milliseconds(20), absl::ZeroDuration(), record(21));  // tie: creation order
    EXPECT_TRUE(loop_->CancelTimer(cancelled));
    EXPECT_FALSE(loop_->CancelTimer(cancelled));
    periodic = loop_->AddTimer(absl::Milliseconds(1), absl::Milliseconds(2), [&] {
      if (ticks.fetch_add(1) + 1 == 3) {
        EXPECT_TRUE(loop_->CancelTimer(periodic));
      }
    });
  });
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(mu);
    return fired.size() == 4;
  }));
  // A later timer proves the loop ran on past the cancelled ones.
  thread.RunSync([&] {
    loop_->AddTimer(absl::Milliseconds(20), absl::ZeroDuration(), [&] { sentinel = true; });
  });
  ASSERT_TRUE(WaitFor([&] { return sentinel.load(); }));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(fired, (std::vector<int>{10, 20, 21, 30}));
  EXPECT_EQ(ticks.load(), 3);
}

TEST_P(EventLoopTest, PostFromOtherThreadsWakesTheLoopInOrder) {
  LoopThread thread(loop_);  // idle: no timers, blocked in its wait
  constexpr int kThreads = 4;
  constexpr int kPosts = 2000;
  std::atomic<int> count{0};
  std::vector<int> last(kThreads, -1);  // loop thread only
  std::atomic<bool> in_order{true};
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t) {
    posters.emplace_back([&, t] {
      for (int i = 0; i < kPosts; ++i) {
        loop_->Post([&, t, i] {
          if (last[t] != i - 1) in_order = false;
          last[t] = i;
          count.fetch_add(1);
        });
      }
    });
  }
  for (auto& p : posters) p.join();
  ASSERT_TRUE(WaitFor([&] { return count.load() == kThreads * kPosts; }));
  EXPECT_TRUE(in_order.load());
}

TEST_P(EventLoopTest, StopFromAnotherThreadEndsRun) {
  std::atomic<bool> returned{false};
  std::thread runner([&] {
    EXPECT_TRUE(loop_->Run().ok());
    returned = true;
  });
  std::atomic<bool> running{false};
  loop_->Post([&] { running = true; });
  ASSERT_TRUE(WaitFor([&] { return running.load(); }));
  loop_->Stop();
  EXPECT_TRUE(WaitFor([&] { return returned.load(); }));
  runner.join();
  // A stopped loop runs again.
  std::atomic<bool> again{false};
  std::thread second([&] { EXPECT_TRUE(loop_->Run().ok()); });
  loop_->Post([&] { again = true; });
  EXPECT_TRUE(WaitFor([&] { return again.load(); }));
  loop_->Stop();
  second.join();
}

TEST_P(EventLoopTest, StopAcceptingRefusesNewConnectionsKeepsOld) {
  EchoHandler echo;
  const uint16_t port = ListenEcho(&echo);
  LoopThread thread(loop_);
  const int a = ConnectAccepted(port, echo, 1);
  ASSERT_GE(a, 0);
  thread.RunSync([&] { loop_->StopAccepting(); });
  // The listening socket is closed once the kernel lets go of it.
  ASSERT_TRUE(WaitFor([&] {
    const int fd = test::ConnectTcp(port);
    if (fd >= 0) close(fd);
    return fd < 0;
  }));
  ASSERT_TRUE(test::WriteAll(a, "ok", 2));
  char got[2];
  ASSERT_TRUE(test::ReadExactly(a, got, 2));
  close(a);
}

TEST_P(EventLoopTest, AcceptRecoversAfterRunningOutOfFds) {
  EchoHandler echo;
  const uint16_t port = ListenEcho(&echo);
  constexpr int kClients = 3;
  int fds[kClients];
  for (int& fd : fds) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
  }
  rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  // Every fd below the lowest free one is in use: a soft limit there makes
  // each accept fail with EMFILE.
  const int lowest_free = dup(0);
  ASSERT_GE(lowest_free, 0);
  close(lowest_free);
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(lowest_free);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  // io_uring reads RLIMIT_NOFILE when an accept is submitted, not when it
  // completes: the loop must arm its accept only now, under the low limit
  // (started earlier, it raced this thread and sometimes, under TSan, won).
  LoopThread thread(loop_);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int fd : fds) {
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  }
  thread.RunSync([] {});  // a turn with the listener readable
  EXPECT_EQ(echo.accepted.load(), 0);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_TRUE(WaitFor([&] { return echo.accepted.load() == kClients; }));
  for (int fd : fds) {
    ASSERT_TRUE(test::WriteAll(fd, "up", 2));
    char got[2];
    ASSERT_TRUE(test::ReadExactly(fd, got, 2));
    close(fd);
  }
}

TEST_P(EventLoopTest, IdleConnectionGivesBackItsBuffers) {
  BackendCase c = GetParam();
  c.options.idle_buffer_release = absl::Milliseconds(20);
  std::string why;
  loop_ = test::MakeLoop(c, &why);
  ASSERT_NE(loop_, nullptr) << why;
  class MeasuringEcho : public EchoHandler {
   public:
    void OnData(EventLoop& loop, ConnId id, const char* data, size_t len) override {
      EchoHandler::OnData(loop, id, data, len);
      memory_after_send = loop.BufferMemory(id);
    }
    std::atomic<size_t> memory_after_send{0};
  } echo;
  const uint16_t port = ListenEcho(&echo);
  LoopThread thread(loop_);
  const int fd = ConnectAccepted(port, echo, 1);
  ASSERT_GE(fd, 0);
  const ConnId id = IdOf(echo, 0);
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(test::WriteAll(fd, "abc", 3));
    char got[3];
    ASSERT_TRUE(test::ReadExactly(fd, got, 3));
    EXPECT_GT(echo.memory_after_send.load(), 0u);
    // Idle for two sweeps: the buffers are released; the next echo
    // allocates them again.
    ASSERT_TRUE(WaitFor([&] {
      size_t memory = 1;
      thread.RunSync([&] { memory = loop_->BufferMemory(id); });
      return memory == 0;
    }));
  }
  close(fd);
}

TEST_P(EventLoopTest, QuietConnectionHoldsNoBufferOnceDrainedBusyOneKeepsIt) {
  BackendCase c = GetParam();
  c.options.idle_buffer_release = absl::Hours(1);  // no sweep during the test
  std::string why;
  loop_ = test::MakeLoop(c, &why);
  ASSERT_NE(loop_, nullptr) << why;
  EchoHandler echo;
  const uint16_t port = ListenEcho(&echo);
  LoopThread thread(loop_);
  const int fd = ConnectAccepted(port, echo, 1);
  ASSERT_GE(fd, 0);
  const ConnId id = IdOf(echo, 0);
  auto memory = [&] {
    size_t m = 0;
    thread.RunSync([&] { m = loop_->BufferMemory(id); });
    return m;
  };
  auto echo_once = [&] {
    char got[3];
    return test::WriteAll(fd, "abc", 3) && test::ReadExactly(fd, got, 3);
  };
  // A few replies (a handshake's INFO, PONG, +OK): each buffer goes back
  // as soon as the kernel has taken its bytes, without waiting for a sweep.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(echo_once());
    ASSERT_TRUE(WaitFor([&] { return memory() == 0; })) << "after reply " << i;
  }
  // A connection with output in many flushes is busy: it keeps its buffer
  // across drains (so its steady state allocates nothing).
  for (int i = 0; i < 2 * Connection::kBusyFlushes; ++i) ASSERT_TRUE(echo_once());
  EXPECT_GT(memory(), 0u);
  close(fd);
}

TEST_P(EventLoopTest, PauseHoldsInputUntilResume) {
  class PausingEcho : public EchoHandler {
   public:
    void OnAccept(EventLoop& loop, ConnId id, const PeerInfo& peer) override {
      loop.PauseReading(id);
      EchoHandler::OnAccept(loop, id, peer);
    }
  } paused;
  const uint16_t port = ListenEcho(&paused);
  EchoHandler echo;
  const uint16_t echo_port = ListenEcho(&echo);
  LoopThread thread(loop_);
  const int a = ConnectAccepted(port, paused, 1);
  ASSERT_GE(a, 0);
  ASSERT_TRUE(test::WriteAll(a, "held", 4));
  // A round trip on another connection: the loop has seen a's bytes by now.
  const int b = test::ConnectTcp(echo_port);
  ASSERT_TRUE(test::WriteAll(b, "x", 1));
  char x;
  ASSERT_TRUE(test::ReadExactly(b, &x, 1));
  EXPECT_EQ(paused.bytes.load(), 0u);
  const ConnId id = IdOf(paused, 0);
  thread.RunSync([&] { loop_->ResumeReading(id); });
  char got[4];
  ASSERT_TRUE(test::ReadExactly(a, got, 4));
  EXPECT_EQ(std::string_view(got, 4), "held");
  close(a);
  close(b);
}

TEST(EventLoopAuto, PicksUringHere) {
  auto loop = EventLoop::Create({});
  ASSERT_TRUE(loop.ok()) << loop.status();
  EXPECT_EQ((*loop)->backend_name(), "uring");
}

TEST(EventLoopAuto, ParseBackend) {
  EXPECT_EQ(*ParseBackend("auto"), Backend::kAuto);
  EXPECT_EQ(*ParseBackend("uring"), Backend::kUring);
  EXPECT_EQ(*ParseBackend("epoll"), Backend::kEpoll);
  EXPECT_FALSE(ParseBackend("kqueue").ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, EventLoopTest, ::testing::ValuesIn(test::AllBackends()),
                         test::BackendCaseName);

}  // namespace
}  // namespace shortbus::io
