// The router trie: nats-server's sublist cases (server/sublist_test.go),
// a randomized comparison against SubjectMatches over many seeds, long
// subjects, the cache bound, node pruning, and a cache hit that allocates
// nothing (counted by replacing operator new for this binary).
#include "server/sublist.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "server/subject.h"
#include "server/subscription.h"
#include "tests/alloc_counter.h"
#include "tests/server/sublist_reference.h"


using shortbus::testing::StartCountingAllocations;
using shortbus::testing::StopCountingAllocations;

namespace shortbus::server {
namespace {

// sublist.cc's kMaxCacheEntries.
constexpr size_t kCacheBound = 1024;

// Owns the subscriptions a test hands to a Sublist.
class Subs {
 public:
  Subscription* Make(std::string subject, std::string queue = "") {
    auto sub = std::make_unique<Subscription>();
    sub->subject = std::move(subject);
    sub->queue = std::move(queue);
    sub->sid = std::to_string(all_.size() + 1);
    all_.push_back(std::move(sub));
    return all_.back().get();
  }

 private:
  std::vector<std::unique_ptr<Subscription>> all_;
};

MatchResult Expected(const std::vector<Subscription*>& live, std::string_view subject) {
  return ReferenceMatch(live, subject, SubjectMatches);
}

void ExpectResult(const MatchResult& got, const MatchResult& want,
                  std::string_view subject) {
  EXPECT_EQ(got.plain, want.plain) << "plain for '" << subject << "'";
  EXPECT_EQ(got.queues, want.queues) << "queues for '" << subject << "'";
}

// Runs every case twice: with the cache warm (each Match repeated, so the
// answer checked is the cached one) and cold (cache dropped before each).
class SublistCase : public ::testing::TestWithParam<bool> {
 protected:
  const MatchResult& M(std::string_view subject) {
    if (GetParam()) {
      list_.Match(subject);
    } else {
      list_.ClearCache();
    }
    return list_.Match(subject);
  }
  Subscription* Add(std::string subject, std::string queue = "") {
    Subscription* sub = subs_.Make(std::move(subject), std::move(queue));
    EXPECT_TRUE(list_.Insert(sub).ok()) << sub->subject;
    return sub;
  }

