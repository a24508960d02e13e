// The `shortbus` CLI's server verbs (pub, sub, req, reply, status) run as a
// user runs them, against each server target (nats-server and shortbusd,
// E2E_SERVER_KIND / E2E_SERVER_BIN as the other e2e tests; the CLI's path in
// SHORTBUS_BIN). Waits are on conditions: a subscriber that is not yet
// subscribed simply misses a publish, so publishing repeats until it exits.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/e2e/cli_process.h"

namespace shortbus::e2e {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

// A `shortbus` process ($SHORTBUS_BIN).
class Cli : public Process {
 public:
  explicit Cli(const std::vector<std::string>& args, const std::string& stdin_data = "")
      : Process(ShortbusBin(), args, stdin_data) {}
};

class CliTest : public CliServerTest {
 protected:
  // Runs `pub` (with `args`, `stdin_data`) again and again until `waiter`
  // exits; the waiter's subscription may not exist when the first runs.
  void PublishUntilExit(Cli* waiter, const std::vector<std::string>& args, const std::string& stdin_data = "") {
    const auto end = Clock::now() + std::chrono::seconds(10);
    while (!waiter->Exited() && Clock::now() < end) {
      Cli pub(With(args), stdin_data);
      ASSERT_EQ(pub.Wait(), 0) << pub.err();
      if (waiter->Wait(std::chrono::milliseconds(100)) != -1) break;
    }
    ASSERT_NE(waiter->Wait(), -1) << "the subscriber never exited";
  }
};

TEST_F(CliTest, StatusSaysWhatTheServerIs) {
  Cli status(With({"status"}));
  ASSERT_EQ(status.Wait(), 0) << status.err();
  EXPECT_THAT(status.out(), HasSubstr("max payload  1048576 bytes"));
  EXPECT_THAT(status.out(), HasSubstr("round trip"));
  Cli json(With({"status", "--json"}));
  ASSERT_EQ(json.Wait(), 0) << json.err();
  EXPECT_THAT(json.out(), HasSubstr("\"proto\":1"));
  EXPECT_THAT(json.out(), HasSubstr("\"rtt_us\":"));
}

TEST_F(CliTest, PubLinesFromStdinReachASubscriber) {
  Cli sub(With({"sub", "cli.*", "--count", "3", "--json"}));
  PublishUntilExit(&sub, {"pub", "cli.x", "-"}, "one\ntwo\nthree\n");
  EXPECT_EQ(sub.code(), 0) << sub.err();
  EXPECT_THAT(sub.out(), HasSubstr("{\"subject\":\"cli.x\",\"size\":3,\"data\":\"one\"}\n"
                                   "{\"subject\":\"cli.x\",\"size\":3,\"data\":\"two\"}\n"
                                   "{\"subject\":\"cli.x\",\"size\":5,\"data\":\"three\"}\n"));
}

TEST_F(CliTest, PubRawAndHeaders) {
  Cli sub(With({"sub", "raw", "--count", "1", "--json"}));
  PublishUntilExit(&sub, {"pub", "raw", "--raw", "--header", "Kind: test"}, "line1\nline2\n");
  EXPECT_EQ(sub.code(), 0) << sub.err();
  EXPECT_THAT(sub.out(), HasSubstr("\"headers\":\"NATS/1.0\\r\\nKind: test\\r\\n\\r\\n\""));
  EXPECT_THAT(sub.out(), HasSubstr("\"data\":\"line1\\nline2\\n\""));
}

TEST_F(CliTest, RequestReplyAndNoResponders) {
  Cli nobody(With({"req", "nobody.home", "hi"}));
  EXPECT_EQ(nobody.Wait(), 2) << nobody.out() << nobody.err();
  EXPECT_THAT(nobody.err(), HasSubstr("no responders on nobody.home"));
  Cli replier(With({"reply", "svc.time", "noon", "--count", "1"}));
  const auto end = Clock::now() + std::chrono::seconds(10);
  std::string answer;
  while (Clock::now() < end) {
    Cli req(With({"req", "svc.time", "when?", "--timeout", "1s"}));
    const int code = req.Wait();
    if (code == 0) {
      answer = req.out();
      break;
    }
    ASSERT_EQ(code, 2) << req.err();  // the replier is not subscribed yet
  }
  EXPECT_EQ(answer, "noon\n");
  EXPECT_EQ(replier.Wait(), 0) << replier.err();
}

TEST_F(CliTest, SubTimesOutWithNothingAsExitTwo) {
  Cli sub(With({"sub", "quiet", "--timeout", "200ms"}));
  EXPECT_EQ(sub.Wait(), 2) << sub.err();
  EXPECT_EQ(sub.out(), "");
}

TEST_F(CliTest, QueueGroupMembersShareTheMessages) {
  Cli a(With({"sub", "work", "--queue", "q", "--count", "1"}));
  Cli b(With({"sub", "work", "--queue", "q", "--count", "1"}));
  const auto end = Clock::now() + std::chrono::seconds(10);
  while (!(a.Exited() && b.Exited()) && Clock::now() < end) {
    Cli pub(With({"pub", "work", "job"}));
    ASSERT_EQ(pub.Wait(), 0) << pub.err();
  }
  EXPECT_EQ(a.Wait(), 0);
  EXPECT_EQ(b.Wait(), 0);
  EXPECT_EQ(a.out(), "job\n");
  EXPECT_EQ(b.out(), "job\n");
}

TEST_F(CliTest, BadUsageAndUnreachableServerAreErrors) {
  Cli missing({"pub"});
  EXPECT_EQ(missing.Wait(), 1);
  EXPECT_THAT(missing.err(), HasSubstr("usage: shortbus pub"));
  Cli flag(With({"sub", "x", "--bogus"}));
  EXPECT_EQ(flag.Wait(), 1);
  EXPECT_THAT(flag.err(), HasSubstr("unknown flag --bogus"));
  Cli dur(With({"sub", "x", "--timeout", "soon"}));
  EXPECT_EQ(dur.Wait(), 1);
  EXPECT_THAT(dur.err(), HasSubstr("not a duration"));
  server_->Stop();
  Cli down(With({"status"}));
  EXPECT_EQ(down.Wait(), 1);
  EXPECT_THAT(down.err(), HasSubstr("connect nats://127.0.0.1:"));
}

// `shortbus status --server URL` with `env` ("NAME=value ...") before it,
// through the shell: the CLI as a user runs it with credentials exported.
std::unique_ptr<Process> StatusWithEnv(const std::string& env, const std::string& url) {
  return std::make_unique<Process>(
      "/bin/sh", std::vector<std::string>{"-c", env + " exec '" + ShortbusBin() + "' status --server '" + url + "'"});
}

// Credentials come from the URL, else from the environment, for TCP and
// (shortbusd) the Unix socket alike; wrong or missing ones are the server's
// refusal, exit 1.
TEST_F(CliTest, CredentialsFromTheUrlOrTheEnvironment) {
  char sock_dir[] = "/tmp/shortbus-cli-auth-XXXXXX";
  ASSERT_NE(::mkdtemp(sock_dir), nullptr);
  const std::string sock = std::string(sock_dir) + "/s.sock";
  ServerOptions options = ServerOptions::UserPassword("alice", "s3cret");
  options.shortbusd_args = {"--listen", "unix:" + sock};  // besides its TCP port
  ServerProcess locked(target_, options);
  ASSERT_EQ(locked.Start(), "");
  const std::string url = locked.url();
  const std::string host_port = url.substr(url.find("://") + 3);
  std::vector<std::string> urls = {url};
  if (target_.kind == "shortbusd") urls.push_back("unix://" + sock);
  for (const std::string& u : urls) {
    auto none = StatusWithEnv("", u);
    EXPECT_EQ(none->Wait(), 1) << u;
    EXPECT_THAT(none->err(), HasSubstr("Authorization Violation")) << u;
    auto env = StatusWithEnv("SHORTBUS_USER=alice SHORTBUS_PASSWORD=s3cret", u);
    EXPECT_EQ(env->Wait(), 0) << u << ": " << env->err();
    auto wrong = StatusWithEnv("SHORTBUS_USER=alice SHORTBUS_PASSWORD=guess", u);
    EXPECT_EQ(wrong->Wait(), 1) << u;
    EXPECT_THAT(wrong->err(), HasSubstr("Authorization Violation")) << u;
  }
  auto in_url = StatusWithEnv("", "nats://alice:s3cret@" + host_port);
  EXPECT_EQ(in_url->Wait(), 0) << in_url->err();
  // The URL's credentials win over the environment's.
  auto both = StatusWithEnv("SHORTBUS_USER=alice SHORTBUS_PASSWORD=guess", "nats://alice:s3cret@" + host_port);
  EXPECT_EQ(both->Wait(), 0) << both->err();

  ServerProcess token(target_, ServerOptions::Token("t0ken"));
  ASSERT_EQ(token.Start(), "");
  auto tok = StatusWithEnv("SHORTBUS_TOKEN=t0ken", token.url());
  EXPECT_EQ(tok->Wait(), 0) << tok->err();
  auto bad = StatusWithEnv("SHORTBUS_TOKEN=nope", token.url());
  EXPECT_EQ(bad->Wait(), 1);
  EXPECT_THAT(bad->err(), HasSubstr("Authorization Violation"));
  locked.Stop();
  std::filesystem::remove_all(sock_dir);
}

}  // namespace
}  // namespace shortbus::e2e
