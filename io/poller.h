// The kernel interface behind EventLoop (internal): epoll or io_uring. A
// poller owns the kernel-side state of each connection and listener (armed
// requests, fds, in-flight buffers); EventLoop owns the connection table,
// output queues, timers and posted tasks, and calls the poller only from the
// loop thread, except Wake().
#ifndef SHORTBUS_IO_POLLER_H_
#define SHORTBUS_IO_POLLER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "io/event_loop.h"
#include "io/output_buffer.h"

namespace shortbus::io {

enum class ConnState : uint8_t {
  kFree,      // slot unused
  kOpen,      // reading and writing
  kDraining,  // Close(flush_first): writing what is queued, then closing
  kClosing,   // the poller is tearing down; OnReleased follows
  kReleased,  // waiting for OnClose in the loop's close pass
};

struct Connection {
  uint32_t slot = 0;
  uint32_t generation = 1;
  ConnState state = ConnState::kFree;
  PeerKind kind = PeerKind::kTcp;
  bool dirty = false;   // in the loop's dirty list
  bool queued_since_sweep = false;  // output queued since the last idle sweep
  bool paused = false;  // PauseReading
  int fd = -1;
  ConnectionHandler* handler = nullptr;
  CloseReason close_reason = CloseReason::kClosedByUs;
  int close_error = 0;

  // Output: fill() receives Send; with io_uring, flight() is what the kernel
  // is sending (never touched by Send while a send is in flight). The epoll
  // poller sends straight from fill() and never uses flight().
  OutputBuffer out[2];
  uint8_t fill_index = 0;
  OutputBuffer& fill() { return out[fill_index]; }
  OutputBuffer& flight() { return out[fill_index ^ 1]; }
  size_t pending_output() const { return out[0].size() + out[1].size(); }

  // Flush passes that found output since the connection was last quiet
  // (an idle sweep with nothing queued), saturating at kBusyFlushes. Below
  // it the connection is *quiet*: its output buffers are given back as soon
  // as they drain, so a connection that only sent INFO and a PONG holds no
  // buffer memory; at it the connection is *busy* and keeps them, so its
  // steady state allocates nothing.
  static constexpr uint8_t kBusyFlushes = 16;
  uint8_t flushes = 0;
  bool busy() const { return flushes >= kBusyFlushes; }
  void CountFlush() {
    if (flushes < kBusyFlushes) ++flushes;
  }
  // A quiet connection's drained buffers go back. REQUIRES: the kernel is
  // not reading either of them (no send in flight).
  void ReleaseDrainedIfQuiet() {
    if (busy()) return;
    out[0].ReleaseIfEmpty();
    out[1].ReleaseIfEmpty();
  }

  // Bytes received (io_uring) while reading was paused, delivered on resume.
  OutputBuffer held_input;

  // Poller state.
  bool want_write = false;      // epoll: EPOLLOUT registered
  bool recv_armed = false;      // io_uring: a receive request is live
  bool send_in_flight = false;  // io_uring: a send request is live
  uint32_t discarded = 0;  // input dropped while draining (kMaxDrainDiscard)
  std::unique_ptr<char[]> recv_buf;  // io_uring single-shot receive buffer

  ConnId id() const { return ConnId{(uint64_t{generation} << 32) | (slot + 1)}; }
};

struct Listener {
  uint32_t index = 0;
  int fd = -1;
  ConnectionHandler* handler = nullptr;
  bool active = false;
  bool armed = false;  // io_uring: the multishot accept is live
  bool short_of_fds = false;  // accept failed for want of fds or memory, none since
  std::string path;    // PeerInfo::address of its Unix connections
};

class Poller {
 public:
  virtual ~Poller() = default;
  virtual std::string_view name() const = 0;
  // Sets the loop that receives events. Called once, before anything else.
  virtual void Attach(EventLoop* loop) = 0;

  virtual absl::Status StartListener(Listener& l) = 0;
  // Stops accepting and closes l.fd (now or once the kernel lets go).
  virtual void StopListener(Listener& l) = 0;
  // Starts reading c (state kOpen, fd set).
  virtual absl::Status StartConnection(Connection& c) = 0;
  // Writes what c has queued (c.state is kOpen or kDraining). May complete
  // later; then calls loop->MarkDirty(c) again so the loop re-checks.
  virtual void Flush(Connection& c) = 0;
  // Reading paused or resumed (c.paused already updated).
  virtual void UpdateReading(Connection& c) = 0;
  // c.state is kClosing: stop all I/O; close c.fd once the kernel no longer
  // uses it or its buffers, then call loop->OnReleased(c).
  virtual void StartClose(Connection& c) = 0;
  // Writes queued output, waits up to timeout_ns (-1: no limit) for events,
  // and dispatches them to the loop.
  virtual absl::Status Wait(int64_t timeout_ns) = 0;
  // Thread-safe: makes a Wait in progress (or the next one) return.
  virtual void Wake() = 0;
};

// accept() failing for want of fds or memory (EMFILE, ENFILE, ENOBUFS,
// ENOMEM) would fail again at once: the poller stops accepting on that
// listener for kAcceptBackoff (a loop timer) instead of spinning.
bool IsAcceptShortage(int err);

// Input a draining connection may send (read and dropped) before it is no
// longer read.
inline constexpr uint32_t kMaxDrainDiscard = 1 << 20;

absl::StatusOr<std::unique_ptr<Poller>> NewEpollPoller(const LoopOptions& options);
// Errors: kUnavailable when io_uring or a feature the loop needs is missing.
absl::StatusOr<std::unique_ptr<Poller>> NewUringPoller(const LoopOptions& options);

}  // namespace shortbus::io

#endif  // SHORTBUS_IO_POLLER_H_
