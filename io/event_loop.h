// io::EventLoop — one thread's sockets, timers and cross-thread tasks, over
// io_uring (liburing) or epoll. It moves bytes; it knows nothing of messages.
//
// Threading. A loop is driven by exactly one thread: the one that calls
// Run(). Every method except Post() and Stop() must be called on that
// thread (from a handler, a timer, a posted task, or before Run() starts);
// Post() and Stop() may be called from any thread. Handlers, timers and
// posted tasks all run on the loop thread, one at a time, so state reached
// only from them needs no lock. A daemon that wants both cores runs one loop
// per thread; each loop owns its connections (hand a connection to another
// loop by Post()ing its fd there and calling AddConnection()).
//
// Ownership. The loop owns every listener fd given to AddListener() and
// every connection fd it accepts or is given with AddConnection(); it closes
// them. Handlers are not owned and must outlive the loop's use of them (until
// OnClose for each of their connections, or the loop's destruction).
//
// Connections are named by ConnId: a slot and a generation. A slot is reused
// only after OnClose has run for its previous connection, and then with a new
// generation, so a stale id (kept by a subscriber list, a timer, …) is
// harmlessly ignored by every method: Send returns false, PendingOutput 0.
//
// Buffer lifetimes. Received bytes are passed to OnData as a pointer and a
// length valid only during that call (they sit in a kernel-provided buffer or
// the loop's read buffer, reused as soon as the handler returns); a handler
// that needs bytes later copies them. Send* copy into the connection's output
// buffer, so the caller's bytes may change as soon as the call returns.
//
// Batching. Output queued during a loop turn (by any number of Send calls) is
// written once at the start of the next turn: one send() (epoll) or one send
// SQE (io_uring) per connection per turn. With io_uring each connection has
// two output buffers: one the kernel is sending from, one filling; they swap
// when a send completes. A quiet connection (output in fewer than 16 flush
// passes since it was last idle) gives an output buffer back as soon as it
// drains, so one that only got INFO and a PONG holds none. A busy one keeps
// its buffers, so a connection in steady state queues and sends without
// allocating, until it queues nothing for LoopOptions::idle_buffer_release
// (then it gives them back and is quiet again).
//
// Backpressure. The loop never drops queued output and never blocks: a
// consumer slower than its producers makes PendingOutput() grow. The protocol
// layer checks PendingOutput() and closes (or stops feeding) a connection past
// its limit. PauseReading()/ResumeReading() stop and restart OnData for one
// connection, so a producer can be slowed down (TCP flow control does the
// rest).
//
// Backend choice. LoopOptions::backend: kEpoll forces epoll; kUring requires
// io_uring and fails if the kernel (or a seccomp policy) refuses it; kAuto
// probes io_uring at creation (ring set-up and the opcodes and features the
// loop uses: multishot accept, ext-arg waits) and falls back to epoll.
// Within io_uring, provided buffer rings with multishot receive are used when
// registering a ring succeeds and the kernel has multishot receive; otherwise
// each connection receives single-shot into its own buffer
// (LoopOptions::uring_buffer_rings = false forces that path).
#ifndef SHORTBUS_IO_EVENT_LOOP_H_
#define SHORTBUS_IO_EVENT_LOOP_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "io/timer_queue.h"

namespace shortbus::io {

enum class Backend { kAuto, kUring, kEpoll };

// Parses "auto", "uring", "epoll" (the daemon's --io flag).
absl::StatusOr<Backend> ParseBackend(std::string_view name);

enum class PeerKind { kTcp, kUnix };

enum class CloseReason {
  kPeerClosed,  // the peer closed (or shut down) its side
  kError,       // a socket error (the errno is passed to OnClose)
  kClosedByUs,  // Close() was called, or the loop was destroyed
};
std::string_view CloseReasonName(CloseReason reason);

// Identifies one connection of one loop; {0} is never valid.
struct ConnId {
  uint64_t value = 0;
  friend bool operator==(ConnId, ConnId) = default;
};

// Identifies a listener of one loop.
struct ListenerId {
  uint32_t value = 0;
};

struct PeerInfo {
  PeerKind kind;
  // "1.2.3.4:5678" or "[::1]:5678" for TCP; for Unix sockets the listener's
  // unix_name, or the local path for AddConnection (the peer's own address
  // is normally unnamed). Valid during OnAccept only.
  std::string_view address;
};

class EventLoop;

// Callbacks for the connections of one listener (or one AddConnection).
// All run on the loop thread; any may call any EventLoop method, including
// Close() of this or another connection.
class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  // A connection is ready; Send() may be called from here on.
  virtual void OnAccept(EventLoop& loop, ConnId id, const PeerInfo& peer) = 0;
  // Bytes arrived; data is valid only during this call. Not called after
  // Close() or while reading is paused.
  virtual void OnData(EventLoop& loop, ConnId id, const char* data, size_t len) = 0;
  // The connection is gone (exactly once per accepted connection, never from
  // inside a call the handler made); id is stale from now on. error is the
  // errno for kError, else 0.
  virtual void OnClose(EventLoop& loop, ConnId id, CloseReason reason, int error) = 0;
};

