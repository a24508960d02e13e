// Subject syntax and the reference matcher, against nats-server's tables
// (server/sublist_test.go: valid subjects, valid literal subjects, literal
// matching).
#include "server/subject.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace shortbus::server {
namespace {

struct ValidityCase {
  std::string_view subject;
  bool subscribe;  // IsValidSubscribeSubject
  bool publish;    // IsValidPublishSubject
};

constexpr ValidityCase kValidity[] = {
    {"foo", true, true},
    {"foo.bar", true, true},
    {"foo.bar.baz", true, true},
    {"", false, false},
    {".", false, false},
    {".foo", false, false},
    {"foo.", false, false},
    {"foo..bar", false, false},
    {"..", false, false},
    {"*", true, false},
    {">", true, false},
    {"foo.*", true, false},
    {"foo.*.bar", true, false},
    {"*.*.*", true, false},
    {"foo.bar.*", true, false},
    {"foo.bar.>", true, false},
    {"*.>", true, false},
    {">.bar", false, false},
    {"foo.>.bar", false, false},
    {">.>", false, false},
    {"foo.>.", false, false},
    {"foo.*.", false, false},
    // `*` and `>` inside a longer token are plain characters.
    {"foo*", true, true},
    {"foo**", true, true},
    {"foo.**", true, true},
    {"foo*bar", true, true},
    {"foo.*bar", true, true},
    {"foo*.bar", true, true},
    {"*bar", true, true},
    {"foo>", true, true},
    {"foo.>>", true, true},
    {"foo>bar", true, true},
    {"foo.>bar", true, true},
    {"foo>.bar", true, true},
    {">bar", true, true},
    {"a>.b", true, true},
    {"a.>b.c", true, true},
    // Whitespace anywhere, alone or inside a token.
    {" ", false, false},
    {"foo bar", false, false},
    {"foo. ", false, false},
    {"foo.\t", false, false},
    {"foo\tbar", false, false},
    {"foo\rbar", false, false},
    {"foo\nbar", false, false},
    {"foo\fbar", false, false},
    {"foo.bar ", false, false},
    {" foo", false, false},
    {"foo.* ", false, false},
    {"\n", false, false},
    // Other bytes are accepted as nats-server accepts them.
    {"foo-bar_baz:1/2$", true, true},
    {"$SYS.REQ.SERVER.PING", true, true},
    {"_INBOX.abc.*", true, false},
    {"\xc3\xa9t\xc3\xa9", true, true},
};

TEST(Subject, ValidityTable) {
  for (const ValidityCase& c : kValidity) {
    EXPECT_EQ(IsValidSubscribeSubject(c.subject), c.subscribe)
        << "subscribe '" << c.subject << "'";
    EXPECT_EQ(IsValidPublishSubject(c.subject), c.publish)
        << "publish '" << c.subject << "'";
  }
}

TEST(Subject, PublishImpliesSubscribe) {
  for (const ValidityCase& c : kValidity) {
    if (c.publish) {
      EXPECT_TRUE(c.subscribe) << c.subject;
    }
  }
}

TEST(Subject, LongSubjectsAreValid) {
  std::string s = "a";
  for (size_t i = 1; i < 3 * kMaxSubjectTokens; ++i) s += ".t";
  EXPECT_TRUE(IsValidPublishSubject(s));
  EXPECT_TRUE(IsValidSubscribeSubject(s + ".*.>"));
  EXPECT_FALSE(IsValidSubscribeSubject(s + ".>.x"));
}

TEST(Subject, QueueNames) {
  EXPECT_TRUE(IsValidQueueName("workers"));
  EXPECT_TRUE(IsValidQueueName("a.b"));
  EXPECT_TRUE(IsValidQueueName("*"));
  EXPECT_TRUE(IsValidQueueName(">"));
  EXPECT_FALSE(IsValidQueueName(""));
  EXPECT_FALSE(IsValidQueueName("a b"));
  EXPECT_FALSE(IsValidQueueName("a\tb"));
  EXPECT_FALSE(IsValidQueueName("a\r"));
  EXPECT_FALSE(IsValidQueueName("\nb"));
  EXPECT_FALSE(IsValidQueueName("a\fb"));
}

struct MatchCase {
  std::string_view pattern;
  std::string_view subject;
  bool matches;
};

constexpr MatchCase kMatches[] = {
    {"foo", "foo", true},
    {"bar", "foo", false},
    {"*", "foo", true},
    {">", "foo", true},
    {">", "foo.bar", true},
    {">", "a.b.c.d.e", true},
    {"foo.>", "foo.bar", true},
    {"foo.>", "foo.bar.baz", true},
    {"foo.>", "foo", false},
    {"bar.>", "foo.bar", false},
    {"stats.>", "stats.test.22", true},
    {"stats.*.*", "stats.test.22", true},
    {"foo", "foo.bar", false},
    {"foo.bar", "foo", false},
    {"stats.test.foos", "stats.test.foos", true},
    {"stats.test.foo", "stats.test.foos", false},
    {"stats.test.foos", "stats.test.foo", false},
    {"stats.test.*", "stats.test", false},
    {"stats.*", "stats.test.foos", false},
    {"stats.*.*.foos", "stats.test.foos", false},
    {"*", "foo.bar", false},
    {"*.*", "foo", false},
    {"*.bar", "foo.bar", true},
    {"foo.*", "foo.bar", true},
    {"*.*", "foo.bar", true},
    {"*.>", "foo.bar", true},
    {"*.>", "foo", false},
    {"foo.*.baz", "foo.bar.baz", true},
    {"foo.*.baz", "foo.bar.bax", false},
    {"*.bar.>", "foo.bar.baz.qux", true},
    // Wildcard characters that are not a whole token are literal.
    {"*bar", "foobar", false},
    {"foo*", "foo", false},
    {"foo*", "foo*", true},
    {"foo>", "foobar", false},
    {"foo.>bar", "foo.xbar", false},
    {"foo.*bar", "foo.bar", false},
    {"foo.*bar", "foo.*bar", true},
    {"*.foo*", "x.foo*", true},
};

TEST(Subject, MatchTable) {
  for (const MatchCase& c : kMatches) {
    EXPECT_EQ(SubjectMatches(c.pattern, c.subject), c.matches)
        << "'" << c.pattern << "' vs '" << c.subject << "'";
  }
}

// A literal pattern matches exactly itself.
TEST(Subject, LiteralMatchesOnlyItself) {
  for (const ValidityCase& a : kValidity) {
    if (!a.publish) continue;
    for (const ValidityCase& b : kValidity) {
      if (!b.publish) continue;
      EXPECT_EQ(SubjectMatches(a.subject, b.subject), a.subject == b.subject)
          << a.subject << " vs " << b.subject;
    }
  }
}

TEST(Subject, MatchesPastTheStackLimit) {
  std::string subject = "x";
  std::string star = "*";
  for (size_t i = 1; i < 2 * kMaxSubjectTokens; ++i) {
    subject += ".x";
    star += ".*";
  }
  EXPECT_TRUE(SubjectMatches(subject, subject));
  EXPECT_TRUE(SubjectMatches(star, subject));
  EXPECT_TRUE(SubjectMatches("x.>", subject));
  EXPECT_FALSE(SubjectMatches(star + ".*", subject));
  EXPECT_FALSE(SubjectMatches(star, subject + ".x"));
}

}  // namespace
}  // namespace shortbus::server
