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

void ExpectErrorNaming(const std::string& text, const char* key) {
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

TEST(ServerOptions, MaxSubscriptions) {
  EXPECT_EQ(ServerOptions().max_subscriptions, 65536);
  absl::StatusOr<ServerOptions> o = ParseConfig(R"({"max_subscriptions": 10})");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->max_subscriptions, 10);
  o = ParseConfig(R"({"max_subs": 0})");  // nats-server's alias; 0: no limit
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->max_subscriptions, 0);
  ExpectErrorNaming(R"({"max_subscriptions": -1})", "max_subscriptions");
}

// The forms nats-server accepts: a subject, a list (the allow list), or
// {allow, deny}; subscribe entries with a queue; allow_responses as a
// boolean or {max, expires}.
TEST(ServerOptions, PermissionForms) {
  absl::StatusOr<ServerOptions> o = ParseConfig(R"({"authorization": {"users": [
      {"user": "a", "password": "p", "permissions": {"publish": "one", "subscribe": ["x.>", "q.* workers"]}},
      {"user": "b", "password": "p", "permissions": {
         "publish": {"allow": ["foo.>"], "deny": "foo.secret"},
         "subscribe": {"deny": ["bar.>", "baz bad"]},
         "allow_responses": {"max": 5, "expires": "30s"}}},
      {"user": "c", "password": "p", "permissions": {"allow_responses": true}},
      {"user": "d", "password": "p", "permissions": {"pub": {"deny": ["x"]}, "sub": {},
                                                     "allow_responses": false}},
      {"user": "e", "password": "p"}]}})");
  ASSERT_TRUE(o.ok()) << o.status();
  ASSERT_EQ(o->users.size(), 5u);
  const Permissions& a = *o->users[0].permissions;
  EXPECT_EQ(a.publish_allow, std::vector<std::string>{"one"});
  ASSERT_TRUE(a.subscribe_allow.has_value());
  ASSERT_EQ(a.subscribe_allow->size(), 2u);
  EXPECT_EQ((*a.subscribe_allow)[1].subject, "q.*");
  EXPECT_EQ((*a.subscribe_allow)[1].queue, "workers");
  EXPECT_FALSE(a.responses.has_value());

  const Permissions& b = *o->users[1].permissions;
  EXPECT_EQ(b.publish_allow, std::vector<std::string>{"foo.>"});
  EXPECT_EQ(b.publish_deny, std::vector<std::string>{"foo.secret"});
  EXPECT_FALSE(b.subscribe_allow.has_value());
  ASSERT_EQ(b.subscribe_deny.size(), 2u);
  EXPECT_EQ(b.subscribe_deny[1].queue, "bad");
  ASSERT_TRUE(b.responses.has_value());
  EXPECT_EQ(b.responses->max_msgs, 5);
  EXPECT_EQ(b.responses->expires, absl::Seconds(30));

  // allow_responses alone: responses and nothing else (an empty allow list).
  const Permissions& c = *o->users[2].permissions;
  ASSERT_TRUE(c.responses.has_value());
  EXPECT_EQ(c.responses->max_msgs, 1);
  EXPECT_EQ(c.responses->expires, absl::Minutes(2));
  ASSERT_TRUE(c.publish_allow.has_value());
  EXPECT_TRUE(c.publish_allow->empty());

  const Permissions& d = *o->users[3].permissions;
  EXPECT_FALSE(d.publish_allow.has_value());
  EXPECT_EQ(d.publish_deny, std::vector<std::string>{"x"});
  EXPECT_FALSE(d.subscribe_allow.has_value());
  EXPECT_FALSE(d.responses.has_value());
  EXPECT_EQ(o->users[4].permissions, nullptr);
}

TEST(ServerOptions, DefaultPermissions) {
  for (const char* key : {"permissions", "default_permissions"}) {
    absl::StatusOr<ServerOptions> o = ParseConfig(std::string(R"({"authorization": {")") + key +
                                                  R"(": {"publish": ["x"]}, "users": [
        {"user": "own", "password": "p", "permissions": {"publish": ["y"]}},
        {"user": "none", "password": "p"}]}})");
    ASSERT_TRUE(o.ok()) << o.status();
    ASSERT_NE(o->default_permissions, nullptr);
    EXPECT_EQ(o->users[0].permissions->publish_allow, std::vector<std::string>{"y"});
    EXPECT_EQ(o->users[1].permissions, o->default_permissions);
  }
}

TEST(ServerOptions, PermissionErrorsNameTheKey) {
  auto user = [](const std::string& perms) {
    return R"({"authorization": {"users": [{"user": "a", "password": "p", "permissions": )" + perms + "}]}}";
  };
  ExpectErrorNaming(user(R"([])").c_str(), "authorization.users[].permissions\" must be an object");
  ExpectErrorNaming(user(R"({"publsh": "x"})").c_str(), "authorization.users[].permissions.publsh");
  ExpectErrorNaming(user(R"({"publish": {"allw": "x"}})").c_str(), "permissions.publish.allw");
  ExpectErrorNaming(user(R"({"publish": 3})").c_str(), "permissions.publish");
  ExpectErrorNaming(user(R"({"publish": ["ok", 3]})").c_str(), "permissions.publish");
  ExpectErrorNaming(user(R"({"publish": ["a..b"]})").c_str(), "\"a..b\" is not a valid subject");
  ExpectErrorNaming(user(R"({"publish": ["q v1"]})").c_str(), "is not a valid subject");
  ExpectErrorNaming(user(R"({"subscribe": ["a b c"]})").c_str(), "\"a b c\"");
  ExpectErrorNaming(user(R"({"allow_responses": "yes"})").c_str(), "permissions.allow_responses");
  ExpectErrorNaming(user(R"({"allow_responses": {"max": "1"}})").c_str(), "allow_responses.max");
  ExpectErrorNaming(user(R"({"allow_responses": {"expires": 5}})").c_str(), "allow_responses.expires");
  ExpectErrorNaming(user(R"({"allow_responses": {"ttl": "1x"}})").c_str(), "allow_responses.ttl");
  ExpectErrorNaming(user(R"({"allow_responses": {"when": "1s"}})").c_str(), "allow_responses.when");
  ExpectErrorNaming(R"({"authorization": {"permissions": {"sub": 1}}})", "authorization.permissions.sub");
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
