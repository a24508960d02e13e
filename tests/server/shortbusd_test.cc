// The real shortbusd binary: flags, port file, lock, listeners, signals,
// and PUB/SUB through it, on each event loop backend.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "tests/server/daemon_harness.h"

namespace shortbus::testing {
namespace {

class ShortbusdTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string data() const { return dir_ / "data"; }
  std::string sock() const { return dir_ / "s.sock"; }
  std::string io() const { return "--io=" + GetParam(); }

  // shortbusd on tcp://127.0.0.1:0 and unix:DIR/s.sock; returns the port.
  std::unique_ptr<Child> Start(std::vector<std::string> extra = {},
                               const std::string& log = "shortbusd.log") {
    std::vector<std::string> args = {"--data", data(), "--listen", "tcp://127.0.0.1:0",
                                     "--listen", "unix:" + sock(), io()};
    args.insert(args.end(), extra.begin(), extra.end());
    auto child = std::make_unique<Child>(ShortbusdPath(), args, dir_ / log);
    port_ = WaitReady(*child, data(), /*wait_port=*/true);
    return child;
  }

  // Writes a --config file into the temp directory; returns its path.
  std::string Config(const std::string& json) const {
    const std::string path = dir_ / "config.json";
    std::FILE* f = std::fopen(path.c_str(), "w");
    std::fputs(json.c_str(), f);
    std::fclose(f);
    return path;
  }

