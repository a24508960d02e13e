// The JSON config file: defaults, every key, and errors naming the key.
#include "server/server_options.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace shortbus::server {
namespace {

TEST(ServerOptions, DefaultsFollowNatsServer) {
  ServerOptions o;
  EXPECT_EQ(o.max_payload, 1 << 20);
  EXPECT_EQ(o.max_control_line, 4096);
  EXPECT_EQ(o.max_connections, 65536);
  EXPECT_EQ(o.ping_interval, absl::Minutes(2));
  EXPECT_EQ(o.max_pings_out, 2);
  EXPECT_EQ(o.max_pending, 64 << 20);
  EXPECT_EQ(o.auth_timeout, absl::Seconds(2));
  EXPECT_FALSE(o.auth_required());
  EXPECT_TRUE(ValidateOptions(o).ok());
}

TEST(ServerOptions, EveryKey) {
  absl::StatusOr<ServerOptions> o = ParseConfig(R"({
    "server_name": "box",
    "max_payload": 2048,
    "max_control_line": 512,
    "max_connections": 10,
    "ping_interval": "30s",
    "ping_max": 3,
    "max_pending": 1048576,
    "write_deadline": "2s",
    "authorization": {"token": "s3cr3t", "timeout": 1.5}
  })");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->server_name, "box");
  EXPECT_EQ(o->max_payload, 2048);
  EXPECT_EQ(o->max_control_line, 512);
  EXPECT_EQ(o->max_connections, 10);
  EXPECT_EQ(o->ping_interval, absl::Seconds(30));
  EXPECT_EQ(o->max_pings_out, 3);
  EXPECT_EQ(o->max_pending, 1 << 20);
  EXPECT_EQ(o->write_deadline, absl::Seconds(2));
  EXPECT_EQ(o->auth_token, "s3cr3t");
  EXPECT_EQ(o->auth_timeout, absl::Milliseconds(1500));
  EXPECT_TRUE(o->auth_required());
}

TEST(ServerOptions, Users) {
  absl::StatusOr<ServerOptions> o = ParseConfig(
      R"({"max_pings_out": 4, "authorization": {"users": [{"user": "a", "password": "b"},
          {"user": "c", "password": "d"}]}})");
  ASSERT_TRUE(o.ok()) << o.status();
  ASSERT_EQ(o->users.size(), 2u);
  EXPECT_EQ(o->users[1].user, "c");
  EXPECT_EQ(o->users[1].password, "d");
  EXPECT_EQ(o->max_pings_out, 4);
  o = ParseConfig(R"({"authorization": {"user": "x", "password": "y"}})");
  ASSERT_TRUE(o.ok()) << o.status();
  ASSERT_EQ(o->users.size(), 1u);
  EXPECT_EQ(o->users[0].user, "x");
}

void ExpectErrorNaming(const char* text, const char* key) {
  absl::StatusOr<ServerOptions> o = ParseConfig(text);
  ASSERT_FALSE(o.ok()) << text;
  EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(o.status().message().find(key), std::string_view::npos) << o.status();
}

TEST(ServerOptions, ErrorsNameTheKey) {
  ExpectErrorNaming(R"({"max_paylod": 1})", "\"max_paylod\" is not a known key");
  ExpectErrorNaming(R"({"authorization": {"tokn": "x"}})", "authorization.tokn");
  ExpectErrorNaming(R"({"authorization": {"users": [{"user": "a", "pw": "b"}]}})",
                    "authorization.users[].pw");
  ExpectErrorNaming(R"({"max_payload": "big"})", "max_payload");
  ExpectErrorNaming(R"({"max_payload": 0})", "max_payload");
  ExpectErrorNaming(R"({"ping_interval": "soon"})", "ping_interval");
  ExpectErrorNaming(R"({"ping_max": 2, "max_pings_out": 3})", "max_pings_out");
  ExpectErrorNaming(R"({"authorization": {"token": "t", "users": [{"user": "a"}]}})",
                    "authorization");
  ExpectErrorNaming(R"({"max_pending": 10})", "max_pending");
  ExpectErrorNaming(R"([1, 2])", "JSON object");
  ExpectErrorNaming(R"({"max_payload": )", "not valid JSON");
}

TEST(ServerOptions, LoadConfigFile) {
  const std::string path = testing::TempDir() + "/shortbus_config_test.json";
  std::ofstream(path) << R"({"max_connections": 3})";
  absl::StatusOr<ServerOptions> o = LoadConfigFile(path);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->max_connections, 3);
  std::ofstream(path) << R"({"bogus": 3})";
  o = LoadConfigFile(path);
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find(path), std::string_view::npos);
  std::remove(path.c_str());
  EXPECT_EQ(LoadConfigFile(path).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace shortbus::server
