// The `shortbus` CLI's JetStream verbs (stream, consumer, read, pub --ack)
// run as a user runs them, also from a shell pipeline, against each
// JetStream target: nats-server -js always, shortbusd once it speaks
// JetStream (E2E_SERVER_KIND / E2E_SERVER_BIN / E2E_JETSTREAM=1 from meson;
// the CLI's path in SHORTBUS_BIN). Every wait is bounded and waits for a
// condition (output seen, process exited, the clock passed a mark).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iomanip>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/cli_process.h"

namespace shortbus::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::testing::Not;
using json = nlohmann::json;

// Parses each line as a JSON object; a line that is not one fails the test.
std::vector<json> JsonLines(const std::vector<std::string>& lines) {
  std::vector<json> out;
  for (const std::string& l : lines) {
    json j = json::parse(l, nullptr, false);
    EXPECT_TRUE(j.is_object()) << "not a JSON object: " << l;
    out.push_back(j);
  }
  return out;
}

std::vector<uint64_t> Seqs(const std::vector<json>& messages) {
  std::vector<uint64_t> s;
  for (const json& m : messages) s.push_back(m.value("seq", uint64_t{0}));
  return s;
}

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> r;
  for (uint64_t i = first; i <= last; ++i) r.push_back(i);
  return r;
}

// Parses RFC 3339 UTC with nanoseconds ("2024-05-01T12:00:00.123456789Z").
std::chrono::system_clock::time_point ParseTime(const std::string& s) {
  std::tm tm{};
  std::istringstream in(s);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  EXPECT_FALSE(in.fail()) << s;
  auto t = std::chrono::system_clock::from_time_t(::timegm(&tm));
  if (in.peek() == '.') {
    in.get();
    std::string frac;
    while (std::isdigit(in.peek())) frac.push_back(static_cast<char>(in.get()));
    frac.resize(9, '0');
    t += std::chrono::nanoseconds(std::stoll(frac));
  }
  EXPECT_EQ(in.get(), 'Z') << s;
  return t;
}

std::string FormatTime(std::chrono::system_clock::time_point t) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ns / 1000000000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[96];
  std::snprintf(out, sizeof out, "%s.%09lldZ", buf, static_cast<long long>(ns % 1000000000));
  return out;
}

class CliJsTest : public CliServerTest {
 protected:
  std::unique_ptr<Process> Start(const std::vector<std::string>& args, const std::string& stdin_data = "") {
    return std::make_unique<Process>(ShortbusBin(), With(args), stdin_data);
  }
  // Runs shortbus to its end; the process, for its code and output.
  std::unique_ptr<Process> Run(const std::vector<std::string>& args, const std::string& stdin_data = "") {
    auto p = Start(args, stdin_data);
    EXPECT_NE(p->Wait(), -1) << "shortbus did not exit in time: " << ::testing::PrintToString(args);
    return p;
  }
  // Runs a shell command line with $SB set to `shortbus --server URL`'s
  // parts: "$SB" is the binary, $URL the server.
  std::unique_ptr<Process> Shell(const std::string& command) {
    const std::string script = "SB='" + ShortbusBin() + "'; URL='" + server_->url() + "'; " + command;
    return std::make_unique<Process>("/bin/sh", std::vector<std::string>{"-c", script});
  }
  void AddStream(const std::string& name, const std::vector<std::string>& subjects_and_flags) {
    std::vector<std::string> args = {"stream", "add", name};
    args.insert(args.end(), subjects_and_flags.begin(), subjects_and_flags.end());
    auto p = Run(args);
    ASSERT_EQ(p->code(), 0) << p->err();
  }
  // Publishes one message per line, each acknowledged; returns the output.
  std::string PubAck(const std::string& subject, const std::string& lines) {
    auto p = Run({"pub", subject, "-", "--ack"}, lines);
    EXPECT_EQ(p->code(), 0) << p->err();
    return p->out();
  }

};