  TempDir dir_;
  int port_ = -1;
};

TEST_P(ShortbusdTest, WritesThePortFileAndServesTcpAndUnix) {
  auto d = Start();
  ASSERT_GT(port_, 0) << d->Log();
  EXPECT_EQ(ReadFileOr(data() + "/shortbus.port", ""), std::to_string(port_) + "\n");
  EXPECT_NE(d->Log().find("pid " + std::to_string(d->pid())), std::string::npos) << d->Log();
  const int tcp_fd = ConnectTcp(port_);
  for (int fd : {tcp_fd, ConnectUnix(sock())}) {
    ASSERT_GE(fd, 0);
    std::string got;
    EXPECT_TRUE(ReadUntilContains(fd, &got, "\r\n"));
    EXPECT_TRUE(got.starts_with("INFO {")) << got;
    // Over TCP, client_ip is the address alone, as nats-server sends it.
    const bool tcp = got.find("\"client_ip\"") != std::string::npos;
    EXPECT_EQ(tcp, fd == tcp_fd) << got;
    if (tcp) {
      EXPECT_NE(got.find("\"client_ip\":\"127.0.0.1\"}"), std::string::npos) << got;
    }
    ::close(fd);
  }
  EXPECT_EQ(d->Terminate(), 0);
}

TEST_P(ShortbusdTest, DataDirectoryIsCreatedPrivate) {
  auto d = Start();
  ASSERT_GT(port_, 0) << d->Log();
  struct stat st {};
  ASSERT_EQ(::stat(data().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat(sock().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(d->Terminate(), 0);
}

TEST_P(ShortbusdTest, SecondDaemonOnTheSameDataDirectoryNamesThePid) {
  auto first = Start();
  ASSERT_GT(port_, 0) << first->Log();
  Child second(ShortbusdPath(),
               {"--data", data(), "--listen", "tcp://127.0.0.1:0", io()}, dir_ / "second.log");
  const std::optional<int> code = second.WaitExit();
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 1);
  EXPECT_NE(second.Log().find("is in use by pid " + std::to_string(first->pid())),
            std::string::npos)
      << second.Log();
  EXPECT_EQ(first->Terminate(), 0);
}

TEST_P(ShortbusdTest, StaleSocketFileIsReplaced) {
  ASSERT_EQ(::mkdir(data().c_str(), 0700), 0);
  {  // a socket file nobody listens on any more
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock().c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
  }
  auto d = Start();
  ASSERT_GT(port_, 0) << d->Log();
  const int fd = ConnectUnix(sock());
  ASSERT_GE(fd, 0);
  std::string got;
  EXPECT_TRUE(ReadUntilContains(fd, &got, "INFO {"));
  ::close(fd);
  EXPECT_EQ(d->Terminate(), 0);
}

TEST_P(ShortbusdTest, LiveSocketIsRefused) {
  auto d = Start();
  ASSERT_GT(port_, 0) << d->Log();
  Child other(ShortbusdPath(), {"--data", dir_ / "other", "--listen", "unix:" + sock(), io()},
              dir_ / "other.log");
  const std::optional<int> code = other.WaitExit();
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 1);
  EXPECT_NE(other.Log().find("something listens on"), std::string::npos) << other.Log();
  // The first daemon's socket is untouched.
  const int fd = ConnectUnix(sock());
  ASSERT_GE(fd, 0);
  ::close(fd);
  EXPECT_EQ(d->Terminate(), 0);
}

TEST_P(ShortbusdTest, SigtermExitsZeroAndRemovesSocketAndPortFiles) {
  auto d = Start();
  ASSERT_GT(port_, 0) << d->Log();
  const int fd = ConnectUnix(sock());  // a client still connected
  ASSERT_GE(fd, 0);
  std::string got;
  ASSERT_TRUE(ReadUntilContains(fd, &got, "\r\n"));
  EXPECT_EQ(d->Terminate(), 0) << d->Log();
  EXPECT_TRUE(ReadUntilEof(fd, &got));
  ::close(fd);
  EXPECT_NE(::access(sock().c_str(), F_OK), 0);
  EXPECT_NE(::access((data() + "/shortbus.port").c_str(), F_OK), 0);
  // The lock is released: a new daemon starts on the same directory.
  auto again = Start();
  EXPECT_GT(port_, 0) << again->Log();
  EXPECT_EQ(again->Terminate(), 0);
}

TEST_P(ShortbusdTest, SigintExitsZero) {
  auto d = Start();
  ASSERT_GT(port_, 0) << d->Log();
  ::kill(d->pid(), SIGINT);
  EXPECT_EQ(d->WaitExit(), 0);
}

TEST_P(ShortbusdTest, PubSubAcrossUnixAndTcp) {
  auto d = Start();
  ASSERT_GT(port_, 0) << d->Log();
  const int sub = ConnectUnix(sock());
  const int pub = ConnectTcp(port_);
  ASSERT_GE(sub, 0);
  ASSERT_GE(pub, 0);
  std::string s, p;
  ASSERT_TRUE(WriteAll(sub, "CONNECT {\"verbose\":false}\r\nSUB foo.* 7\r\nPING\r\n"));
  ASSERT_TRUE(ReadUntilContains(sub, &s, "PONG\r\n")) << s;
  ASSERT_TRUE(WriteAll(pub, "CONNECT {\"verbose\":false}\r\nPUB foo.bar 5\r\nhello\r\nPING\r\n"));
  ASSERT_TRUE(ReadUntilContains(pub, &p, "PONG\r\n")) << p;
  EXPECT_TRUE(ReadUntilContains(sub, &s, "MSG foo.bar 7 5\r\nhello\r\n")) << s;
  ::close(sub);
  ::close(pub);
  EXPECT_EQ(d->Terminate(), 0);
}

// A subscriber that never reads while a publisher floods its subject is cut
// off as a slow consumer; another subscriber keeps receiving everything.
TEST_P(ShortbusdTest, SlowConsumerIsCutOffOthersKeepReceiving) {
  // The cut-off's flush (its queued messages, then the -ERR) waits for the
  // slow client, which reads only after the flood; write_deadline must
  // outlast the flood (about 2 s under TSan) or the -ERR is dropped with it.
  const std::string config =
      Config(R"({"max_payload": 65536, "max_pending": 1048576, "write_deadline": "30s"})");
  auto d = Start({"--config", config});
  ASSERT_GT(port_, 0) << d->Log();
  const int slow = ConnectUnix(sock());
  const int good = ConnectUnix(sock());
  const int pub = ConnectUnix(sock());
  ASSERT_GE(slow, 0);
  ASSERT_GE(good, 0);
  ASSERT_GE(pub, 0);
  std::string s, g, p;
  for (auto [fd, out] : {std::pair{slow, &s}, std::pair{good, &g}}) {
    ASSERT_TRUE(WriteAll(fd, "CONNECT {\"verbose\":false}\r\nSUB flood 1\r\nPING\r\n"));
    ASSERT_TRUE(ReadUntilContains(fd, out, "PONG\r\n"));
  }
  constexpr int kMessages = 20000;  // 1 KiB each: 20 MiB, far over max_pending
  const std::string payload(1024, 'x');
  std::atomic<int> received{0};
  std::thread reader([&] {
    std::string buf;
    size_t pos = 0;
    ReadUntil(good, &buf, [&](const std::string& b) {
      for (size_t at; (at = b.find("MSG flood 1 1024\r\n", pos)) != std::string::npos;) {
        pos = at + 1;
        received.fetch_add(1);
      }
      return received.load() >= kMessages;
    }, Millis(60000));
  });
  // The publisher stays at most kWindow messages ahead of the good
  // subscriber, so only the one that never reads falls behind.
  constexpr int kWindow = 256;
  std::string batch;
  for (int i = 0; i < kMessages; ++i) {
    batch += "PUB flood 1024\r\n" + payload + "\r\n";
    if (batch.size() >= 64 * 1024 || i + 1 == kMessages) {
      ASSERT_TRUE(WaitFor([&] { return received.load() >= i - kWindow; })) << received.load();
      ASSERT_TRUE(WriteAll(pub, batch));
      batch.clear();
    }
  }
  reader.join();
  EXPECT_EQ(received.load(), kMessages);
  // The slow one: whatever it gets, then the end of the connection.
  std::string rest;
  EXPECT_TRUE(ReadUntilEof(slow, &rest, Millis(20000)));
  EXPECT_LT(rest.size(), size_t{kMessages} * 1024);
  EXPECT_TRUE(rest.ends_with("-ERR 'Slow Consumer'\r\n")) << rest.size();
  // The publisher was never cut off.
  ASSERT_TRUE(WriteAll(pub, "PING\r\n"));
  EXPECT_TRUE(ReadUntilContains(pub, &p, "PONG\r\n")) << p;
  ::close(slow);
  ::close(good);
  ::close(pub);
  EXPECT_EQ(d->Terminate(), 0);
}

// A publisher faster than a subscriber that does read: the daemon stops
// reading the publisher for a while instead of cutting the subscriber off.
TEST_P(ShortbusdTest, FastPublisherIsSlowedNotTheReadingSubscriberCut) {
  const std::string config = Config(R"({"max_payload": 65536, "max_pending": 1048576})");
  auto d = Start({"--config", config});
  ASSERT_GT(port_, 0) << d->Log();
  const int sub = ConnectUnix(sock());
  const int pub = ConnectUnix(sock());
  ASSERT_GE(sub, 0);
  ASSERT_GE(pub, 0);
  std::string s, p;
  ASSERT_TRUE(WriteAll(sub, "CONNECT {\"verbose\":false}\r\nSUB fast 1\r\nPING\r\n"));
  ASSERT_TRUE(ReadUntilContains(sub, &s, "PONG\r\n"));
  constexpr int kMessages = 20000;  // 20 MiB, 20 times max_pending, unpaced
  // 250 messages a write (256 KiB), all built before the clock starts: the
  // publisher thread only writes, so it takes no CPU from the reader (under
  // TSan both are slow enough to matter against the daemon's 100 ms stall).
  constexpr int kBatch = 250;
  static_assert(kMessages % kBatch == 0);
  std::string batch;
  for (int i = 0; i < kBatch; ++i) batch += "PUB fast 1024\r\n" + std::string(1024, 'y') + "\r\n";
  std::thread publisher([&] {
    for (int i = 0; i < kMessages / kBatch; ++i) {
      if (!WriteAll(pub, batch)) return;
    }
  });
  int received = 0;
  size_t pos = 0;
  bool eof = false;
  // Room for every message up front: growing a 16 MiB buffer stops this
  // reader longer than the daemon's stall bound under TSan.
  s.reserve(s.size() + size_t{kMessages} * 1100);
  ReadUntil(sub, &s, [&](const std::string& b) {
    for (size_t at; (at = b.find("MSG fast 1 1024\r\n", pos)) != std::string::npos;) {
      pos = at + 1;
      ++received;
    }
    return received >= kMessages;
  }, Millis(60000), &eof);
  publisher.join();
  EXPECT_EQ(received, kMessages);
  EXPECT_FALSE(eof);
  EXPECT_EQ(s.find("-ERR"), std::string::npos);
  ::close(sub);
  ::close(pub);
  EXPECT_EQ(d->Terminate(), 0);
}

TEST_P(ShortbusdTest, BadFlagsExitTwoNamingTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const Case cases[] = {
      {{"--bogus"}, "unknown flag: --bogus"},
      {{"--sync", "sometimes"}, "--sync"},
      {{"--sync-interval=soon"}, "--sync-interval"},
      {{"--io=kqueue"}, "--io"},
      {{"--listen", "udp://x:1"}, "--listen"},
      {{"--listen", "tcp://127.0.0.1:70000"}, "--listen"},
      {{"--data"}, "missing value for --data"},
  };
  int i = 0;
  for (const Case& c : cases) {
    Child child(ShortbusdPath(), c.args, dir_ / ("bad" + std::to_string(i++) + ".log"));
    EXPECT_EQ(child.WaitExit(), 2) << c.says;
    EXPECT_NE(child.Log().find(c.says), std::string::npos) << child.Log();
  }
  Child help(ShortbusdPath(), {"--help"}, dir_ / "help.log");
  EXPECT_EQ(help.WaitExit(), 0);
  EXPECT_NE(help.Log().find("--listen tcp://HOST:PORT"), std::string::npos);
  Child version(ShortbusdPath(), {"--version"}, dir_ / "version.log");
  EXPECT_EQ(version.WaitExit(), 0);
  EXPECT_TRUE(version.Log().starts_with("shortbusd ")) << version.Log();
}

TEST_P(ShortbusdTest, BadConfigFileExitsOne) {
  const std::string config = Config(R"({"max_payloadz": 1})");
  Child child(ShortbusdPath(), {"--data", data(), "--listen", "tcp://127.0.0.1:0",
                                "--config", config, io()}, dir_ / "config.log");
  EXPECT_EQ(child.WaitExit(), 1);
  EXPECT_NE(child.Log().find("max_payloadz"), std::string::npos) << child.Log();
}

INSTANTIATE_TEST_SUITE_P(Backends, ShortbusdTest, ::testing::Values("epoll", "uring"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace shortbus::testing
