// ListenTcp and ListenUnix: real ports, exact modes, stale sockets replaced,
// live ones refused; accepting through each backend.
#include "io/listen.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "io/event_loop.h"
#include "tests/io/io_test_util.h"

namespace shortbus::io {
namespace {

using test::TempDir;

// Sets the process umask for a scope.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(umask(mask)) {}
  ~ScopedUmask() { umask(old_); }

 private:
  mode_t old_;
};

mode_t ModeOf(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode;
}

// Leaves a socket file at path with nothing listening (a crashed daemon's).
void MakeStaleSocket(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);
  ASSERT_TRUE(S_ISSOCK(ModeOf(path)));
}

TEST(ListenTcp, PortZeroReportsTheBoundPort) {
  auto l = ListenTcp("127.0.0.1", 0);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_NE(l->port, 0);
  const int fd = test::ConnectTcp(l->port);
  EXPECT_GE(fd, 0);
  if (fd >= 0) close(fd);
  EXPECT_NE(fcntl(l->fd, F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(fcntl(l->fd, F_GETFD) & FD_CLOEXEC, 0);
  close(l->fd);
}

TEST(ListenTcp, PortInUseIsAnError) {
  auto a = ListenTcp("127.0.0.1", 0);
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = ListenTcp("127.0.0.1", a->port);
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(absl::IsAlreadyExists(b.status())) << b.status();
  close(a->fd);
}

TEST(ListenTcp, UnresolvableHostIsAnError) {
  auto l = ListenTcp("no such host.invalid", 0);
  EXPECT_FALSE(l.ok());
}

TEST(ListenUnix, ModeIsExactWhateverTheUmask) {
  TempDir dir;
  {
    ScopedUmask mask(0);
    const std::string path = dir.path() + "/a.sock";
    auto fd = ListenUnix(path, 0600);
    ASSERT_TRUE(fd.ok()) << fd.status();
    EXPECT_EQ(ModeOf(path) & 0777, 0600u);
    EXPECT_TRUE(S_ISSOCK(ModeOf(path)));
    close(*fd);
  }
  {
    ScopedUmask mask(077);
    const std::string path = dir.path() + "/b.sock";
    auto fd = ListenUnix(path, 0660);
    ASSERT_TRUE(fd.ok()) << fd.status();
    EXPECT_EQ(ModeOf(path) & 0777, 0660u);
    close(*fd);
  }
  // No temporary name is left behind.
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 2);
}

TEST(ListenUnix, StaleSocketIsReplaced) {
  TempDir dir;
  const std::string path = dir.path() + "/stale.sock";
  MakeStaleSocket(path);
  auto fd = ListenUnix(path, 0600);
  ASSERT_TRUE(fd.ok()) << fd.status();
  const int c = test::ConnectUnix(path);
  EXPECT_GE(c, 0);
  if (c >= 0) close(c);
  close(*fd);
}

TEST(ListenUnix, LiveSocketIsRefusedAndKeepsWorking) {
  TempDir dir;
  const std::string path = dir.path() + "/live.sock";
  auto first = ListenUnix(path, 0600);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = ListenUnix(path, 0600);
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsAlreadyExists(second.status())) << second.status();
  EXPECT_NE(second.status().message().find("something listens on"), absl::string_view::npos)
      << second.status();
  // The first listener's socket file is untouched.
  const int c = test::ConnectUnix(path);
  EXPECT_GE(c, 0);
  if (c >= 0) close(c);
  close(*first);
}

TEST(ListenUnix, RegularFileIsNotReplaced) {
  TempDir dir;
  const std::string path = dir.path() + "/file";
  const int f = open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  ASSERT_GE(f, 0);
  close(f);
  auto fd = ListenUnix(path, 0600);
  ASSERT_FALSE(fd.ok());
  EXPECT_NE(fd.status().message().find("not a socket"), absl::string_view::npos) << fd.status();
  EXPECT_TRUE(S_ISREG(ModeOf(path)));
}

TEST(ListenUnix, TooLongPathIsInvalid) {
  auto fd = ListenUnix("/tmp/" + std::string(200, 'x'), 0600);
  ASSERT_FALSE(fd.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(fd.status())) << fd.status();
}

class ListenLoopTest : public ::testing::TestWithParam<test::BackendCase> {};

// A replaced stale socket accepts through the loop, which reports the
// listener's name as the peer.
TEST_P(ListenLoopTest, AcceptsOnReplacedStaleSocket) {
  std::string why;
  std::unique_ptr<EventLoop> loop = test::MakeLoop(GetParam(), &why);
  if (loop == nullptr) GTEST_SKIP() << why;
  TempDir dir;
  const std::string path = dir.path() + "/shortbus.sock";
  MakeStaleSocket(path);
  auto fd = ListenUnix(path, 0600);
  ASSERT_TRUE(fd.ok()) << fd.status();
  test::EchoHandler echo;
  ASSERT_TRUE(loop->AddListener(*fd, &echo, path).ok());
  test::LoopThread thread(loop);
  const int c = test::ConnectUnix(path);
  ASSERT_GE(c, 0);
  ASSERT_TRUE(test::WriteAll(c, "ping", 4));
  char got[4];
  ASSERT_TRUE(test::ReadExactly(c, got, 4));
  EXPECT_EQ(std::string_view(got, 4), "ping");
  close(c);
  ASSERT_TRUE(test::WaitFor([&] { return echo.closed.load() == 1; }));
  std::lock_guard<std::mutex> lock(echo.mu);
  EXPECT_EQ(echo.peers[0], path);
}

INSTANTIATE_TEST_SUITE_P(Backends, ListenLoopTest, ::testing::ValuesIn(test::AllBackends()),
                         test::BackendCaseName);

}  // namespace
}  // namespace shortbus::io