TEST_F(CliJsTest, StreamAddLsInfoRm) {
  auto add = Run({"stream", "add", "ORDERS", "orders.>", "audit.*", "--max-msgs", "1000", "--max-bytes", "1M",
                  "--max-age", "1d", "--max-msg-size", "64K", "--max-msgs-per-subject", "10", "--discard", "new",
                  "--duplicate-window", "30s", "--sync", "always"});
  ASSERT_EQ(add->code(), 0) << add->err();
  EXPECT_THAT(add->out(), StartsWith("created stream ORDERS\n"));
  EXPECT_THAT(add->out(), HasSubstr("subjects    orders.>, audit.*\n"));
  EXPECT_THAT(add->out(), HasSubstr("max age 1d"));

  auto info = Run({"stream", "info", "ORDERS", "--json"});
  ASSERT_EQ(info->code(), 0) << info->err();
  const std::vector<json> infos = JsonLines(info->Lines());
  ASSERT_EQ(infos.size(), 1u);
  const json config = infos[0]["config"];
  EXPECT_EQ(config["name"], "ORDERS");
  EXPECT_EQ(config["subjects"], json({"orders.>", "audit.*"}));
  EXPECT_EQ(config["max_msgs"], 1000);
  EXPECT_EQ(config["max_bytes"], 1 << 20);
  EXPECT_EQ(config["max_age"], int64_t{86400} * 1000000000);
  EXPECT_EQ(config["max_msg_size"], 64 << 10);
  EXPECT_EQ(config["max_msgs_per_subject"], 10);
  EXPECT_EQ(config["discard"], "new");
  EXPECT_EQ(config["duplicate_window"], int64_t{30} * 1000000000);
  EXPECT_EQ(infos[0]["state"]["messages"], 0);
  // "sync" is shortbus's own field: shortbusd keeps it, nats-server ignores it.
  if (target_.kind == "shortbusd") {
    EXPECT_EQ(config["sync"], "always");
  }

  AddStream("EVENTS", {"events.>", "--retention", "workqueue"});
  auto ls = Run({"stream", "ls"});
  ASSERT_EQ(ls->code(), 0) << ls->err();
  ASSERT_EQ(ls->Lines().size(), 2u) << ls->out();
  EXPECT_THAT(ls->out(), HasSubstr("ORDERS"));
  EXPECT_THAT(ls->out(), HasSubstr("EVENTS"));
  auto ls_json = Run({"stream", "ls", "--json"});
  ASSERT_EQ(ls_json->code(), 0) << ls_json->err();
  std::vector<std::string> names;
  for (const json& s : JsonLines(ls_json->Lines())) names.push_back(s["config"]["name"]);
  EXPECT_THAT(names, ::testing::UnorderedElementsAre("ORDERS", "EVENTS"));

  auto overlap = Run({"stream", "add", "OTHER", "orders.eu"});
  EXPECT_EQ(overlap->code(), 1);
  EXPECT_THAT(overlap->err(), StartsWith("shortbus stream add: "));

  auto rm = Run({"stream", "rm", "ORDERS"});
  ASSERT_EQ(rm->code(), 0) << rm->err();
  EXPECT_EQ(rm->out(), "deleted stream ORDERS\n");
  auto gone = Run({"stream", "info", "ORDERS"});
  EXPECT_EQ(gone->code(), 1);
  EXPECT_THAT(gone->err(), StartsWith("shortbus stream info: "));
  EXPECT_EQ(gone->out(), "");
}

TEST_F(CliJsTest, BadLimitsAreRefusedBeforeAsking) {
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"--max-age", "soon"}, {"--discard", "sideways"}, {"--max-bytes", "12Q"},
        {"--retention", "forever"}, {"--sync", "sometimes"}}) {
    std::vector<std::string> args = {"stream", "add", "S", "s.>"};
    args.insert(args.end(), bad.begin(), bad.end());
    auto p = Run(args);
    EXPECT_EQ(p->code(), 1) << bad[0];
    EXPECT_THAT(p->err(), HasSubstr(bad[0]));
  }
  auto ls = Run({"stream", "ls"});
  EXPECT_EQ(ls->out(), "");
}