// How long a listener stops accepting after accept() failed for want of fds
// or memory (it would fail again at once; retrying at once would spin).
inline constexpr absl::Duration kAcceptBackoff = absl::Milliseconds(100);

struct LoopOptions {
  Backend backend = Backend::kAuto;
  // io_uring: use provided buffer rings with multishot receive when the
  // kernel has them. false forces single-shot receive into per-connection
  // buffers (tests use it to cover the fallback).
  bool uring_buffer_rings = true;
  // io_uring submission queue entries (the completion queue is 8x).
  uint32_t uring_entries = 512;
  // Provided buffer ring: count (power of two) and size of each buffer.
  uint32_t buffer_ring_count = 256;
  uint32_t buffer_ring_size = 16 * 1024;
  // Receive buffer: the epoll loop's single shared read buffer, or each
  // connection's buffer on the io_uring single-shot path.
  uint32_t recv_buffer_size = 64 * 1024;
  // A connection that queued no output for a whole period of this length
  // gives its (empty) output buffers back and counts as quiet again (quiet
  // connections release each buffer as soon as it drains), so idle
  // connections hold no buffer memory while busy ones keep theirs (and
  // allocate nothing).
  absl::Duration idle_buffer_release = absl::Seconds(5);
  // Called on the loop thread when a listener stops accepting for want of
  // fds or memory (error: EMFILE, ENFILE, ENOBUFS or ENOMEM; accepting is
  // retried every kAcceptBackoff, 100 ms) and again when it accepts once
  // more (error 0): once each per episode, not per retry. May be empty.
  std::function<void(ListenerId, int error)> on_accept_shortage;
};

class Poller;
struct Connection;
struct Listener;

class EventLoop {
 public:
  // Errors: kUnavailable when kUring is asked and io_uring cannot be used
  // (message says why: ENOSYS/EPERM from set-up, a missing opcode); kInternal
  // for other set-up failures (epoll_create1, eventfd).
  static absl::StatusOr<std::unique_ptr<EventLoop>> Create(const LoopOptions& options = {});
  // Closes every connection (OnClose with kClosedByUs) and listener.
  // REQUIRES: Run() has returned (or never ran).
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // "epoll", "uring" (provided buffer rings) or "uring-single" (single-shot
  // receive into per-connection buffers).
  std::string_view backend_name() const;

  // Runs turns until Stop(). Each turn: write queued output, wait for events
  // (one epoll_wait or one io_uring_submit_and_wait), dispatch them, run due
  // timers and posted tasks, deliver OnClose. Returns an error only when the
  // kernel interface itself fails.
  absl::Status Run();
  // Thread-safe. Makes Run() return after the current turn. A later Run()
  // resumes.
  void Stop();
  // Thread-safe. Runs task on the loop thread soon (waking it). Tasks run in
  // the order posted. Allocates (the task and the queue slot): not for the
  // per-message path.
  void Post(std::function<void()> task);

  // Starts accepting on a listening socket (ListenTcp/ListenUnix). The loop
  // takes the fd (and closes it on error); each accepted connection gets
  // handler. unix_name is reported as PeerInfo::address of Unix connections
  // ("unix" when empty). A listener fd belongs to one loop only.
  absl::StatusOr<ListenerId> AddListener(int fd, ConnectionHandler* handler,
                                         std::string_view unix_name = {});
  // Stops accepting on every listener and closes their fds; established
  // connections are untouched (for shutdown: stop accepting, then Close(id,
  // true) each connection, then Stop() once connection_count() is 0).
  void StopAccepting();
  // Adopts a connected socket (a client connection, or one handed over from
  // another loop). handler->OnAccept runs before this returns.
  absl::StatusOr<ConnId> AddConnection(int fd, ConnectionHandler* handler);

