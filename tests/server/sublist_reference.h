// What Sublist::Match must answer, built the slow way: every live
// subscription, in subscription order, that `matches(pattern, subject)`
// accepts; plain ones in order, queue subscriptions grouped by queue name
// with the groups in order of their oldest member. The router's tests use
// it with SubjectMatches, fuzz/sublist_fuzzer.cc with a matcher of its own.
#ifndef SHORTBUS_TESTS_SERVER_SUBLIST_REFERENCE_H_
#define SHORTBUS_TESTS_SERVER_SUBLIST_REFERENCE_H_

#include <string_view>
#include <vector>

#include "server/sublist.h"
#include "server/subscription.h"

namespace shortbus::server {

template <typename Matches>
MatchResult ReferenceMatch(const std::vector<Subscription*>& live, std::string_view subject, Matches matches) {
  MatchResult r;
  for (Subscription* sub : live) {
    if (!matches(sub->subject, subject)) continue;
    if (sub->queue.empty()) {
      r.plain.push_back(sub);
      continue;
    }
    bool placed = false;
    for (auto& group : r.queues) {
      if (group.front()->queue == sub->queue) {
        group.push_back(sub);
        placed = true;
        break;
      }
    }
    if (!placed) r.queues.push_back({sub});
  }
  return r;
}

}  // namespace shortbus::server

#endif  // SHORTBUS_TESTS_SERVER_SUBLIST_REFERENCE_H_
