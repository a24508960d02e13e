// The subject router: a trie of subject tokens with `*` and `>` children,
// queue groups, and a cache of recent matches.
//
// Subjects are dot-separated tokens. A subscription subject may use `*`
// (exactly one token) and `>` (one or more tokens, last token only).
// Match() takes a literal subject (no wildcards) and returns every
// subscription it matches, plain ones in one list and queue subscriptions
// grouped by queue name, so the caller picks one member per group.
//
// Cost: Match() on a cached subject allocates nothing and does one hash
// lookup; on a miss it walks the trie with the tokens in a stack array and
// caches the result. Insert/Remove patch or evict cached results that they
// affect, so a cached result is never stale. The cache is bounded (see
// kMaxCacheEntries in sublist.cc); when full, entries are swept.
//
// Not thread-safe: one Sublist per loop thread, or an external lock.
#ifndef SHORTBUS_SERVER_SUBLIST_H_
#define SHORTBUS_SERVER_SUBLIST_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "server/subscription.h"

namespace shortbus::server {

// Order: `plain` in subscription order; groups ordered by their oldest
// matching member. A subscription removed and inserted again counts as new.
struct MatchResult {
  std::vector<Subscription*> plain;
  // One entry per queue group with at least one member; members in the
  // order they subscribed.
  std::vector<std::vector<Subscription*>> queues;
};

class Sublist {
 public:
  Sublist();
  ~Sublist();
  Sublist(const Sublist&) = delete;
  Sublist& operator=(const Sublist&) = delete;

  // Adds `sub` (its subject must pass IsValidSubscribeSubject). Returns
  // InvalidArgument for a bad subject. The same pointer must not be
  // inserted twice.
  absl::Status Insert(Subscription* sub);
  // Removes `sub`; NotFound if it is not in the list.
  absl::Status Remove(Subscription* sub);

  // Every subscription matching the literal `subject`. The reference stays
  // valid until the next call of Insert, Remove, Match or ClearCache on this
  // Sublist. A subject with an empty token ("", ".a", "a..b") matches
  // nothing and is not cached.
  const MatchResult& Match(std::string_view subject);
  // Match for a subject that will probably not come again (a request's
  // unique reply inbox): a cached result when there is one, otherwise a
  // walk of the trie whose result is not cached, so one-off subjects do not
  // churn the cache. Valid until the next call of any of these methods.
  const MatchResult& MatchOnce(std::string_view subject);

  // Drops every cached result (the next Match of each subject walks the
  // trie). Tests use it to compare cold and warm answers.
  void ClearCache();

  size_t count() const;        // subscriptions held
  size_t cache_size() const;   // cached match results
  uint64_t generation() const; // bumped by every Insert/Remove that succeeds
  // Trie nodes below the root. Remove prunes emptied nodes, so this returns
  // to 0 once every subscription is removed.
  size_t node_count() const;

 private:
  const MatchResult& Lookup(std::string_view subject, bool cache_it);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_SUBLIST_H_