  Subs subs_;
  Sublist list_;
};

INSTANTIATE_TEST_SUITE_P(Cache, SublistCase, ::testing::Values(true, false),
                         [](const auto& info) {
                           return info.param ? "Warm" : "Cold";
                         });

using Plain = std::vector<Subscription*>;
using Queues = std::vector<std::vector<Subscription*>>;

TEST_P(SublistCase, InsertCount) {
  Add("foo");
  Add("bar");
  Add("foo.bar");
  EXPECT_EQ(list_.count(), 3u);
}

TEST_P(SublistCase, SimpleLiteral) {
  Subscription* a = Add("foo");
  EXPECT_EQ(M("foo").plain, Plain{a});
  EXPECT_TRUE(M("bar").plain.empty());
  EXPECT_TRUE(M("foo.bar").plain.empty());
}

TEST_P(SublistCase, MultiTokenLiteral) {
  Subscription* a = Add("foo.bar.baz");
  EXPECT_EQ(M("foo.bar.baz").plain, Plain{a});
  EXPECT_TRUE(M("foo.bar").plain.empty());
  EXPECT_TRUE(M("foo.bar.baz.qux").plain.empty());
}

TEST_P(SublistCase, TwoTokenPublishDoesNotMatchOneTokenSub) {
  Add("foo");
  EXPECT_TRUE(M("foo.bar").plain.empty());
}

TEST_P(SublistCase, PartialWildcardEachPosition) {
  Subscription* lit = Add("a.b.c");
  Subscription* first = Add("*.b.c");
  Subscription* middle = Add("a.*.c");
  Subscription* last = Add("a.b.*");
  Subscription* all = Add("*.*.*");
  EXPECT_EQ(M("a.b.c").plain, (Plain{lit, first, middle, last, all}));
  EXPECT_EQ(M("x.b.c").plain, (Plain{first, all}));
  EXPECT_EQ(M("a.x.c").plain, (Plain{middle, all}));
  EXPECT_EQ(M("a.b.x").plain, (Plain{last, all}));
  EXPECT_EQ(M("x.y.z").plain, (Plain{all}));
  EXPECT_TRUE(M("a.b").plain.empty());
  EXPECT_TRUE(M("a.b.c.d").plain.empty());
}

TEST_P(SublistCase, FullWildcardAloneAndAtEnd) {
  Subscription* all = Add(">");
  Subscription* under_a = Add("a.>");
  Subscription* under_ab = Add("a.b.>");
  Subscription* star_then = Add("*.b.>");
  EXPECT_EQ(M("a").plain, (Plain{all}));
  EXPECT_EQ(M("a.b").plain, (Plain{all, under_a}));
  EXPECT_EQ(M("a.b.c").plain, (Plain{all, under_a, under_ab, star_then}));
  EXPECT_EQ(M("a.b.c.d.e").plain, (Plain{all, under_a, under_ab, star_then}));
  EXPECT_EQ(M("x.b.c").plain, (Plain{all, star_then}));
  EXPECT_EQ(M("x").plain, (Plain{all}));
}

TEST_P(SublistCase, LiteralPartialAndFullTogether) {
  // nats-server TestSublistRemoveWildcard / TestSublistCacheBehavior.
  Subscription* lit = Add("a.b.c.d");
  Subscription* pwc = Add("a.b.*.d");
  Subscription* fwc = Add("a.b.>");
  EXPECT_EQ(M("a.b.c.d").plain, (Plain{lit, pwc, fwc}));
  ASSERT_TRUE(list_.Remove(lit).ok());
  EXPECT_EQ(M("a.b.c.d").plain, (Plain{pwc, fwc}));
  ASSERT_TRUE(list_.Remove(fwc).ok());
  EXPECT_EQ(M("a.b.c.d").plain, (Plain{pwc}));
  ASSERT_TRUE(list_.Remove(pwc).ok());
  EXPECT_TRUE(M("a.b.c.d").plain.empty());
  EXPECT_EQ(list_.count(), 0u);
}

TEST_P(SublistCase, WildcardCharactersInsideTokensAreLiteral) {
  // nats-server TestSublistInsertWithWildcardsAsLiterals.
  for (const char* s : {"foo.*-", "foo.>-", "foo.*bar", "foo.bar*", "foo.>bar"}) {
    Subs subs;
    Sublist list;
    Subscription* sub = subs.Make(s);
    ASSERT_TRUE(list.Insert(sub).ok()) << s;
    EXPECT_TRUE(list.Match("foo.bar").plain.empty()) << s;
    EXPECT_EQ(list.Match(s).plain, Plain{sub}) << s;
    ASSERT_TRUE(list.Remove(sub).ok()) << s;
    EXPECT_TRUE(list.Match(s).plain.empty()) << s;
    EXPECT_EQ(list.node_count(), 0u) << s;
  }
}

TEST_P(SublistCase, EmptyTokensMatchNothing) {
  // nats-server TestSublistMatchWithEmptyTokens.
  Add(">");
  Add("*");
  Add("*.*");
  for (const char* s : {".foo", "..foo", "foo..", "foo.", "foo..bar", "foo...bar", ""}) {
    const MatchResult& r = M(s);
    EXPECT_TRUE(r.plain.empty() && r.queues.empty()) << "'" << s << "'";
  }
  list_.ClearCache();
  M("foo..bar");
  EXPECT_EQ(list_.cache_size(), 0u);
}

TEST_P(SublistCase, SameSubjectManySubscribers) {
  Plain want;
  for (int i = 0; i < 500; ++i) want.push_back(Add("foo.bar"));
  EXPECT_EQ(M("foo.bar").plain, want);
  // Remove every other one; order of the rest is kept.
  Plain kept;
  for (size_t i = 0; i < want.size(); ++i) {
    if (i % 2 == 0) {
      ASSERT_TRUE(list_.Remove(want[i]).ok());
    } else {
      kept.push_back(want[i]);
    }
  }
  EXPECT_EQ(M("foo.bar").plain, kept);
  EXPECT_EQ(list_.count(), kept.size());
}

TEST_P(SublistCase, QueueGroups) {
  // nats-server TestSublistBasicQueueResults, with members in order.
  Subscription* plain = Add("foo");
  Subscription* bar1 = Add("foo", "bar");
  EXPECT_EQ(M("foo").plain, Plain{plain});
  EXPECT_EQ(M("foo").queues, (Queues{{bar1}}));
  Subscription* bar2 = Add("foo", "bar");
  EXPECT_EQ(M("foo").queues, (Queues{{bar1, bar2}}));
  Subscription* baz1 = Add("foo", "baz");
  Subscription* baz2 = Add("foo", "baz");
  Subscription* bar3 = Add("foo", "bar");
  EXPECT_EQ(M("foo").queues, (Queues{{bar1, bar2, bar3}, {baz1, baz2}}));
  EXPECT_EQ(M("foo").plain, Plain{plain});

  ASSERT_TRUE(list_.Remove(plain).ok());
  EXPECT_TRUE(M("foo").plain.empty());
  ASSERT_TRUE(list_.Remove(bar1).ok());
  EXPECT_EQ(M("foo").queues, (Queues{{bar2, bar3}, {baz1, baz2}}));
  ASSERT_TRUE(list_.Remove(bar2).ok());
  ASSERT_TRUE(list_.Remove(bar3).ok());
  EXPECT_EQ(M("foo").queues, (Queues{{baz1, baz2}}));
  ASSERT_TRUE(list_.Remove(baz1).ok());
  ASSERT_TRUE(list_.Remove(baz2).ok());
  EXPECT_TRUE(M("foo").queues.empty());
  EXPECT_EQ(list_.node_count(), 0u);
}

TEST_P(SublistCase, QueueGroupAcrossWildcardNodesInSubscriptionOrder) {
  Subscription* q1 = Add("foo.*", "workers");
  Subscription* q2 = Add("foo.bar", "workers");
  Subscription* other = Add(">", "others");
  Subscription* q3 = Add("foo.>", "workers");
  Subscription* q4 = Add("foo.*", "workers");
  Subscription* p = Add("*.bar");
  EXPECT_EQ(M("foo.bar").queues, (Queues{{q1, q2, q3, q4}, {other}}));
  EXPECT_EQ(M("foo.bar").plain, Plain{p});
  EXPECT_EQ(M("foo.baz").queues, (Queues{{q1, q3, q4}, {other}}));
  EXPECT_EQ(M("x.bar").queues, (Queues{{other}}));
}

TEST_P(SublistCase, MixedPlainAndQueue) {
  Subscription* p1 = Add("a.*");
  Subscription* g1 = Add("a.b", "g");
  Subscription* p2 = Add("a.b");
  Subscription* h1 = Add("a.>", "h");
  Subscription* g2 = Add("a.*", "g");
  const MatchResult& r = M("a.b");
  EXPECT_EQ(r.plain, (Plain{p1, p2}));
  EXPECT_EQ(r.queues, (Queues{{g1, g2}, {h1}}));
}

TEST_P(SublistCase, RemoveNonMemberIsNotFound) {
  Subscription* a = Add("foo.bar");
  Subscription* q = Add("foo.bar", "g");
  Subscription* stranger = subs_.Make("foo.bar");
  Subscription* unknown_subject = subs_.Make("no.such.subject");
  Subscription* wrong_queue = subs_.Make("foo.bar", "h");
  Subscription* bad = subs_.Make("a.b..d");
  const uint64_t gen = list_.generation();
  EXPECT_TRUE(absl::IsNotFound(list_.Remove(stranger)));
  EXPECT_TRUE(absl::IsNotFound(list_.Remove(unknown_subject)));
  EXPECT_TRUE(absl::IsNotFound(list_.Remove(wrong_queue)));
  EXPECT_TRUE(absl::IsNotFound(list_.Remove(bad)));
  EXPECT_EQ(list_.generation(), gen);
  EXPECT_EQ(list_.count(), 2u);
  ASSERT_TRUE(list_.Remove(a).ok());
  EXPECT_TRUE(absl::IsNotFound(list_.Remove(a)));
  EXPECT_EQ(M("foo.bar").queues, (Queues{{q}}));
  EXPECT_EQ(list_.generation(), gen + 1);
}

TEST_P(SublistCase, InvalidSubjectsAreRejected) {
  // nats-server TestSublistInvalidSubjectsInsert.
  for (const char* s : {"", ".foo", "foo.", "foo..bar", "foo.bar..baz", "foo.>.bar",
                        ">.bar", "foo bar", "foo.\tbar"}) {
    Subscription* sub = subs_.Make(s);
    EXPECT_TRUE(absl::IsInvalidArgument(list_.Insert(sub))) << "'" << s << "'";
  }
  Subscription* bad_queue = subs_.Make("foo", "a b");
  EXPECT_TRUE(absl::IsInvalidArgument(list_.Insert(bad_queue)));
  EXPECT_EQ(list_.count(), 0u);
  EXPECT_EQ(list_.node_count(), 0u);
  EXPECT_EQ(list_.generation(), 0u);
}

TEST_P(SublistCase, RemoveAndReinsertCountsAsNewest) {
  Subscription* a = Add("x.y", "g");
  Subscription* b = Add("x.*", "g");
  EXPECT_EQ(M("x.y").queues, (Queues{{a, b}}));
  ASSERT_TRUE(list_.Remove(a).ok());
  ASSERT_TRUE(list_.Insert(a).ok());
  EXPECT_EQ(M("x.y").queues, (Queues{{b, a}}));
}

TEST_P(SublistCase, MoreTokensThanTheStackArray) {
  std::string literal = "t0";
  std::string stars = "*";
  for (size_t i = 1; i < 2 * kMaxSubjectTokens + 3; ++i) {
    literal += ".t" + std::to_string(i);
    stars += ".*";
  }
  std::string prefix = literal.substr(0, literal.rfind('.'));
  Subscription* exact = Add(literal);
  Subscription* all_stars = Add(stars);
  Subscription* tail = Add(prefix + ".>");
  Subscription* q = Add("t0.>", "g");
  Subscription* too_long = Add(stars + ".*");
  EXPECT_EQ(M(literal).plain, (Plain{exact, all_stars, tail}));
  EXPECT_EQ(M(literal).queues, (Queues{{q}}));
  EXPECT_EQ(M(literal + ".x").plain, (Plain{tail, too_long}));
  EXPECT_TRUE(M(prefix).plain.empty());
  for (Subscription* sub : {exact, all_stars, tail, q, too_long}) {
    ASSERT_TRUE(list_.Remove(sub).ok());
  }
  EXPECT_TRUE(M(literal).plain.empty());
  EXPECT_EQ(list_.node_count(), 0u);
}

TEST(Sublist, CacheIsPatchedOnInsertAndEvictedOnRemove) {
  Subs subs;
  Sublist list;
  ASSERT_TRUE(list.Insert(subs.Make("a.b")).ok());
  list.Match("a.b");
  list.Match("a.c");
  list.Match("x.y");
  EXPECT_EQ(list.cache_size(), 3u);
  Subscription* wild = subs.Make("a.*");
  ASSERT_TRUE(list.Insert(wild).ok());
  EXPECT_EQ(list.cache_size(), 3u);  // patched, not dropped
  EXPECT_EQ(list.Match("a.c").plain, Plain{wild});
  ASSERT_TRUE(list.Remove(wild).ok());
  EXPECT_EQ(list.cache_size(), 1u);  // a.b and a.c evicted; x.y kept
  EXPECT_TRUE(list.Match("a.c").plain.empty());
}

TEST(Sublist, CacheStaysBounded) {
  Subs subs;
  Sublist list;
  Subscription* all = subs.Make(">");
  ASSERT_TRUE(list.Insert(all).ok());
  for (size_t i = 0; i < 10 * kCacheBound; ++i) {
    const std::string subject = "s." + std::to_string(i);
    ASSERT_EQ(list.Match(subject).plain, Plain{all});
    ASSERT_LE(list.cache_size(), kCacheBound);
  }
  EXPECT_GT(list.cache_size(), 0u);
}

TEST(Sublist, EmptiedNodesArePruned) {
  Subs subs;
  Sublist list;
  Subscription* abc = subs.Make("a.b.c");
  Subscription* ab = subs.Make("a.b");
  Subscription* q = subs.Make("a.*.c", "g");
  Subscription* f = subs.Make("a.>");
  for (Subscription* s : {abc, ab, q, f}) ASSERT_TRUE(list.Insert(s).ok());
  EXPECT_EQ(list.node_count(), 6u);  // a, a.b, a.b.c, a.*, a.*.c, a.>
  ASSERT_TRUE(list.Remove(abc).ok());
  EXPECT_EQ(list.node_count(), 5u);
  ASSERT_TRUE(list.Remove(q).ok());
  EXPECT_EQ(list.node_count(), 3u);
  ASSERT_TRUE(list.Remove(ab).ok());
  ASSERT_TRUE(list.Remove(f).ok());
  EXPECT_EQ(list.node_count(), 0u);

  // Churn over many distinct subjects leaves nothing behind.
  std::vector<Subscription*> live;
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 200; ++i) {
      Subscription* s = subs.Make("churn." + std::to_string(round) + "." +
                                  std::to_string(i) + (i % 3 == 0 ? ".>" : ".x"),
                                  i % 4 == 0 ? "g" : "");
      ASSERT_TRUE(list.Insert(s).ok());
      live.push_back(s);
    }
    for (Subscription* s : live) ASSERT_TRUE(list.Remove(s).ok());
    live.clear();
    ASSERT_EQ(list.node_count(), 0u);
  }
  EXPECT_EQ(list.count(), 0u);
}