// Arguments are bytes: one that is not UTF-8 goes out as U+FFFD in the
// request's JSON (never an uncaught exception), and the answer is the
// server's, printed like any other.
TEST_F(CliJsTest, ArgumentsThatAreNotUtf8AreSentReplaced) {
  auto add = Run({"stream", "add", "S", "bad.\xff.>"});
  EXPECT_NE(add->code(), -1);
  EXPECT_THAT(add->err(), Not(HasSubstr("terminate"))) << add->err();
  EXPECT_THAT(add->err(), Not(HasSubstr("json.exception"))) << add->err();
  auto info = Run({"stream", "info", "S\xfe", "--json"});
  EXPECT_EQ(info->code(), 1) << info->err();
  EXPECT_THAT(info->err(), StartsWith("shortbus stream info: ")) << info->err();
  auto ls = Run({"stream", "ls", "--json"});
  EXPECT_EQ(ls->code(), 0) << ls->err();
}

TEST_F(CliJsTest, PubAckPrintsStoredSequences) {
  AddStream("S", {"s.>", "--duplicate-window", "1m"});
  EXPECT_EQ(PubAck("s.a", "one\ntwo\nthree\n"), "stream S seq 1\nstream S seq 2\nstream S seq 3\n");

  auto j = Run({"pub", "s.b", "four", "--ack", "--json", "--header", "Nats-Msg-Id: m-4"});
  ASSERT_EQ(j->code(), 0) << j->err();
  const std::vector<json> acks = JsonLines(j->Lines());
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0]["stream"], "S");
  EXPECT_EQ(acks[0]["seq"], 4);
  EXPECT_FALSE(acks[0].value("duplicate", false));

  auto dup = Run({"pub", "s.b", "four", "--ack", "--header", "Nats-Msg-Id: m-4"});
  ASSERT_EQ(dup->code(), 0) << dup->err();
  EXPECT_EQ(dup->out(), "stream S seq 4 duplicate\n");

  auto wrong = Run({"pub", "s.c", "five", "--ack", "--header", "Nats-Expected-Last-Sequence: 3"});
  EXPECT_EQ(wrong->code(), 1);
  EXPECT_THAT(wrong->err(), StartsWith("shortbus pub: "));
  EXPECT_EQ(wrong->out(), "");
  auto right = Run({"pub", "s.c", "five", "--ack", "--header", "Nats-Expected-Last-Sequence: 4"});
  ASSERT_EQ(right->code(), 0) << right->err();
  EXPECT_EQ(right->out(), "stream S seq 5\n");

  auto nobody = Run({"pub", "elsewhere", "x", "--ack"});
  EXPECT_EQ(nobody->code(), 1);
  EXPECT_THAT(nobody->err(), HasSubstr("no stream captures elsewhere"));
}

TEST_F(CliJsTest, ReadNothingExitsTwo) {
  AddStream("EMPTY", {"empty.>"});
  auto empty = Run({"read", "EMPTY"});
  EXPECT_EQ(empty->code(), 2) << empty->err();
  EXPECT_EQ(empty->out(), "");
  auto empty_json = Run({"read", "EMPTY", "--json", "--last", "5"});
  EXPECT_EQ(empty_json->code(), 2) << empty_json->err();

  PubAck("empty.a", "x\n");
  auto no_match = Run({"read", "EMPTY", "--subject", "empty.b"});
  EXPECT_EQ(no_match->code(), 2) << no_match->err();
  auto past_end = Run({"read", "EMPTY", "--from", "2"});
  EXPECT_EQ(past_end->code(), 2) << past_end->err();
  auto one = Run({"read", "EMPTY"});
  EXPECT_EQ(one->code(), 0) << one->err();
  EXPECT_EQ(one->out(), "empty.a x\n");

  auto missing = Run({"read", "NOPE"});
  EXPECT_EQ(missing->code(), 1);
  EXPECT_THAT(missing->err(), StartsWith("shortbus read: "));
}

