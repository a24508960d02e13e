// The real shortbusd: who may reach it (socket and data directory modes and
// owner, the warning when TCP listens beyond loopback without
// authentication), and each per-connection and daemon limit exceeded by a
// client over the Unix socket, with the daemon answering everyone else
// meanwhile. Permissions typed at the socket: nc_transcript_test.cc
// (NcTranscript.Authorization); with the C client against both servers:
// tests/e2e/auth_c_test.cc.
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/server/daemon_harness.h"

namespace shortbus::testing {
namespace {

class SecurityTest : public ::testing::Test {
 protected:
  std::string data() const { return dir_ / "data"; }
  std::string sock() const { return dir_ / "s.sock"; }

  // shortbusd on unix:DIR/s.sock (and `extra`), run by `wrapper` when not
  // empty (e.g. {"unshare", "-n"}); waits for the start-up line.
  std::unique_ptr<Child> Start(std::vector<std::string> extra = {}, std::vector<std::string> wrapper = {},
                               const std::string& config = "") {
    std::vector<std::string> args = wrapper;
    if (!args.empty()) args.push_back(ShortbusdPath());
    for (const std::string& a : {std::string("--data"), data(), std::string("--listen"), "unix:" + sock()}) {
      args.push_back(a);
    }
    if (!config.empty()) {
      EXPECT_TRUE(WriteFile(dir_ / "config.json", config));
      args.insert(args.end(), {"--config", dir_ / "config.json"});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    const std::string binary = wrapper.empty() ? ShortbusdPath() : args.front();
    if (!wrapper.empty()) args.erase(args.begin());
    auto child = std::make_unique<Child>(binary, args, dir_ / ("d" + std::to_string(++starts_) + ".log"));
    EXPECT_GE(WaitReady(*child, data(), /*wait_port=*/false), 0) << child->Log();
    return child;
  }

  // A connected client over the Unix socket that has read INFO.
  int Client() {
    const int fd = ConnectUnix(sock());
    std::string info;
    EXPECT_GE(fd, 0);
    EXPECT_TRUE(ReadUntilContains(fd, &info, "\r\n")) << info;
    return fd;
  }
  // The daemon answers a fresh client's PING.
  bool Responsive() {
    const int fd = Client();
    std::string got;
    const bool ok = WriteAll(fd, "PING\r\n") && ReadUntilContains(fd, &got, "PONG\r\n");
    ::close(fd);
    return ok;
  }

  TempDir dir_;
  int starts_ = 0;
};

TEST_F(SecurityTest, SocketAndDataDirectoryBelongToTheDaemonsUserAlone) {
  auto d = Start();
  struct stat st {};
  ASSERT_EQ(::stat(sock().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_uid, ::geteuid());
  EXPECT_EQ(st.st_gid, ::getegid());
  ASSERT_EQ(::stat(data().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(st.st_uid, ::geteuid());
  EXPECT_EQ(d->Log().find("warning"), std::string::npos) << d->Log();
  EXPECT_EQ(d->Terminate(), 0);
}

TEST_F(SecurityTest, AnExistingDataDirectoryOthersMayEnterIsWarnedAbout) {
  ASSERT_EQ(::mkdir(data().c_str(), 0700), 0);
  ASSERT_EQ(::chmod(data().c_str(), 0755), 0);
  auto d = Start();
  EXPECT_NE(d->Log().find("warning: data directory " + data() + " has mode 0755"), std::string::npos)
      << d->Log();
  EXPECT_EQ(d->Terminate(), 0);
}

// Listening on 0.0.0.0 happens inside a network namespace of its own
// (unshare -n): nothing outside this test can reach it.
TEST_F(SecurityTest, ListeningBeyondLoopbackWithoutAuthenticationWarns) {
  const std::vector<std::string> netns =
      ::geteuid() == 0 ? std::vector<std::string>{"/usr/bin/unshare", "-n"}
                       : std::vector<std::string>{"/usr/bin/unshare", "-rn"};
  {
    Child probe(netns[0], {netns[1], "/bin/true"}, dir_ / "probe.log");
    if (probe.WaitExit() != 0) GTEST_SKIP() << "cannot make a network namespace: " << probe.Log();
  }
  const std::string warning = "warning: tcp://0.0.0.0:";
  auto open = Start({"--listen", "tcp://0.0.0.0:0"}, netns);
  EXPECT_NE(open->Log().find(warning), std::string::npos) << open->Log();
  EXPECT_NE(open->Log().find("no authentication is configured"), std::string::npos) << open->Log();
  EXPECT_EQ(open->Terminate(), 0);

  auto authenticated = Start({"--listen", "tcp://0.0.0.0:0"}, netns, R"({"authorization": {"token": "t"}})");
  EXPECT_EQ(authenticated->Log().find("warning"), std::string::npos) << authenticated->Log();
  EXPECT_EQ(authenticated->Terminate(), 0);

  for (const char* loopback : {"tcp://127.0.0.1:0", "tcp://127.1.2.3:0"}) {
    auto local = Start({"--listen", loopback}, netns);
    EXPECT_EQ(local->Log().find("warning"), std::string::npos) << loopback << "\n" << local->Log();
    EXPECT_EQ(local->Terminate(), 0);
  }
}

constexpr char kLimits[] = R"({"max_payload": 1024, "max_control_line": 256, "max_connections": 4,
                               "max_subscriptions": 2, "max_pending": 65536})";

TEST_F(SecurityTest, PayloadAndControlLineLimitsCloseTheOffender) {
  auto d = Start({}, {}, kLimits);
  struct Case {
    std::string typed, error;
  };
  const Case cases[] = {
      {"PUB a 1025\r\n", "-ERR 'Maximum Payload Violation'\r\n"},
      {"SUB " + std::string(300, 'a') + " 1\r\n", "-ERR 'maximum control line exceeded'\r\n"},
      // Never ended: refused once the limit passes, not at the line's end.
      {"PUB " + std::string(300, 'b'), "-ERR 'maximum control line exceeded'\r\n"},
  };
  for (const Case& c : cases) {
    const int fd = Client();
    ASSERT_TRUE(WriteAll(fd, c.typed));
    std::string got;
    EXPECT_TRUE(ReadUntilEof(fd, &got)) << c.error;
    EXPECT_EQ(got, c.error);
    ::close(fd);
    EXPECT_TRUE(Responsive());
  }
  // Exactly at the limits is fine.
  const int fd = Client();
  std::string got;
  ASSERT_TRUE(WriteAll(fd, "CONNECT {\"verbose\":false}\r\nSUB " + std::string(250, 'c') + " 1\r\nPUB " +
                               std::string(250, 'c') + " 1024\r\n" + std::string(1024, 'x') + "\r\nPING\r\n"));
  EXPECT_TRUE(ReadUntilContains(fd, &got, "PONG\r\n")) << got;
  EXPECT_TRUE(got.starts_with("MSG " + std::string(250, 'c') + " 1 1024\r\n")) << got.substr(0, 80);
  ::close(fd);
  EXPECT_EQ(d->Terminate(), 0);
}

TEST_F(SecurityTest, MaxSubscriptionsRefusesTheSubAndKeepsTheConnection) {
  auto d = Start({}, {}, kLimits);
  const int fd = Client();
  std::string got;
  ASSERT_TRUE(WriteAll(fd, "CONNECT {\"verbose\":false}\r\nSUB a 1\r\nSUB b 2\r\nSUB c 3\r\nPING\r\n"));
  EXPECT_TRUE(ReadUntilContains(fd, &got, "PONG\r\n")) << got;
  EXPECT_EQ(got, "-ERR 'maximum subscriptions exceeded'\r\nPONG\r\n");
  got.clear();
  ASSERT_TRUE(WriteAll(fd, "UNSUB 1\r\nSUB c 3\r\nPUB c 2\r\nok\r\nPING\r\n"));
  EXPECT_TRUE(ReadUntilContains(fd, &got, "PONG\r\n")) << got;
  EXPECT_EQ(got, "MSG c 3 2\r\nok\r\nPONG\r\n");
  ::close(fd);
  EXPECT_EQ(d->Terminate(), 0);
}

TEST_F(SecurityTest, MaxConnectionsRefusesTheNextAndFreesTheSlotOnClose) {
  auto d = Start({}, {}, kLimits);
  std::vector<int> held;
  for (int i = 0; i < 4; ++i) held.push_back(Client());
  const int extra = ConnectUnix(sock());
  ASSERT_GE(extra, 0);
  std::string got;
  EXPECT_TRUE(ReadUntilEof(extra, &got));
  EXPECT_TRUE(got.starts_with("INFO {")) << got;
  EXPECT_TRUE(got.ends_with("\r\n-ERR 'maximum connections exceeded'\r\n")) << got;
  ::close(extra);
  // The held ones are served; one closed makes room for a new one.
  got.clear();
  ASSERT_TRUE(WriteAll(held[0], "PING\r\n"));
  EXPECT_TRUE(ReadUntilContains(held[0], &got, "PONG\r\n"));
  ::close(held[1]);
  EXPECT_TRUE(WaitFor([&] { return Responsive(); }));
  for (int fd : held) ::close(fd);
  EXPECT_EQ(d->Terminate(), 0);
}

}  // namespace
}  // namespace shortbus::testing
