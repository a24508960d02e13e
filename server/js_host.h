// What the JetStream layer needs from the thread that drives the core: a
// way in from other threads (a stream's durable callback) and one-shot
// timers. The daemon implements it over io::EventLoop; tests in memory.
// Every callback runs on the core's thread.
#ifndef SHORTBUS_SERVER_JS_HOST_H_
#define SHORTBUS_SERVER_JS_HOST_H_

#include <cstdint>
#include <functional>

#include "absl/time/time.h"

namespace shortbus::server {

class JsHost {
 public:
  virtual ~JsHost() = default;
  // Any thread: runs `task` on the core's thread soon (after the events
  // being handled now).
  virtual void Post(std::function<void()> task) = 0;
  // Core thread: runs `fn` once after `delay`; returns a non-zero id.
  virtual uint64_t AddTimer(absl::Duration delay, std::function<void()> fn) = 0;
  // Core thread: a timer that has not fired yet does not fire. Unknown or
  // fired ids are ignored.
  virtual void CancelTimer(uint64_t id) = 0;
  // Nanoseconds since the Unix epoch.
  virtual int64_t NowNs() = 0;
};

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_JS_HOST_H_