TEST_F(CliJsTest, ReadReplaysInOrderAsTextAndJson) {
  AddStream("S", {"s.>"});
  const auto before = std::chrono::system_clock::now();
  PubAck("s.a", "alpha\nbeta\n");
  ASSERT_EQ(Run({"pub", "s.b", "tab\there", "--ack", "--header", "K: v"})->code(), 0);
  auto text = Run({"read", "S"});
  ASSERT_EQ(text->code(), 0) << text->err();
  EXPECT_EQ(text->out(), "s.a alpha\ns.a beta\ns.b tab\\x09here\n");

  auto j = Run({"read", "S", "--json"});
  ASSERT_EQ(j->code(), 0) << j->err();
  const std::vector<json> m = JsonLines(j->Lines());
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(Seqs(m), Range(1, 3));
  for (const json& x : m) {
    EXPECT_EQ(x["stream"], "S");
    const auto t = ParseTime(x["time"]);
    EXPECT_GE(t, before - std::chrono::seconds(5));
    EXPECT_LE(t, std::chrono::system_clock::now() + std::chrono::seconds(5));
  }
  EXPECT_EQ(m[0]["subject"], "s.a");
  EXPECT_EQ(m[0]["data"], "alpha");
  EXPECT_FALSE(m[0].contains("headers"));
  EXPECT_EQ(m[2]["data"], "tab\there");
  EXPECT_THAT(m[2]["headers"].get<std::string>(), HasSubstr("K: v\r\n"));
}

TEST_F(CliJsTest, ReadFromLastAndSubject) {
  AddStream("S", {"s.>"});
  // seq 1..10: odd on s.odd, even on s.even
  for (int i = 1; i <= 10; ++i) {
    ASSERT_EQ(Run({"pub", i % 2 ? "s.odd" : "s.even", std::to_string(i), "--ack"})->code(), 0);
  }
  auto seqs = [&](const std::vector<std::string>& args) {
    std::vector<std::string> a = {"read", "S", "--json"};
    a.insert(a.end(), args.begin(), args.end());
    auto p = Run(a);
    EXPECT_EQ(p->code(), 0) << p->err();
    return Seqs(JsonLines(p->Lines()));
  };
  EXPECT_EQ(seqs({"--from", "7"}), Range(7, 10));
  EXPECT_EQ(seqs({"--last", "3"}), Range(8, 10));
  EXPECT_EQ(seqs({"--last", "50"}), Range(1, 10));
  EXPECT_EQ(seqs({"--subject", "s.even"}), (std::vector<uint64_t>{2, 4, 6, 8, 10}));
  // The last 3 of a subject are spread over more than the last 3 sequences.
  EXPECT_EQ(seqs({"--last", "3", "--subject", "s.odd"}), (std::vector<uint64_t>{5, 7, 9}));
  EXPECT_EQ(seqs({"--from", "4", "--subject", "s.odd"}), (std::vector<uint64_t>{5, 7, 9}));

  // Deleted messages inside the window: --last still counts messages.
  ASSERT_EQ(Run({"stream", "purge", "S", "--subject", "s.even"})->code(), 0);
  EXPECT_EQ(seqs({"--last", "2"}), (std::vector<uint64_t>{7, 9}));

  auto both = Run({"read", "S", "--from", "1", "--last", "1"});
  EXPECT_EQ(both->code(), 1);
  EXPECT_THAT(both->err(), HasSubstr("exclude each other"));
}

TEST_F(CliJsTest, ReadSinceRfc3339AndRelative) {
  AddStream("S", {"s.>"});
  PubAck("s.a", "old1\nold2\n");
  auto first = Run({"read", "S", "--json"});
  ASSERT_EQ(first->code(), 0) << first->err();
  const std::vector<json> old = JsonLines(first->Lines());
  ASSERT_EQ(old.size(), 2u);
  const auto t_old = ParseTime(old[1]["time"]);
  // The next message is stored at least 1.5 s after the last old one (the
  // clock is the condition), so a mark 0.75 s after it splits them with
  // margin for the CLI's start-up.
  const auto mark = t_old + std::chrono::milliseconds(750);
  while (std::chrono::system_clock::now() < t_old + std::chrono::milliseconds(1500)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  PubAck("s.a", "new\n");

  auto since_abs = Run({"read", "S", "--since", FormatTime(mark)});
  ASSERT_EQ(since_abs->code(), 0) << since_abs->err();
  EXPECT_EQ(since_abs->out(), "s.a new\n");

  const auto ago = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now() - mark);
  auto since_rel = Run({"read", "S", "--since", std::to_string(ago.count()) + "ms"});
  ASSERT_EQ(since_rel->code(), 0) << since_rel->err();
  EXPECT_EQ(since_rel->out(), "s.a new\n");

  auto hour = Run({"read", "S", "--since", "1h"});
  ASSERT_EQ(hour->code(), 0) << hour->err();
  EXPECT_EQ(hour->Lines().size(), 3u);
  auto day = Run({"read", "S", "--since", "1d"});
  EXPECT_EQ(day->Lines().size(), 3u);
  auto future = Run({"read", "S", "--since", "2999-01-01T00:00:00Z"});
  EXPECT_EQ(future->code(), 2) << future->err();
  auto bad = Run({"read", "S", "--since", "yesterday"});
  EXPECT_EQ(bad->code(), 1);
  EXPECT_THAT(bad->err(), HasSubstr("not a time"));
}

