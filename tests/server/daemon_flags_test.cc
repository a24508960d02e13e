// shortbusd's flags as the design brief fixes them.
#include "server/daemon_flags.h"

#include <vector>

#include "gtest/gtest.h"

namespace shortbus::server {
namespace {

absl::StatusOr<DaemonFlags> Parse(std::vector<const char*> args) {
  args.insert(args.begin(), "shortbusd");
  return ParseDaemonFlags(static_cast<int>(args.size()), args.data());
}

TEST(DaemonFlags, DefaultsFollowTheBrief) {
  absl::StatusOr<DaemonFlags> f = Parse({});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->data_dir, "./data");
  ASSERT_EQ(f->listen.size(), 2u);
  EXPECT_EQ(f->listen[0].kind, ListenAddress::Kind::kUnix);
  EXPECT_EQ(f->listen[0].path, "./data/shortbus.sock");
  EXPECT_EQ(f->listen[1].kind, ListenAddress::Kind::kTcp);
  EXPECT_EQ(f->listen[1].host, "127.0.0.1");
  EXPECT_EQ(f->listen[1].port, 4222);
  EXPECT_EQ(f->sync, engine::SyncMode::kInterval);
  EXPECT_EQ(f->sync_interval, absl::Seconds(1));
  EXPECT_EQ(f->backend, io::Backend::kAuto);
}

TEST(DaemonFlags, DefaultSocketFollowsData) {
  absl::StatusOr<DaemonFlags> f = Parse({"--data", "/var/sb"});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->listen[0].path, "/var/sb/shortbus.sock");
}

TEST(DaemonFlags, RepeatedListenBothForms) {
  absl::StatusOr<DaemonFlags> f =
      Parse({"--listen=tcp://[::1]:0", "--listen", "unix:/tmp/x.sock", "--listen",
             "unix:///tmp/y.sock", "--sync", "always", "--sync-interval=250ms", "--io=epoll",
             "--config", "c.json"});
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ(f->listen.size(), 3u);
  EXPECT_EQ(f->listen[0].host, "::1");
  EXPECT_EQ(f->listen[0].port, 0);
  EXPECT_EQ(f->listen[1].path, "/tmp/x.sock");
  EXPECT_EQ(f->listen[2].path, "/tmp/y.sock");
  EXPECT_EQ(f->sync, engine::SyncMode::kAlways);
  EXPECT_EQ(f->sync_interval, absl::Milliseconds(250));
  EXPECT_EQ(f->backend, io::Backend::kEpoll);
  EXPECT_EQ(f->config_file, "c.json");
}

TEST(DaemonFlags, ErrorsNameTheFlag) {
  const std::vector<std::pair<std::vector<const char*>, std::string>> cases = {
      {{"--nope"}, "unknown flag: --nope"},
      {{"--listen"}, "missing value for --listen"},
      {{"--listen", "tcp://127.0.0.1"}, "--listen"},
      {{"--listen", "tcp://:80"}, "--listen"},
      {{"--listen", "unix:"}, "--listen"},
      {{"--sync", "often"}, "--sync"},
      {{"--sync-interval", "0s"}, "--sync-interval"},
      {{"--io", "select"}, "--io"},
      {{"--data="}, "--data"},
  };
  for (const auto& [args, says] : cases) {
    absl::StatusOr<DaemonFlags> f = Parse(args);
    ASSERT_FALSE(f.ok()) << says;
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(f.status().message().find(says), std::string::npos) << f.status();
  }
}

}  // namespace
}  // namespace shortbus::server
