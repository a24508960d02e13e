// Subject syntax, as nats-server accepts it.
//
// A subject is one or more tokens separated by '.'; no token is empty; no
// byte is whitespace (space, tab, CR, LF). A token that is exactly `*`
// matches one token; a last token that is exactly `>` matches one or more.
// Publish subjects must be literal (no wildcard tokens); subscribe
// subjects may use wildcards.
#ifndef SHORTBUS_SERVER_SUBJECT_H_
#define SHORTBUS_SERVER_SUBJECT_H_

#include <cstddef>
#include <string_view>

namespace shortbus::server {

// Most tokens a subject may have for the router's stack arrays.
inline constexpr size_t kMaxSubjectTokens = 64;

bool IsValidPublishSubject(std::string_view subject);
bool IsValidSubscribeSubject(std::string_view subject);
// Queue group names: non-empty, no whitespace.
bool IsValidQueueName(std::string_view queue);

// True when literal `subject` is matched by `pattern` (which may hold
// wildcards). The reference matcher the tests and fuzzers check the trie
// against; not used on the hot path.
bool SubjectMatches(std::string_view pattern, std::string_view subject);

// True when some literal subject matches both patterns (two streams may not
// capture such a pair).
bool SubjectsIntersect(std::string_view a, std::string_view b);
// True when every literal subject `sub` matches is also matched by `super`.
bool SubjectIsSubsetOf(std::string_view sub, std::string_view super);

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_SUBJECT_H_