// Random subscription sets and subjects: Match (warm, cold, after churn)
// equals the brute-force answer over every live subscription.
TEST(SublistProperty, MatchEqualsBruteForce) {
  constexpr const char* kTokens[] = {"a", "b", "c", "d"};
  constexpr const char* kQueues[] = {"", "", "", "q1", "q2"};
  for (uint32_t seed = 1; seed <= 150; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&rng](size_t n) {
      return static_cast<size_t>(std::uniform_int_distribution<size_t>(0, n - 1)(rng));
    };
    auto literal = [&] {
      std::string s = kTokens[pick(4)];
      for (size_t n = pick(5); n > 0; --n) s += std::string(".") + kTokens[pick(4)];
      return s;
    };
    auto pattern = [&] {
      const size_t len = 1 + pick(4);
      std::string s;
      for (size_t i = 0; i < len; ++i) {
        if (i > 0) s += '.';
        const size_t r = pick(10);
        if (r == 0 && i + 1 == len) {
          s += '>';
        } else if (r < 3) {
          s += '*';
        } else {
          s += kTokens[pick(4)];
        }
      }
      return s;
    };

    Subs subs;
    Sublist list;
    std::vector<Subscription*> live;
    std::vector<Subscription*> removed;
    auto check = [&](const std::string& subject) {
      const MatchResult want = Expected(live, subject);
      ExpectResult(list.Match(subject), want, subject);  // cold or warm
      ExpectResult(list.Match(subject), want, subject);  // warm
    };

    for (int op = 0; op < 400; ++op) {
      const size_t r = pick(10);
      if (r < 5 || live.empty()) {
        Subscription* s = (!removed.empty() && pick(4) == 0)
                              ? removed[pick(removed.size())]
                              : subs.Make(pattern(), kQueues[pick(5)]);
        std::erase(removed, s);
        ASSERT_TRUE(list.Insert(s).ok()) << s->subject;
        live.push_back(s);
      } else if (r < 8) {
        Subscription* s = live[pick(live.size())];
        ASSERT_TRUE(list.Remove(s).ok()) << s->subject;
        std::erase(live, s);
        removed.push_back(s);
      } else if (r == 8 && !removed.empty()) {
        EXPECT_TRUE(absl::IsNotFound(list.Remove(removed[pick(removed.size())])));
      } else {
        list.ClearCache();
      }
      for (int i = 0; i < 3; ++i) check(literal());
      ASSERT_EQ(list.count(), live.size());
      if (::testing::Test::HasFailure()) FAIL() << "seed " << seed << " op " << op;
    }
    for (Subscription* s : live) ASSERT_TRUE(list.Remove(s).ok());
    live.clear();
    check(literal());
    ASSERT_EQ(list.node_count(), 0u) << "seed " << seed;
  }
}

