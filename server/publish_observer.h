// A hook seeing every message a client publishes, before routing (issue 6:
// stream capture). Set with ServerCore::SetPublishObserver; none by default.
// Called on the core's thread; views are valid only during the call; the
// observer must not call back into the core.
#ifndef SHORTBUS_SERVER_PUBLISH_OBSERVER_H_
#define SHORTBUS_SERVER_PUBLISH_OBSERVER_H_

#include <string_view>

#include "server/transport.h"

namespace shortbus::server {

struct PublishedMessage {
  ClientId publisher = 0;
  std::string_view subject;
  std::string_view reply;    // empty when none
  std::string_view headers;  // HPUB's header block; empty for PUB
  std::string_view payload;  // the body, without headers
  bool has_headers = false;  // sent as HPUB
};

class PublishObserver {
 public:
  virtual ~PublishObserver() = default;
  virtual void OnPublish(const PublishedMessage& message) = 0;
};

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_PUBLISH_OBSERVER_H_