TEST_F(CliJsTest, FollowPicksUpLivePublishes) {
  AddStream("S", {"s.>"});
  PubAck("s.a", "one\ntwo\n");
  auto reader = Start({"read", "S", "--follow", "--json"});
  ASSERT_TRUE(reader->WaitFor([&] { return reader->Lines().size() >= 2; })) << reader->err();
  EXPECT_FALSE(reader->Exited());
  PubAck("s.b", "three\n");
  ASSERT_TRUE(reader->WaitFor([&] { return reader->Lines().size() >= 3; })) << reader->err();
  const std::vector<json> m = JsonLines(reader->Lines());
  EXPECT_EQ(Seqs(m), Range(1, 3));
  EXPECT_EQ(m[2]["subject"], "s.b");
  EXPECT_EQ(m[2]["data"], "three");
  EXPECT_FALSE(reader->Exited()) << "--follow ended: " << reader->err();
}

TEST_F(CliJsTest, FollowFromTheMiddleOfPublishingHasNoGapOrDuplicate) {
  AddStream("S", {"s.>"});
  PubAck("s.x", "0\n");
  std::string lines;
  for (int i = 1; i < 2000; ++i) lines += std::to_string(i) + "\n";
  auto publisher = Start({"pub", "s.x", "-"}, lines);  // no ack: as fast as it goes
  auto reader = Start({"read", "S", "--follow", "--json"});
  ASSERT_EQ(publisher->Wait(), 0) << publisher->err();
  ASSERT_TRUE(reader->WaitFor([&] { return reader->Lines().size() >= 2000; })) << reader->Lines().size();
  const std::vector<json> m = JsonLines(reader->Lines());
  EXPECT_EQ(Seqs(m), Range(1, 2000));
  for (size_t i = 0; i < m.size(); ++i) EXPECT_EQ(m[i]["data"], std::to_string(i)) << i;
}

TEST_F(CliJsTest, FollowCarriesOnWhenItsConsumerIsDeleted) {
  AddStream("S", {"s.>"});
  PubAck("s.a", "one\n");
  auto reader = Start({"read", "S", "--follow"});
  ASSERT_TRUE(reader->WaitFor([&] { return reader->Lines().size() >= 1; })) << reader->err();
  // The reader's ephemeral consumer, deleted behind its back: no more
  // deliveries nor heartbeats; it starts a fresh one after the last
  // sequence it printed.
  auto ls = Run({"consumer", "ls", "S", "--json"});
  ASSERT_EQ(ls->code(), 0) << ls->err();
  const std::vector<json> consumers = JsonLines(ls->Lines());
  ASSERT_EQ(consumers.size(), 1u) << ls->out();
  ASSERT_EQ(Run({"consumer", "rm", "S", consumers[0]["name"]})->code(), 0);
  PubAck("s.a", "two\n");
  ASSERT_TRUE(reader->WaitFor([&] { return reader->Lines().size() >= 2; }, std::chrono::seconds(20)))
      << reader->out() << reader->err();
  PubAck("s.a", "three\n");
  ASSERT_TRUE(reader->WaitFor([&] { return reader->Lines().size() >= 3; })) << reader->err();
  EXPECT_EQ(reader->out(), "s.a one\ns.a two\ns.a three\n");
}