TEST(SublistAllocation, CounterWorks) {
  StartCountingAllocations();
  auto* s = new std::string(100, 'x');
  const uint64_t seen = StopCountingAllocations();
  delete s;
  EXPECT_GE(seen, 1u);
}

TEST(SublistAllocation, CacheHitAllocatesNothing) {
  Subs subs;
  Sublist list;
  for (const char* s : {"orders.eu.new", "orders.*.new", "orders.>", ">"}) {
    ASSERT_TRUE(list.Insert(subs.Make(s)).ok());
    ASSERT_TRUE(list.Insert(subs.Make(s, "workers")).ok());
  }
  std::string long_subject = "x";
  for (size_t i = 0; i < 2 * kMaxSubjectTokens; ++i) long_subject += ".y";
  const std::string subjects[] = {"orders.eu.new", "orders.us.new", "nothing",
                                  "a.long.subject.beyond.the.small.string", long_subject};
  for (const std::string& s : subjects) list.Match(s);  // warm

  StartCountingAllocations();
  size_t seen = 0;
  for (int round = 0; round < 1000; ++round) {
    for (const std::string& s : subjects) {
      const MatchResult& r = list.Match(s);
      seen += r.plain.size() + r.queues.size();
    }
  }
  const uint64_t allocated = StopCountingAllocations();
  EXPECT_EQ(allocated, 0u);
  EXPECT_GT(seen, 0u);
  // A hit hands back the cached result itself.
  EXPECT_EQ(&list.Match(subjects[0]), &list.Match(subjects[0]));
}

