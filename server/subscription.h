// One client subscription as the router sees it.
//
// Owned by the client session that created it (SUB); the Sublist only holds
// pointers. A Subscription must be removed from the Sublist before it is
// destroyed. Single-threaded: everything here runs on the loop thread that
// owns the session.
#ifndef SHORTBUS_SERVER_SUBSCRIPTION_H_
#define SHORTBUS_SERVER_SUBSCRIPTION_H_

#include <cstdint>
#include <string>

namespace shortbus::server {

class Session;  // server/session.h

struct Subscription {
  std::string subject;  // validated; may hold `*` and `>` tokens
  std::string queue;    // queue group name; empty when none
  std::string sid;      // the client's subscription id, echoed in MSG
  Session* owner = nullptr;
  // UNSUB sid N: deliver at most `max_msgs` in total (0 = no limit), then
  // remove. `delivered` counts messages handed to the owner so far.
  uint64_t max_msgs = 0;
  uint64_t delivered = 0;
  // The owner's subscribe deny rules overlap this subject's wildcards: each
  // message is checked against them before delivery (server/permissions.h).
  bool deny_filtered = false;
};

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_SUBSCRIPTION_H_