TEST_F(CliJsTest, FollowInAShellPipelineEndsWhenHeadCloses) {
  AddStream("S", {"s.>"});
  PubAck("s.a", "1\n2\n3\n4\n5\n6\n7\n");
  // More stored than head takes: the CLI meets the closed pipe on a write.
  auto full = Shell("\"$SB\" read S --follow --json --server \"$URL\" | head -n 5");
  ASSERT_EQ(full->Wait(), 0) << full->err();
  EXPECT_EQ(Seqs(JsonLines(full->Lines())), Range(1, 5));
  EXPECT_EQ(full->err(), "");

  // Fewer stored than head takes: the rest come live; after the 5th the CLI
  // waits with nothing to write and must notice head is gone. (stdbuf: head
  // passes each line on at once, so the test sees the replay end.)
  auto live = Shell("\"$SB\" read S --from 5 --follow --json --server \"$URL\" | stdbuf -oL head -n 5; "
                    "echo \"status $?\" >&2");
  ASSERT_TRUE(live->WaitFor([&] { return live->Lines().size() >= 3; })) << live->err();
  PubAck("s.b", "8\n9\n");
  ASSERT_EQ(live->Wait(), 0) << "the pipeline did not end: " << live->out() << live->err();
  EXPECT_EQ(Seqs(JsonLines(live->Lines())), Range(5, 9));
  EXPECT_EQ(live->err(), "status 0\n");

  // Without --follow, a pipeline sees 2 for an empty stream.
  AddStream("E", {"e.>"});
  auto empty = Shell("\"$SB\" read E --server \"$URL\"; echo \"exit $?\"");
  ASSERT_EQ(empty->Wait(), 0) << empty->err();
  EXPECT_EQ(empty->out(), "exit 2\n");
}

TEST_F(CliJsTest, ConsumerAddNextAckInfoRm) {
  AddStream("S", {"s.>"});
  PubAck("s.job", "a\nb\nc\n");
  PubAck("s.other", "skip\n");
  auto add = Run({"consumer", "add", "S", "worker", "--filter", "s.job", "--ack-wait", "1s", "--max-deliver", "5"});
  ASSERT_EQ(add->code(), 0) << add->err();
  EXPECT_THAT(add->out(), StartsWith("created consumer worker on stream S\n"));
  EXPECT_THAT(add->out(), HasSubstr("filter      s.job\n"));

  auto ls = Run({"consumer", "ls", "S"});
  ASSERT_EQ(ls->code(), 0) << ls->err();
  EXPECT_THAT(ls->out(), HasSubstr("worker"));
  EXPECT_THAT(ls->out(), HasSubstr("pull"));

  auto two = Run({"consumer", "next", "S", "worker", "--count", "2"});
  ASSERT_EQ(two->code(), 0) << two->err();
  EXPECT_EQ(two->out(), "s.job a\ns.job b\n");

  auto info = Run({"consumer", "info", "S", "worker", "--json"});
  ASSERT_EQ(info->code(), 0) << info->err();
  const std::vector<json> i = JsonLines(info->Lines());
  ASSERT_EQ(i.size(), 1u);
  EXPECT_EQ(i[0]["name"], "worker");
  EXPECT_EQ(i[0]["config"]["filter_subject"], "s.job");
  EXPECT_EQ(i[0]["ack_floor"]["stream_seq"], 2);  // both acknowledged, confirmed before `next` exited
  EXPECT_EQ(i[0]["num_pending"], 1);
  EXPECT_EQ(i[0]["num_ack_pending"], 0);

  // Not acknowledged: delivered again once the ack wait (1s) passes.
  auto first = Run({"consumer", "next", "S", "worker", "--no-ack", "--json"});
  ASSERT_EQ(first->code(), 0) << first->err();
  const std::vector<json> f = JsonLines(first->Lines());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0]["seq"], 3);
  EXPECT_EQ(f[0]["data"], "c");
  EXPECT_EQ(f[0]["delivered"], 1);
  auto again = Run({"consumer", "next", "S", "worker", "--json", "--timeout", "5s"});
  ASSERT_EQ(again->code(), 0) << again->err();
  const std::vector<json> g = JsonLines(again->Lines());
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0]["seq"], 3);
  EXPECT_EQ(g[0]["delivered"], 2);

  auto none = Run({"consumer", "next", "S", "worker", "--timeout", "0"});
  EXPECT_EQ(none->code(), 2) << none->err();
  EXPECT_EQ(none->out(), "");
  auto waited = Run({"consumer", "next", "S", "worker", "--timeout", "300ms"});
  EXPECT_EQ(waited->code(), 2) << waited->err();

  auto rm = Run({"consumer", "rm", "S", "worker"});
  ASSERT_EQ(rm->code(), 0) << rm->err();
  auto gone = Run({"consumer", "info", "S", "worker"});
  EXPECT_EQ(gone->code(), 1);
  EXPECT_THAT(gone->err(), StartsWith("shortbus consumer info: "));
  auto next_gone = Run({"consumer", "next", "S", "worker"});
  EXPECT_EQ(next_gone->code(), 1);
}

