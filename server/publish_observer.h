// A hook seeing every message a client publishes, before routing (stream
// capture and the JetStream API, server/jetstream.h). Set with
// ServerCore::SetPublishObserver; none by default. Called on the core's
// thread; views are valid only during the call. The observer may publish
// through ServerCore::PublishInternal from inside the call (that does not
// reach the observer again); it must not close sessions.
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
  // Returns true when the observer answers the message itself (a request
  // it serves): the publisher then gets no 'no responders' status even
  // when no subscription matched.
  virtual bool OnPublish(const PublishedMessage& message) = 0;
};

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_PUBLISH_OBSERVER_H_
