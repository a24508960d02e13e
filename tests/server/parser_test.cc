// The parser over every verb, every split of the byte stream, limits and
// garbage. Split feeds overwrite each piece after Feed returns, so a view
// kept into a caller's buffer would show up as corrupt frames.
#include "server/parser.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace shortbus::server {
namespace {

// Records frames as text: "VERB|arg|arg|h=headers|p=payload" or "line=...".
class Recorder : public ParserHandler {
 public:
  bool OnFrame(const Frame& f) override {
    std::string s = absl::StrCat(f.verb);
    for (size_t a = 0; a < f.argc; ++a) (s += "|") += f.args[a];
    if (f.argc == 0) (s += "|line=") += f.line;
    if (f.verb == kVerbPub || f.verb == kVerbHpub) {
      (((s += "|h=") += f.headers) += "|p=") += f.payload;
    }
    events.push_back(s);
    return stop_after == 0 || events.size() < stop_after;
  }
  void OnParseError(ParseError e) override {
    events.push_back(absl::StrCat("error ", static_cast<int>(e)));
  }
  std::vector<std::string> events;
  size_t stop_after = 0;
};

std::vector<std::string> ParseWhole(std::string_view in, ParserLimits limits = {}) {
  Recorder r;
  Parser p(&r, limits);
  std::string copy(in);
  p.Feed(copy.data(), copy.size());
  return r.events;
}

// Feeds `in` cut at each position in `cuts`, overwriting every piece after
// it has been fed.
std::vector<std::string> ParseCut(std::string_view in, const std::vector<size_t>& cuts,
                                  ParserLimits limits = {}) {
  Recorder r;
  Parser p(&r, limits);
  size_t from = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(in.size());
  for (size_t to : ends) {
    std::string piece(in.substr(from, to - from));
    p.Feed(piece.data(), piece.size());
    std::fill(piece.begin(), piece.end(), 'X');
    from = to;
  }
  return r.events;
}

const char kStream[] =
    "CONNECT {\"verbose\":false, \"name\":\"a b\"}\r\n"
    "PING\r\n"
    "PONG\r\n"
    "SUB foo.* 1\r\n"
    "SUB foo.> workers 22\r\n"
    "PUB foo.bar 5\r\nhello\r\n"
    "PUB foo.bar reply.1 0\r\n\r\n"
    "HPUB foo.bar 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
    "HPUB foo.bar r 12 12\r\nNATS/1.0\r\n\r\n\r\n"
    "UNSUB 1\r\n"
    "UNSUB 22 5\r\n"
    "+OK\r\n"
    "INFO {}\r\n"
    "PUB a 4\r\n\r\n\r\n\r\n";

const std::vector<std::string> kStreamEvents = {
    absl::StrCat(kVerbConnect, "|line={\"verbose\":false, \"name\":\"a b\"}"),
    absl::StrCat(kVerbPing, "|line="),
    absl::StrCat(kVerbPong, "|line="),
    absl::StrCat(kVerbSub, "|foo.*|1"),
    absl::StrCat(kVerbSub, "|foo.>|workers|22"),
    absl::StrCat(kVerbPub, "|foo.bar|h=|p=hello"),
    absl::StrCat(kVerbPub, "|foo.bar|reply.1|h=|p="),
    absl::StrCat(kVerbHpub, "|foo.bar|h=NATS/1.0\r\n\r\n|p=hi"),
    absl::StrCat(kVerbHpub, "|foo.bar|r|h=NATS/1.0\r\n\r\n|p="),
    absl::StrCat(kVerbUnsub, "|1"),
    absl::StrCat(kVerbUnsub, "|22|5"),
    absl::StrCat(kVerbOk, "|line="),
    absl::StrCat(kVerbInfo, "|line={}"),
    absl::StrCat(kVerbPub, "|a|h=|p=\r\n\r\n"),
};

TEST(Parser, EveryVerbWhole) { EXPECT_EQ(ParseWhole(kStream), kStreamEvents); }

TEST(Parser, ByteAtATime) {
  const std::string in = kStream;
  std::vector<size_t> cuts;
  for (size_t i = 1; i < in.size(); ++i) cuts.push_back(i);
  EXPECT_EQ(ParseCut(in, cuts), kStreamEvents);
}

TEST(Parser, EverySingleCutPoint) {
  const std::string in = kStream;
  for (size_t i = 0; i <= in.size(); ++i) {
    EXPECT_EQ(ParseCut(in, {i}), kStreamEvents) << "cut at " << i;
  }
}

TEST(Parser, EveryPairOfCutPoints) {
  const std::string in = "PUB foo.bar reply 5\r\nhello\r\nHPUB x 12 14\r\nNATS/1.0\r\n\r\nhi\r\n";
  const std::vector<std::string> want = ParseWhole(in);
  ASSERT_EQ(want.size(), 2u);
  for (size_t i = 0; i <= in.size(); ++i) {
    for (size_t j = i; j <= in.size(); ++j) {
      ASSERT_EQ(ParseCut(in, {i, j}), want) << "cuts at " << i << ", " << j;
    }
  }
}

TEST(Parser, VerbsAreCaseInsensitive) {
  EXPECT_EQ(ParseWhole("ping\r\nPiNg\r\nsub a 1\r\npub a 1\r\nx\r\nhPuB a 2 2\r\nab\r\n"
                       "unsub 1\r\nconnect {}\r\npong\r\n+ok\r\n-err 'x'\r\n"),
            (std::vector<std::string>{
                absl::StrCat(kVerbPing, "|line="), absl::StrCat(kVerbPing, "|line="),
                absl::StrCat(kVerbSub, "|a|1"), absl::StrCat(kVerbPub, "|a|h=|p=x"),
                absl::StrCat(kVerbHpub, "|a|h=ab|p="), absl::StrCat(kVerbUnsub, "|1"),
                absl::StrCat(kVerbConnect, "|line={}"), absl::StrCat(kVerbPong, "|line="),
                absl::StrCat(kVerbOk, "|line="), absl::StrCat(kVerbErr, "|line='x'")}));
}

TEST(Parser, LoneLineFeedEndsALine) {
  EXPECT_EQ(ParseWhole("PING\nSUB a 1\n"),
            (std::vector<std::string>{absl::StrCat(kVerbPing, "|line="),
                                      absl::StrCat(kVerbSub, "|a|1")}));
}

TEST(Parser, ArgumentsSplitOnSpacesAndTabs) {
  EXPECT_EQ(ParseWhole("PUB  foo\t \treply   3 \r\nabc\r\n"),
            std::vector<std::string>{absl::StrCat(kVerbPub, "|foo|reply|h=|p=abc")});
}

std::string Err(ParseError e) { return absl::StrCat("error ", static_cast<int>(e)); }

TEST(Parser, UnknownOperations) {
  for (const char* in : {"FOO bar\r\n", "\r\n", " PING\r\n", "MSG foo 1 2\r\nhi\r\n",
                         "HMSG foo 1 2 2\r\nhi\r\n", "PINGX\r\n",
                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n"}) {
    EXPECT_EQ(ParseWhole(in), std::vector<std::string>{Err(ParseError::kUnknownOperation)})
        << in;
  }
}

TEST(Parser, UnknownVerbFailsAtItsDelimiterBeforeTheLineEnds) {
  EXPECT_EQ(ParseWhole("FOO bar baz"),
            std::vector<std::string>{Err(ParseError::kUnknownOperation)});
  // A verb longer than any known fails without waiting for a delimiter.
  EXPECT_EQ(ParseWhole(std::string(100, 'A')),
            std::vector<std::string>{Err(ParseError::kUnknownOperation)});
}

TEST(Parser, PayloadNotFollowedByCrLf) {
  for (const char* in : {"PUB foo 3\r\nhi\r\n", "PUB foo 1\r\nhi\r\n", "PUB foo 2\r\nhi\rX",
                         "HPUB foo 2 3\r\nabcd\r\n"}) {
    std::vector<std::string> got = ParseWhole(in);
    ASSERT_FALSE(got.empty()) << in;
    EXPECT_EQ(got.back(), Err(ParseError::kUnknownOperation)) << in;
  }
}

TEST(Parser, BadArguments) {
  for (const char* in : {"PUB foo\r\n", "PUB foo x\r\n", "PUB foo -1\r\n", "PUB a b c 1\r\n",
                         "SUB foo\r\n", "SUB a b c d\r\n", "UNSUB\r\n", "UNSUB 1 2 3\r\n",
                         "HPUB foo 14 12\r\n", "HPUB foo 12\r\n", "PUB 1 2 3 4 5 6 7 8 9\r\n"}) {
    EXPECT_EQ(ParseWhole(in), std::vector<std::string>{Err(ParseError::kBadArguments)}) << in;
  }
}

TEST(Parser, MaxControlLineWhileBytesArrive) {
  ParserLimits limits{.max_control_line = 64, .max_payload = 1024};
  const std::string ok = "SUB " + std::string(62, 'a') + " 1\r\n";  // 64 argument bytes
  EXPECT_EQ(ParseWhole(ok, limits).size(), 1u);
  EXPECT_EQ(ParseWhole("SUB " + std::string(63, 'a') + " 1\r\n", limits),
            std::vector<std::string>{Err(ParseError::kMaxControlLine)});
  // No line end ever arrives: fails as soon as the limit is passed.
  std::string endless = "SUB " + std::string(66, 'a');
  std::vector<size_t> cuts;
  for (size_t i = 1; i < endless.size(); ++i) cuts.push_back(i);
  EXPECT_EQ(ParseCut(endless, cuts, limits),
            std::vector<std::string>{Err(ParseError::kMaxControlLine)});
}

TEST(Parser, MaxPayloadCheckedBeforeAnyPayloadByte) {
  ParserLimits limits{.max_control_line = 4096, .max_payload = 10};
  EXPECT_EQ(ParseWhole("PUB foo 11\r\n", limits),
            std::vector<std::string>{Err(ParseError::kMaxPayload)});
  EXPECT_EQ(ParseWhole("HPUB foo 2 11\r\n", limits),
            std::vector<std::string>{Err(ParseError::kMaxPayload)});
  EXPECT_EQ(ParseWhole("PUB foo 10\r\n0123456789\r\n", limits).size(), 1u);
  EXPECT_EQ(ParseWhole("PUB foo 99999999999999999999\r\n", limits),
            std::vector<std::string>{Err(ParseError::kBadArguments)});
}

TEST(Parser, DeadAfterErrorIgnoresTheRest) {
  Recorder r;
  Parser p(&r, {});
  std::string in = "PING\r\nBOGUS\r\nPING\r\n";
  p.Feed(in.data(), in.size());
  p.Feed(in.data(), in.size());
  EXPECT_TRUE(p.dead());
  EXPECT_EQ(r.events, (std::vector<std::string>{absl::StrCat(kVerbPing, "|line="),
                                                Err(ParseError::kUnknownOperation)}));
}

TEST(Parser, HandlerStopEndsParsing) {
  Recorder r;
  r.stop_after = 1;
  Parser p(&r, {});
  std::string in = "PING\r\nPING\r\n";
  p.Feed(in.data(), in.size());
  EXPECT_EQ(r.events.size(), 1u);
  EXPECT_TRUE(p.dead());
}

TEST(Parser, ExtraVerbsComeFromATable) {
  static constexpr VerbSpec kExtra[] = {
      {"STREAMS", kFirstExtensionVerb, VerbShape::kLine, 0, 2},
      {"APPEND", kFirstExtensionVerb + 1, VerbShape::kPayload, 2, 2},
  };
  Recorder r;
  Parser p(&r, {}, kExtra);
  std::string in = "streams\r\nStreams a b\r\nappend s 2\r\nhi\r\n";
  p.Feed(in.data(), in.size());
  EXPECT_EQ(r.events, (std::vector<std::string>{
                          absl::StrCat(kFirstExtensionVerb, "|line="),
                          absl::StrCat(kFirstExtensionVerb, "|a|b"),
                          absl::StrCat(kFirstExtensionVerb + 1, "|s")}));
}

// Whatever the bytes, the events do not depend on how they are cut: random
// frames with random garbage mixed in, fed whole and at random cuts.
TEST(Parser, RandomStreamsAtRandomCuts) {
  const std::vector<std::string> pieces = {
      "PING\r\n", "PUB a.b 3\r\nabc\r\n", "HPUB x r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
      "SUB a.* q 1\r\n", "UNSUB 1 2\r\n", "CONNECT {\"a\": 1}\r\n", "pong\n",
      "PUB a 2\r\nabc\r\n", "XX", "\r", "\n", " ", "PUB a 99999999\r\n", "HPUB a 5 2\r\n"};
  std::mt19937 rng(42);
  ParserLimits limits{.max_control_line = 64, .max_payload = 1024};
  for (int round = 0; round < 2000; ++round) {
    std::string in;
    const int n = 1 + static_cast<int>(rng() % 12);
    for (int k = 0; k < n; ++k) {
      // Mostly valid frames; a garbage piece now and then.
      const size_t pick = rng() % (round % 4 == 0 ? pieces.size() : 8);
      in += pieces[pick];
    }
    std::vector<size_t> cuts;
    for (size_t i = 1; i < in.size(); ++i) {
      if (rng() % 4 == 0) cuts.push_back(i);
    }
    ASSERT_EQ(ParseCut(in, cuts, limits), ParseWhole(in, limits)) << in;
  }
}

TEST(Parser, TornFramesReuseScratch) {
  Recorder r;
  Parser p(&r, {});
  const std::string frame = "PUB foo.bar 100\r\n" + std::string(100, 'x') + "\r\n";
  p.Feed(frame.data(), 50);
  p.Feed(frame.data() + 50, frame.size() - 50);
  const size_t capacity = p.scratch_capacity();
  EXPECT_GE(capacity, frame.size());
  for (int i = 0; i < 100; ++i) {
    p.Feed(frame.data(), 30);
    p.Feed(frame.data() + 30, frame.size() - 30);
  }
  EXPECT_EQ(p.scratch_capacity(), capacity);
  EXPECT_EQ(r.events.size(), 101u);
  EXPECT_TRUE(p.idle());
}

// A declared payload reserves nothing ahead of its bytes (a client that
// declares max_payload and trickles holds what it sent), and a large torn
// frame's scratch is given back after it.
TEST(Parser, TornPayloadGrowsWithItsBytesAndIsGivenBack) {
  Recorder r;
  Parser p(&r, {});
  constexpr size_t kPayload = size_t{1} << 20;
  const std::string frame =
      "PUB big " + std::to_string(kPayload) + "\r\n" + std::string(kPayload, 'x') + "\r\n";
  p.Feed(frame.data(), 40);
  EXPECT_LT(p.scratch_capacity(), 4096u);
  size_t fed = 40;
  for (; fed + 4096 < frame.size(); fed += 4096) {
    p.Feed(frame.data() + fed, 4096);
    EXPECT_LE(p.scratch_capacity(), 2 * (fed + 4096) + 64);  // doubling, no more
  }
  p.Feed(frame.data() + fed, frame.size() - fed);
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_LE(p.scratch_capacity(), Parser::kKeepScratch);
  EXPECT_TRUE(p.idle());
}

}  // namespace
}  // namespace shortbus::server