  // Queues len bytes. Returns false (and queues nothing) if id is stale or the
  // connection is closing. Never blocks, never writes before the turn ends.
  bool Send(ConnId id, const void* data, size_t len);
  bool Send(ConnId id, std::string_view data) { return Send(id, data.data(), data.size()); }
  // Queues the concatenation of parts (e.g. a header and a payload).
  bool SendV(ConnId id, absl::Span<const std::string_view> parts);
  // Returns len writable bytes at the end of id's output, or nullptr if id is
  // stale or closing. Valid until the next call on this loop; nothing is
  // queued until Commit(id, n) with n <= len.
  char* Reserve(ConnId id, size_t len);
  void Commit(ConnId id, size_t n);
  // Bytes queued but not yet accepted by the kernel (0 for a stale id; a
  // flushing close counts until it has written everything, then closes).
  size_t PendingOutput(ConnId id) const;
  // Closes id. flush_first: keep writing what is queued, then close (no more
  // OnData: input that arrives meanwhile, or was held while paused, is
  // discarded, up to 1 MiB, then no longer read; Send refused); this waits for the peer without limit, so a
  // caller that wants a deadline calls Close(id, false) when it passes.
  // Else drop queued output now (also ending a flushing close).
  // OnClose(kClosedByUs) follows later on the loop. Returns false for a
  // stale id or one already closing (or already flushing, for flush_first).
  bool Close(ConnId id, bool flush_first);
  bool IsOpen(ConnId id) const;
  // Stop / restart OnData for id (bytes stay in the kernel meanwhile).
  void PauseReading(ConnId id);
  void ResumeReading(ConnId id);
  // Bytes of buffer memory id holds now (output and held input; not the
  // io_uring single-shot receive buffer). For status reports and tests.
  size_t BufferMemory(ConnId id) const;
  // Open connections, counting those still flushing or closing.
  size_t connection_count() const { return connection_count_; }

  // Runs fn on the loop thread after delay, then every period if period > 0,
  // until CancelTimer. Timers fire in deadline order; ties in creation order.
  TimerId AddTimer(absl::Duration delay, absl::Duration period, std::function<void()> fn);
  // Returns true if the timer was pending; it will not fire again.
  bool CancelTimer(TimerId id);

  // For pollers (internal): called on the loop thread.
  void OnAcceptedFd(Listener& listener, int fd);
  // accept() failed for want of fds or memory (IsAcceptShortage).
  void OnAcceptShortage(Listener& listener, int error);
  // Delivers received bytes unless the connection is closing or paused.
  void OnReceived(Connection& c, const char* data, size_t len);
  // Starts closing after end of input (error == 0) or a socket error.
  void OnSocketEnded(Connection& c, int error);
  // The poller is done with c's fd (closed) and buffers: deliver OnClose.
  void OnReleased(Connection& c);
  // Queues c for the flush pass at the start of the next turn.
  void MarkDirty(Connection& c);
  // Drains the wake-up flag and runs posted tasks.
  void OnWake();

 private:
  EventLoop(std::unique_ptr<Poller> poller, const LoopOptions& options);
  void ReleaseIdleBuffers();
  Connection* Lookup(ConnId id) const;
  // Open and not closing: may send and receive.
  Connection* LookupWritable(ConnId id) const;
  absl::StatusOr<ConnId> Adopt(int fd, ConnectionHandler* handler, std::string_view listen_path);
  void BeginClose(Connection& c, CloseReason reason, int error);
  void FlushDirty();
  void DeliverCloses();
  void RunPosted();
  int64_t WaitTimeoutNanos();

  std::unique_ptr<Poller> poller_;
  std::function<void(ListenerId, int)> on_accept_shortage_;
  std::vector<std::unique_ptr<Connection>> conns_;  // by slot; never shrinks
  std::vector<uint32_t> free_slots_;
  std::vector<uint32_t> dirty_;    // slots queued for the flush pass
  std::vector<uint32_t> flushing_; // the flush pass's copy of dirty_
  std::vector<uint32_t> closed_;   // slots released, awaiting OnClose
  std::vector<std::unique_ptr<Listener>> listeners_;
  size_t connection_count_ = 0;
  TimerQueue timers_;
  std::atomic<bool> stop_{false};

  std::mutex post_mu_;
  std::vector<std::function<void()>> posted_;  // guarded by post_mu_
  std::vector<std::function<void()>> running_; // loop thread only
  // Set when a wake-up is outstanding, so Post wakes the loop at most once
  // per turn.
  std::atomic<bool> wake_pending_{false};
};

}  // namespace shortbus::io

#endif  // SHORTBUS_IO_EVENT_LOOP_H_