TEST_F(CliJsTest, WorkQueueMessagesGoOnceAcknowledged) {
  AddStream("Q", {"q.>", "--retention", "workqueue"});
  PubAck("q.task", "t1\nt2\nt3\n");
  ASSERT_EQ(Run({"consumer", "add", "Q", "w"})->code(), 0);
  auto all = Run({"consumer", "next", "Q", "w", "--count", "3"});
  ASSERT_EQ(all->code(), 0) << all->err();
  EXPECT_EQ(all->out(), "q.task t1\nq.task t2\nq.task t3\n");
  auto info = Run({"stream", "info", "Q", "--json"});
  ASSERT_EQ(info->code(), 0) << info->err();
  const std::vector<json> i = JsonLines(info->Lines());
  ASSERT_EQ(i.size(), 1u);
  EXPECT_EQ(i[0]["state"]["messages"], 0);
  EXPECT_EQ(i[0]["state"]["last_seq"], 3);
}

TEST_F(CliJsTest, PurgeRemovesWhatItSays) {
  AddStream("S", {"s.>"});
  PubAck("s.a", "1\n2\n3\n");
  PubAck("s.b", "4\n5\n");
  auto by_subject = Run({"stream", "purge", "S", "--subject", "s.a", "--json"});
  ASSERT_EQ(by_subject->code(), 0) << by_subject->err();
  EXPECT_EQ(by_subject->out(), "{\"purged\":3}\n");
  auto keep = Run({"stream", "purge", "S", "--keep", "1"});
  ASSERT_EQ(keep->code(), 0) << keep->err();
  EXPECT_EQ(keep->out(), "purged 1 messages from S\n");
  auto left = Run({"read", "S"});
  EXPECT_EQ(left->out(), "s.b 5\n");
  auto all = Run({"stream", "purge", "S"});
  ASSERT_EQ(all->code(), 0) << all->err();
  EXPECT_EQ(Run({"read", "S"})->code(), 2);
}

TEST_F(CliJsTest, EveryVerbHasHelpAndRefusesBadUsage) {
  for (const std::vector<std::string>& help :
       {std::vector<std::string>{"stream", "--help"}, {"stream", "add", "--help"}, {"consumer", "--help"},
        {"consumer", "next", "-h"}, {"read", "--help"}, {"pub", "--help"}}) {
    Process p(ShortbusBin(), help);
    ASSERT_EQ(p.Wait(), 0) << help[0];
    EXPECT_THAT(p.out(), StartsWith("usage: shortbus " + help[0])) << help[0];
  }
  Process top(ShortbusBin(), {"--help"});
  ASSERT_EQ(top.Wait(), 0);
  for (const char* verb : {"stream add|ls|info|rm|purge", "consumer add|ls|info|next|rm", "read STREAM", "--ack"}) {
    EXPECT_THAT(top.out(), HasSubstr(verb));
  }
  auto unknown = Run({"stream", "grow", "S"});
  EXPECT_EQ(unknown->code(), 1);
  EXPECT_THAT(unknown->err(), HasSubstr("unknown verb `grow`"));
  auto missing = Run({"read"});
  EXPECT_EQ(missing->code(), 1);
  EXPECT_THAT(missing->err(), HasSubstr("usage: shortbus read"));
  auto flag = Run({"consumer", "next", "S", "C", "--bogus"});
  EXPECT_EQ(flag->code(), 1);
  EXPECT_THAT(flag->err(), HasSubstr("unknown flag --bogus"));
  auto reply_ack = Run({"pub", "s", "x", "--ack", "--reply", "r"});
  EXPECT_EQ(reply_ack->code(), 1);
}

}  // namespace
}  // namespace shortbus::e2e
