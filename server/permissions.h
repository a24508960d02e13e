// One user's authorization: the subjects it may publish to and subscribe
// to, and whether it may answer the requests it receives. nats-server 2.9's
// rules (docs/protocol.md, "Authorization"):
//
//   publish    Allowed when there is no allow list or an allow pattern
//              matches the subject, and no deny pattern matches it (deny
//              wins). An empty allow list allows nothing.
//   subscribe  Entries are "subject" or "subject queue". A SUB needs a plain
//              allow entry matching its subject; a queue SUB whose subject
//              some queue entries match needs its queue among theirs (a
//              queue entry's name may hold wildcards). A plain deny entry
//              matching the subject refuses the SUB, as does a queue deny
//              entry matching subject and queue.
//   delivery   A SUB with wildcards may be allowed although it covers
//              denied subjects (`>` with deny `secret.>`): such a
//              subscription is marked at SUB time (FiltersDelivery) and
//              every message for it is checked (DeniesDelivery).
//   responses  allow_responses: a message delivered with a reply subject
//              lets the receiver publish to that reply subject `max_msgs`
//              times within `expires` (server/reply_permits.h). Setting it
//              turns a missing publish allow list into an empty one: the
//              user may publish responses and nothing else.
//
// Subjects are compared token by token (SubjectMatches): a `*` or `>`
// token in the client's subject is a plain token that the rule's wildcards
// match, as nats-server's Sublist does, so allow "foo.*" also permits
// SUB "foo.>", and allow "foo.>" permits SUB "foo.*".
//
// Immutable once built; shared by every connection of the user. Checks are
// a scan of the rules: allocation-free, cost linear in the rule count.
#ifndef SHORTBUS_SERVER_PERMISSIONS_H_
#define SHORTBUS_SERVER_PERMISSIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace shortbus::server {

// nats-server's defaults for `allow_responses: true`.
inline constexpr int64_t kDefaultResponseMaxMsgs = 1;
inline constexpr absl::Duration kDefaultResponseExpires = absl::Minutes(2);

struct ResponsePermission {
  int64_t max_msgs = kDefaultResponseMaxMsgs;  // < 0: no limit
  absl::Duration expires = kDefaultResponseExpires;  // <= 0: never
};

// A subscribe rule: "subject" or "subject queue".
struct SubRule {
  std::string subject;
  std::string queue;  // empty: a plain entry
};

class Permissions {
 public:
  // The lists as configured. An absent allow list (nullopt) allows all; an
  // empty one allows none.
  std::optional<std::vector<std::string>> publish_allow;
  std::vector<std::string> publish_deny;
  std::optional<std::vector<SubRule>> subscribe_allow;
  std::vector<SubRule> subscribe_deny;
  std::optional<ResponsePermission> responses;

  // InvalidArgument naming the first bad entry (a publish entry that is not
  // a valid subject; a subscribe entry that is not "subject [queue]").
  absl::Status Validate() const;

  // The static rules only (not tracked responses).
  bool PublishAllowed(std::string_view subject) const;
  bool has_publish_rules() const { return publish_allow.has_value() || !publish_deny.empty(); }
  size_t publish_rule_count() const {
    return (publish_allow ? publish_allow->size() : 0) + publish_deny.size();
  }

  bool SubscribeAllowed(std::string_view subject, std::string_view queue) const;
  // For an allowed SUB: whether some deny entry may match messages it
  // receives, so that each delivery must be checked.
  bool FiltersDelivery(std::string_view subject) const;
  // Whether a message on the literal `subject` must not reach a
  // subscription in `queue` (empty: plain) of this user.
  bool DeniesDelivery(std::string_view subject, std::string_view queue) const;
};

// Splits a subscribe entry "subject" or "subject queue" (spaces or tabs
// between). InvalidArgument for anything else.
absl::Status ParseSubRule(std::string_view text, SubRule* out);

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_PERMISSIONS_H_
