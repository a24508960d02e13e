// The authorization rules (server/permissions.h), the per-connection
// publish cache and response permits, and the violation lines, each checked
// against nats-server 2.9.10's behaviour (probed with the same config; the
// end-to-end proof is tests/e2e/auth_c_test.cc).
#include "server/permissions.h"

#include <string>

#include "gtest/gtest.h"
#include "server/permission_errors.h"
#include "server/publish_cache.h"
#include "server/reply_permits.h"
#include "tests/alloc_counter.h"

namespace shortbus::server {
namespace {

std::vector<SubRule> Rules(std::initializer_list<const char*> texts) {
  std::vector<SubRule> out;
  for (const char* t : texts) {
    SubRule r;
    EXPECT_TRUE(ParseSubRule(t, &r).ok()) << t;
    out.push_back(r);
  }
  return out;
}

TEST(Permissions, NoRulesAllowEverything) {
  Permissions p;
  EXPECT_TRUE(p.PublishAllowed("anything.at.all"));
  EXPECT_TRUE(p.SubscribeAllowed(">", ""));
  EXPECT_TRUE(p.SubscribeAllowed("a.*", "q"));
  EXPECT_FALSE(p.has_publish_rules());
  EXPECT_FALSE(p.FiltersDelivery(">"));
}

TEST(Permissions, PublishAllowAndDenyDenyWins) {
  Permissions p;
  p.publish_allow = std::vector<std::string>{"foo.>", "$JS.API.INFO", "one.*.two"};
  p.publish_deny = {"foo.secret", "foo.private.>"};
  for (const char* ok : {"foo.a", "foo.a.b", "$JS.API.INFO", "one.x.two", "foo.secret.not"}) {
    EXPECT_TRUE(p.PublishAllowed(ok)) << ok;
  }
  for (const char* no : {"foo", "bar", "foo.secret", "foo.private.x", "foo.private.x.y", "$JS.API.STREAM.LIST",
                         "one.x.y.two", "one.two"}) {
    EXPECT_FALSE(p.PublishAllowed(no)) << no;
  }
}

TEST(Permissions, AnEmptyAllowListAllowsNothing) {
  Permissions p;
  p.publish_allow.emplace();
  EXPECT_TRUE(p.has_publish_rules());
  EXPECT_FALSE(p.PublishAllowed("foo"));
  p.subscribe_allow.emplace();
  EXPECT_FALSE(p.SubscribeAllowed("foo", ""));
}

TEST(Permissions, DenyOnlyAllowsTheRest) {
  Permissions p;
  p.publish_deny = {"$JS.API.>"};
  EXPECT_TRUE(p.PublishAllowed("orders.1"));
  EXPECT_FALSE(p.PublishAllowed("$JS.API.STREAM.CREATE.X"));
}

// Wildcard tokens in a client's subject are tokens like others, matched by
// the rules' wildcards (nats-server's Sublist does the same).
TEST(Permissions, WildcardsInTheClientsSubjectAreTokens) {
  Permissions p;
  p.publish_allow = std::vector<std::string>{"$JS.API.CONSUMER.CREATE.S.>"};
  EXPECT_TRUE(p.PublishAllowed("$JS.API.CONSUMER.CREATE.S.c.orders.*"));
  p.subscribe_allow = Rules({"foo.>", "bar.*"});
  EXPECT_TRUE(p.SubscribeAllowed("foo.*", ""));
  EXPECT_TRUE(p.SubscribeAllowed("foo.>", ""));
  EXPECT_TRUE(p.SubscribeAllowed("bar.>", ""));  // `*` matches the token `>`
  EXPECT_FALSE(p.SubscribeAllowed(">", ""));
  EXPECT_FALSE(p.SubscribeAllowed("bar.*.x", ""));
}

// nats-server's three cases: allow ["foo"], ["foo v1"], ["foo", "foo v1"];
// a queue entry's name with wildcards; a queue deny entry.
TEST(Permissions, QueueEntries) {
  struct Case {
    std::vector<SubRule> allow, deny;
    const char* subject;
    const char* queue;
    bool allowed;
  };
  const std::vector<SubRule> foo = Rules({"foo"}), v1 = Rules({"foo v1"}),
                             both = Rules({"foo", "foo v1", "q.* grp.*"}), bad = Rules({"foo bad"});
  const Case cases[] = {
      {foo, {}, "foo", "", true},          {foo, {}, "foo", "v2", true},
      {v1, {}, "foo", "", false},          {v1, {}, "foo", "v1", true},
      {v1, {}, "foo", "v2", false},        {both, {}, "foo", "", true},
      {both, {}, "foo", "v1", true},       {both, {}, "foo", "v2", false},
      {both, {}, "q.x", "grp.a", true},    {both, {}, "q.x", "grp", false},
      {both, {}, "q.x", "", false},        {foo, bad, "foo", "", true},
      {foo, bad, "foo", "good", true},     {foo, bad, "foo", "bad", false},
  };
  for (const Case& c : cases) {
    Permissions p;
    p.subscribe_allow = c.allow;
    p.subscribe_deny = c.deny;
    EXPECT_EQ(p.SubscribeAllowed(c.subject, c.queue), c.allowed)
        << c.subject << " queue '" << c.queue << "' allow[0] " << c.allow[0].subject << " " << c.allow[0].queue;
  }
}

TEST(Permissions, SubscribeDenyAndTheDeliveryFilter) {
  Permissions p;
  p.subscribe_allow = Rules({"foo.>", "_INBOX.>"});
  p.subscribe_deny = Rules({"foo.hidden", "foo.priv.*"});
  EXPECT_FALSE(p.SubscribeAllowed("foo.hidden", ""));
  EXPECT_FALSE(p.SubscribeAllowed("foo.priv.x", ""));
  EXPECT_FALSE(p.SubscribeAllowed("foo.priv.*", ""));
  // A wider subscription is allowed, and its deliveries are filtered.
  ASSERT_TRUE(p.SubscribeAllowed("foo.>", ""));
  EXPECT_TRUE(p.FiltersDelivery("foo.>"));
  EXPECT_TRUE(p.FiltersDelivery("foo.*"));
  EXPECT_FALSE(p.FiltersDelivery("foo.ok"));     // literal: judged at SUB time
  EXPECT_FALSE(p.FiltersDelivery("_INBOX.>"));   // overlaps no deny entry
  EXPECT_TRUE(p.DeniesDelivery("foo.hidden", ""));
  EXPECT_TRUE(p.DeniesDelivery("foo.priv.a", "workers"));
  EXPECT_FALSE(p.DeniesDelivery("foo.ok", ""));
  EXPECT_FALSE(p.DeniesDelivery("foo.priv.a.b", ""));
}

TEST(Permissions, ParseSubRule) {
  SubRule r;
  ASSERT_TRUE(ParseSubRule("foo.*", &r).ok());
  EXPECT_EQ(r.subject, "foo.*");
  EXPECT_EQ(r.queue, "");
  ASSERT_TRUE(ParseSubRule("foo.> \t workers ", &r).ok());
  EXPECT_EQ(r.subject, "foo.>");
  EXPECT_EQ(r.queue, "workers");
  for (const char* bad : {"", " ", "foo..bar", "foo q r", "a.>.b", "foo bad..queue"}) {
    EXPECT_FALSE(ParseSubRule(bad, &r).ok()) << "'" << bad << "'";
  }
}

TEST(Permissions, Validate) {
  Permissions p;
  p.publish_allow = std::vector<std::string>{"ok.>"};
  EXPECT_TRUE(p.Validate().ok());
  p.publish_deny = {"bad..subject"};
  EXPECT_FALSE(p.Validate().ok());
  p.publish_deny.clear();
  p.subscribe_allow = std::vector<SubRule>{{"x", "q q"}};
  EXPECT_FALSE(p.Validate().ok());
}

TEST(PermissionErrors, NatsServersWords) {
  std::string line;
  FormatPublishViolation("foo.secret", &line);
  EXPECT_EQ(line, "-ERR 'Permissions Violation for Publish to \"foo.secret\"'\r\n");
  FormatSubscribeViolation("foo.hidden", "", &line);
  EXPECT_EQ(line, "-ERR 'Permissions Violation for Subscription to \"foo.hidden\"'\r\n");
  FormatSubscribeViolation("q.x", "other", &line);
  EXPECT_EQ(line, "-ERR 'Permissions Violation for Subscription to \"q.x\" using queue \"other\"'\r\n");
  // Go's %q: quote and backslash escaped, control bytes spelled out.
  FormatPublishViolation(std::string("a\"b\\c\x01\x7f\xc3\xa9", 9), &line);
  EXPECT_EQ(line, "-ERR 'Permissions Violation for Publish to \"a\\\"b\\\\c\\x01\\x7f\xc3\xa9\"'\r\n");
}

TEST(PermissionErrors, FormattingIntoAReservedLineAllocatesNothing) {
  std::string line;
  line.reserve(4 * 64 + 128);
  const std::string subject(64, '\x01');
  ::shortbus::testing::StartCountingAllocations();
  FormatPublishViolation(subject, &line);
  FormatSubscribeViolation(subject, "queue", &line);
  EXPECT_EQ(::shortbus::testing::StopCountingAllocations(), 0u);
}

TEST(PublishCache, RemembersDecisionsAndStaysBounded) {
  PublishCache cache;
  EXPECT_FALSE(cache.Lookup("a").has_value());
  cache.Store("a", true);
  cache.Store("b", false);
  EXPECT_EQ(cache.Lookup("a"), std::optional<bool>(true));
  EXPECT_EQ(cache.Lookup("b"), std::optional<bool>(false));
  for (int i = 0; i < 10000; ++i) cache.Store("subject." + std::to_string(i), i % 2 == 0);
  EXPECT_LE(cache.size(), PublishCache::kSlots);
  // Whatever a slot holds, a hit is the decision stored for that subject.
  for (int i = 0; i < 10000; ++i) {
    const std::optional<bool> hit = cache.Lookup("subject." + std::to_string(i));
    if (hit) {
      EXPECT_EQ(*hit, i % 2 == 0) << i;
    }
  }
}

TEST(PublishCache, SteadySubjectsAllocateNothing) {
  PublishCache cache;
  std::vector<std::string> subjects;
  for (int i = 0; i < 300; ++i) subjects.push_back("telemetry.host-with-a-long-name." + std::to_string(i));
  for (const std::string& s : subjects) cache.Store(s, true);  // warm: slot strings grow once
  for (const std::string& s : subjects) cache.Store(s, true);
  ::shortbus::testing::StartCountingAllocations();
  int hits = 0;
  for (int round = 0; round < 3; ++round) {
    for (const std::string& s : subjects) {
      if (!cache.Lookup(s)) cache.Store(s, true);
      ++hits;
    }
  }
  EXPECT_EQ(::shortbus::testing::StopCountingAllocations(), 0u);
  EXPECT_EQ(hits, 900);
}

const absl::Time kT0 = absl::FromUnixSeconds(1'000'000);

TEST(ReplyPermits, MaxUsesPerGrant) {
  ReplyPermits permits(ResponsePermission{.max_msgs = 2, .expires = absl::Seconds(1)});
  EXPECT_FALSE(permits.Use("_INBOX.x", kT0));
  permits.Grant("_INBOX.x", kT0);
  EXPECT_TRUE(permits.Use("_INBOX.x", kT0));
  EXPECT_TRUE(permits.Use("_INBOX.x", kT0));
  EXPECT_FALSE(permits.Use("_INBOX.x", kT0));
  EXPECT_EQ(permits.size(), 0u);
  // Delivered again: a new permit.
  permits.Grant("_INBOX.x", kT0);
  EXPECT_TRUE(permits.Use("_INBOX.x", kT0));
}

TEST(ReplyPermits, Expiry) {
  ReplyPermits permits(ResponsePermission{.max_msgs = -1, .expires = absl::Seconds(1)});
  permits.Grant("r", kT0);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(permits.Use("r", kT0 + absl::Milliseconds(10 * i)));
  EXPECT_TRUE(permits.Use("r", kT0 + absl::Seconds(1)));
  EXPECT_FALSE(permits.Use("r", kT0 + absl::Seconds(1) + absl::Nanoseconds(1)));
  EXPECT_FALSE(permits.Use("r", kT0));  // gone
  ReplyPermits forever(ResponsePermission{.max_msgs = 1, .expires = -absl::Seconds(1)});
  forever.Grant("r", kT0);
  EXPECT_TRUE(forever.Use("r", kT0 + absl::Hours(24 * 365)));
}

TEST(ReplyPermits, BoundedTheOldestGoes) {
  ReplyPermits permits(ResponsePermission{});
  const size_t n = ReplyPermits::kMaxPermits + 10;
  for (size_t i = 0; i < n; ++i) permits.Grant("_INBOX.r." + std::to_string(i), kT0);
  EXPECT_EQ(permits.size(), ReplyPermits::kMaxPermits);
  for (size_t i = 0; i < 10; ++i) EXPECT_FALSE(permits.Use("_INBOX.r." + std::to_string(i), kT0)) << i;
  for (size_t i = 10; i < n; ++i) EXPECT_TRUE(permits.Use("_INBOX.r." + std::to_string(i), kT0)) << i;
  EXPECT_EQ(permits.size(), 0u);
}

TEST(ReplyPermits, SteadyRequestsAllocateNothing) {
  ReplyPermits permits(ResponsePermission{});
  std::vector<std::string> inboxes;
  for (size_t i = 0; i < 3 * ReplyPermits::kMaxPermits; ++i) {
    inboxes.push_back("_INBOX.aBcDeFgHiJkLmNoPqRsTuV." + std::to_string(100000 + i));
  }
  // Warm: the ring fills and wraps once, the index reaches its size.
  for (size_t i = 0; i < 2 * ReplyPermits::kMaxPermits; ++i) {
    permits.Grant(inboxes[i], kT0);
    ASSERT_TRUE(permits.Use(inboxes[i], kT0));
  }
  ::shortbus::testing::StartCountingAllocations();
  size_t used = 0;
  for (size_t i = 2 * ReplyPermits::kMaxPermits; i < inboxes.size(); ++i) {
    permits.Grant(inboxes[i], kT0);
    used += permits.Use(inboxes[i], kT0);
  }
  EXPECT_EQ(::shortbus::testing::StopCountingAllocations(), 0u);
  EXPECT_EQ(used, ReplyPermits::kMaxPermits);
}

}  // namespace
}  // namespace shortbus::server