TEST(SublistMatchOnce, SameAnswersWithoutCachingAndWithoutAllocating) {
  Subs subs;
  Sublist list;
  std::vector<Subscription*> live;
  for (const char* s : {"_INBOX.abc.*", "_INBOX.>", "orders.>", "_INBOX.abc.7"}) {
    live.push_back(subs.Make(s));
    ASSERT_TRUE(list.Insert(live.back()).ok());
  }
  live.push_back(subs.Make("_INBOX.abc.*", "q"));
  ASSERT_TRUE(list.Insert(live.back()).ok());
  list.Match("orders.x");  // one cached subject
  for (int i = 0; i < 50; ++i) {
    const std::string subject = "_INBOX.abc." + std::to_string(i);
    ExpectResult(list.MatchOnce(subject), Expected(live, subject), subject);
  }
  ExpectResult(list.MatchOnce("orders.x"), Expected(live, "orders.x"), "orders.x");
  EXPECT_EQ(&list.MatchOnce("orders.x"), &list.Match("orders.x"));  // a hit is the cached result
  EXPECT_EQ(list.cache_size(), 1u);  // the one-off subjects were not cached
  const std::string warm = "_INBOX.abc.warm";
  list.MatchOnce(warm);
  StartCountingAllocations();
  size_t seen = 0;
  for (int i = 0; i < 1000; ++i) seen += list.MatchOnce(warm).plain.size();
  EXPECT_EQ(StopCountingAllocations(), 0u);
  EXPECT_EQ(seen, 2000u);  // _INBOX.abc.* and _INBOX.>
}

}  // namespace
}  // namespace shortbus::server
