// SIGTERM/SIGINT without work in a signal handler: the signals are blocked
// in every thread (BlockStopSignals, called first thing in main, before any
// thread starts) and a dedicated thread takes them with sigwait() and calls
// the callback, which hands the work to the event loop (EventLoop::Post).
#ifndef SHORTBUS_SERVER_SIGNAL_WATCHER_H_
#define SHORTBUS_SERVER_SIGNAL_WATCHER_H_

#include <atomic>
#include <functional>
#include <thread>

namespace shortbus::server {

// Blocks SIGTERM and SIGINT in the calling thread (and so in threads it
// starts later) and ignores SIGPIPE.
void BlockStopSignals();

class SignalWatcher {
 public:
  // on_signal(signo) runs on the watcher's thread, for each signal taken.
  // REQUIRES: BlockStopSignals() ran in this thread.
  explicit SignalWatcher(std::function<void(int)> on_signal);
  // Stops the thread (it ignores the wake-up signal it is sent).
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

 private:
  std::function<void(int)> on_signal_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_SIGNAL_WATCHER_H_
