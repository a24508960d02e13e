// allow_responses (server/permissions.h): the reply subjects one connection
// may publish to because it received a message carrying them.
//
// A delivered message with reply subject R grants a permit for R (again
// delivered: the permit starts over). Publishing to R uses it; it holds for
// `max_msgs` publishes (< 0: any number) within `expires` of the grant
// (<= 0: no time limit), as nats-server's `replies` map does.
//
// Bounded: at most kMaxPermits are held; beyond that a new grant replaces
// the oldest one (a responder that leaves more than kMaxPermits requests
// unanswered loses the right to answer the oldest). Entries live in a ring
// whose slots keep their string capacity, and the index keeps its table,
// so once the ring has wrapped and reply subjects have a steady length,
// Grant and Use allocate nothing. At most kMaxPermits entries, reply
// subject copies and index slots per connection. Single-threaded, like
// the session.
#ifndef SHORTBUS_SERVER_REPLY_PERMITS_H_
#define SHORTBUS_SERVER_REPLY_PERMITS_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "server/permissions.h"

namespace shortbus::server {

class ReplyPermits {
 public:
  static constexpr size_t kMaxPermits = 1024;

  explicit ReplyPermits(ResponsePermission rules);

  // A message with reply subject `reply` was delivered at `now`.
  void Grant(std::string_view reply, absl::Time now);
  // Uses the permit for `subject` at `now`; false when there is none that
  // is still valid.
  bool Use(std::string_view subject, absl::Time now);
  // Permits held that are not used up (expired ones count until touched).
  size_t size() const { return index_.size(); }

 private:
  struct Entry {
    std::string subject;
    absl::Time granted;
    int64_t used = 0;
    bool live = false;
  };
  void Drop(Entry& e);

  const ResponsePermission rules_;
  std::deque<Entry> ring_;  // grows to kMaxPermits, then is reused in order
  size_t next_ = 0;         // the slot a grant takes once ring_ is full
  // Views into ring_ entries' subjects (a deque never moves its elements).
  absl::flat_hash_map<std::string_view, size_t> index_;
};

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_REPLY_PERMITS_H_
