#include "io/event_loop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "io/poller.h"

namespace shortbus::io {

absl::StatusOr<Backend> ParseBackend(std::string_view name) {
  if (name == "auto") return Backend::kAuto;
  if (name == "uring") return Backend::kUring;
  if (name == "epoll") return Backend::kEpoll;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown io backend '", absl::string_view(name.data(), name.size()),
                   "' (expected epoll, uring or auto)"));
}

bool IsAcceptShortage(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

std::string_view CloseReasonName(CloseReason reason) {
  switch (reason) {
    case CloseReason::kPeerClosed: return "peer closed";
    case CloseReason::kError: return "error";
    case CloseReason::kClosedByUs: return "closed by us";
  }
  return "?";
}

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create(const LoopOptions& options) {
  absl::StatusOr<std::unique_ptr<Poller>> poller;
  switch (options.backend) {
    case Backend::kEpoll:
      poller = NewEpollPoller(options);
      break;
    case Backend::kUring:
      poller = NewUringPoller(options);
      break;
    case Backend::kAuto:
      poller = NewUringPoller(options);
      if (!poller.ok()) poller = NewEpollPoller(options);
      break;
  }
  if (!poller.ok()) return poller.status();
  std::unique_ptr<EventLoop> loop(new EventLoop(*std::move(poller), options));
  loop->poller_->Attach(loop.get());
  return loop;
}

EventLoop::EventLoop(std::unique_ptr<Poller> poller, const LoopOptions& options)
    : poller_(std::move(poller)), on_accept_shortage_(options.on_accept_shortage) {
  if (options.idle_buffer_release > absl::ZeroDuration()) {
    const absl::Duration period = options.idle_buffer_release;
    AddTimer(period, period, [this] { ReleaseIdleBuffers(); });
  }
}

void EventLoop::ReleaseIdleBuffers() {
  for (auto& c : conns_) {
    if (c->state == ConnState::kOpen && !c->queued_since_sweep && c->pending_output() == 0) {
      c->out[0].ReleaseIfEmpty();
      c->out[1].ReleaseIfEmpty();
      c->held_input.ReleaseIfEmpty();
      c->flushes = 0;  // quiet again
    }
    c->queued_since_sweep = false;
  }
}

size_t EventLoop::BufferMemory(ConnId id) const {
  Connection* c = Lookup(id);
  if (c == nullptr) return 0;
  return c->out[0].capacity() + c->out[1].capacity() + c->held_input.capacity();
}

EventLoop::~EventLoop() {
  StopAccepting();
  for (auto& c : conns_) {
    if (c->state == ConnState::kOpen || c->state == ConnState::kDraining) {
      BeginClose(*c, CloseReason::kClosedByUs, 0);
    }
  }
  // io_uring releases a connection only when its requests complete; they
  // were cancelled above, so this ends within a few turns.
  for (int turn = 0; turn < 1000 && connection_count_ > closed_.size(); ++turn) {
    if (!poller_->Wait(10'000'000).ok()) break;
  }
  DeliverCloses();
  // The ring goes before the buffers it may still name (conns_ and
  // listeners_ are destroyed after this body).
  poller_.reset();
}

std::string_view EventLoop::backend_name() const { return poller_->name(); }

absl::Status EventLoop::Run() {
  while (!stop_.load(std::memory_order_acquire)) {
    FlushDirty();
    absl::Status st = poller_->Wait(WaitTimeoutNanos());
    if (!st.ok()) return st;
    timers_.RunDue(TimerQueue::NowNanos());
    RunPosted();
    DeliverCloses();
  }
  stop_.store(false, std::memory_order_release);
  return absl::OkStatus();
}

void EventLoop::Stop() {
  stop_.store(true, std::memory_order_release);
  poller_->Wake();
}

void EventLoop::Post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(post_mu_);
    posted_.push_back(std::move(task));
  }
  if (!wake_pending_.exchange(true, std::memory_order_acq_rel)) poller_->Wake();
}

void EventLoop::OnWake() { wake_pending_.store(false, std::memory_order_release); }

void EventLoop::RunPosted() {
  {
    std::lock_guard<std::mutex> lock(post_mu_);
    if (posted_.empty()) return;
    running_.swap(posted_);
  }
  for (auto& task : running_) task();
  running_.clear();
}

int64_t EventLoop::WaitTimeoutNanos() {
  if (!closed_.empty() || !dirty_.empty()) return 0;
  return timers_.NanosUntilNext(TimerQueue::NowNanos());
}

absl::StatusOr<ListenerId> EventLoop::AddListener(int fd, ConnectionHandler* handler,
                                                   std::string_view unix_name) {
  auto l = std::make_unique<Listener>();
  l->index = static_cast<uint32_t>(listeners_.size());
  l->fd = fd;
  l->handler = handler;
  l->path = unix_name.empty() ? "unix" : std::string(unix_name);
  if (absl::Status st = poller_->StartListener(*l); !st.ok()) {
    close(fd);
    return st;
  }
  l->active = true;
  listeners_.push_back(std::move(l));
  return ListenerId{listeners_.back()->index};
}

void EventLoop::StopAccepting() {
  for (auto& l : listeners_) {
    if (!l->active) continue;
    l->active = false;
    poller_->StopListener(*l);
  }
}

absl::StatusOr<ConnId> EventLoop::AddConnection(int fd, ConnectionHandler* handler) {
  sockaddr_un addr{};
  socklen_t len = sizeof(addr);
  std::string_view path = "unix";
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0 &&
      addr.sun_family == AF_UNIX && len > offsetof(sockaddr_un, sun_path) &&
      addr.sun_path[0] != '\0') {
    path = std::string_view(addr.sun_path,
                            strnlen(addr.sun_path, len - offsetof(sockaddr_un, sun_path)));
  }
  return Adopt(fd, handler, path);
}

void EventLoop::OnAcceptedFd(Listener& listener, int fd) {
  if (listener.short_of_fds) {
    listener.short_of_fds = false;
    if (on_accept_shortage_) on_accept_shortage_(ListenerId{listener.index}, 0);
  }
  // A failure has closed fd; the listener goes on.
  (void)Adopt(fd, listener.handler, listener.path);
}

void EventLoop::OnAcceptShortage(Listener& listener, int error) {
  if (listener.short_of_fds) return;
  listener.short_of_fds = true;
  if (on_accept_shortage_) on_accept_shortage_(ListenerId{listener.index}, error);
}

absl::StatusOr<ConnId> EventLoop::Adopt(int fd, ConnectionHandler* handler,
                                        std::string_view listen_path) {
  sockaddr_storage peer{};
  socklen_t peer_len = sizeof(peer);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) {
    const int err = errno;
    close(fd);
    return absl::InvalidArgumentError(absl::StrCat("not a socket: ", strerror(err)));
  }
  PeerInfo info{PeerKind::kUnix, listen_path};
  char text[INET6_ADDRSTRLEN + 16];
  if (peer.ss_family == AF_INET || peer.ss_family == AF_INET6) {
    info.kind = PeerKind::kTcp;
    peer_len = sizeof(peer);
    info.address = "?";
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) == 0) {
      char ip[INET6_ADDRSTRLEN] = "";
      int n;
      if (peer.ss_family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&peer);
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        n = snprintf(text, sizeof(text), "%s:%u", ip, ntohs(a->sin_port));
      } else {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&peer);
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        n = snprintf(text, sizeof(text), "[%s]:%u", ip, ntohs(a->sin6_port));
      }
      if (n > 0) info.address = std::string_view(text, static_cast<size_t>(n));
    }
  }

  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(conns_.size());
    conns_.push_back(std::make_unique<Connection>());
    conns_.back()->slot = slot;
    // Each list holds a slot at most once: sized here, they never grow on
    // the per-message path.
    dirty_.reserve(conns_.size());
    flushing_.reserve(conns_.size());
    closed_.reserve(conns_.size());
    free_slots_.reserve(conns_.size());
  }
  Connection& c = *conns_[slot];
  c.state = ConnState::kOpen;
  c.kind = info.kind;
  c.fd = fd;
  c.handler = handler;
  c.paused = false;
  c.discarded = 0;
  c.flushes = 0;
  c.close_reason = CloseReason::kClosedByUs;
  c.close_error = 0;
  if (absl::Status st = poller_->StartConnection(c); !st.ok()) {
    close(fd);
    c.fd = -1;
    c.state = ConnState::kFree;
    ++c.generation;
    free_slots_.push_back(slot);
    return st;
  }
  ++connection_count_;
  const ConnId id = c.id();
  handler->OnAccept(*this, id, info);
  return id;
}

Connection* EventLoop::Lookup(ConnId id) const {
  const uint32_t low = static_cast<uint32_t>(id.value);
  if (low == 0 || low > conns_.size()) return nullptr;
  Connection* c = conns_[low - 1].get();
  if (c->generation != static_cast<uint32_t>(id.value >> 32)) return nullptr;
  if (c->state == ConnState::kFree) return nullptr;
  return c;
}

Connection* EventLoop::LookupWritable(ConnId id) const {
  Connection* c = Lookup(id);
  return c != nullptr && c->state == ConnState::kOpen ? c : nullptr;
}

bool EventLoop::IsOpen(ConnId id) const { return LookupWritable(id) != nullptr; }

void EventLoop::MarkDirty(Connection& c) {
  c.queued_since_sweep = true;
  if (c.dirty) return;
  c.dirty = true;
  dirty_.push_back(c.slot);
}

bool EventLoop::Send(ConnId id, const void* data, size_t len) {
  Connection* c = LookupWritable(id);
  if (c == nullptr) return false;
  c->fill().Append(data, len);
  MarkDirty(*c);
  return true;
}

bool EventLoop::SendV(ConnId id, absl::Span<const std::string_view> parts) {
  Connection* c = LookupWritable(id);
  if (c == nullptr) return false;
  size_t total = 0;
  for (std::string_view p : parts) total += p.size();
  char* dst = c->fill().Reserve(total);
  for (std::string_view p : parts) {
    if (p.empty()) continue;
    std::memcpy(dst, p.data(), p.size());
    dst += p.size();
  }
  c->fill().Commit(total);
  MarkDirty(*c);
  return true;
}

char* EventLoop::Reserve(ConnId id, size_t len) {
  Connection* c = LookupWritable(id);
  return c == nullptr ? nullptr : c->fill().Reserve(len);
}

void EventLoop::Commit(ConnId id, size_t n) {
  Connection* c = LookupWritable(id);
  if (c == nullptr || n == 0) return;
  c->fill().Commit(n);
  MarkDirty(*c);
}

size_t EventLoop::PendingOutput(ConnId id) const {
  Connection* c = Lookup(id);
  if (c == nullptr) return 0;
  if (c->state != ConnState::kOpen && c->state != ConnState::kDraining) return 0;
  return c->pending_output();
}

bool EventLoop::Close(ConnId id, bool flush_first) {
  Connection* c = Lookup(id);
  if (c == nullptr) return false;
  // A flushing close can be cut short (its deadline passed), not repeated.
  if (c->state == ConnState::kDraining && !flush_first) {
    BeginClose(*c, CloseReason::kClosedByUs, 0);
    return true;
  }
  if (c->state != ConnState::kOpen) return false;
  if (flush_first && c->pending_output() > 0) {
    c->state = ConnState::kDraining;
    // Input is discarded from now on; what was held while paused goes too.
    c->held_input.Clear();
    c->held_input.ReleaseIfEmpty();
    MarkDirty(*c);
  } else {
    BeginClose(*c, CloseReason::kClosedByUs, 0);
  }
  return true;
}

void EventLoop::PauseReading(ConnId id) {
  Connection* c = LookupWritable(id);
  if (c == nullptr || c->paused) return;
  c->paused = true;
  poller_->UpdateReading(*c);
}

void EventLoop::ResumeReading(ConnId id) {
  Connection* c = LookupWritable(id);
  if (c == nullptr || !c->paused) return;
  c->paused = false;
  poller_->UpdateReading(*c);
  if (!c->held_input.empty()) MarkDirty(*c);
}

void EventLoop::OnReceived(Connection& c, const char* data, size_t len) {
  if (c.state == ConnState::kDraining) {
    // Read and dropped, so that unread input does not turn the close into a
    // reset that loses the last output; a peer still sending after
    // kMaxDrainDiscard is flooding, and is not read any more.
    c.discarded += len;
    if (c.discarded > kMaxDrainDiscard && !c.paused) {
      c.paused = true;
      poller_->UpdateReading(c);
    }
    return;
  }
  if (c.state != ConnState::kOpen) return;
  if (c.paused) {
    c.held_input.Append(data, len);
    return;
  }
  c.handler->OnData(*this, c.id(), data, len);
}

void EventLoop::OnSocketEnded(Connection& c, int error) {
  if (c.state != ConnState::kOpen && c.state != ConnState::kDraining) return;
  BeginClose(c, error == 0 ? CloseReason::kPeerClosed : CloseReason::kError, error);
}

void EventLoop::BeginClose(Connection& c, CloseReason reason, int error) {
  c.state = ConnState::kClosing;
  c.close_reason = reason;
  c.close_error = error;
  poller_->StartClose(c);
}

void EventLoop::OnReleased(Connection& c) {
  c.state = ConnState::kReleased;
  c.fd = -1;
  // The slot's next connection starts quiet: keep no buffer for it.
  c.out[0].Clear();
  c.out[1].Clear();
  c.held_input.Clear();
  c.out[0].ReleaseIfEmpty();
  c.out[1].ReleaseIfEmpty();
  c.held_input.ReleaseIfEmpty();
  closed_.push_back(c.slot);
}

void EventLoop::FlushDirty() {
  flushing_.swap(dirty_);
  for (uint32_t slot : flushing_) {
    Connection& c = *conns_[slot];
    c.dirty = false;
    if (c.state == ConnState::kOpen && !c.paused && !c.held_input.empty()) {
      // Input held while paused; one call, then the buffer is reused.
      std::string_view held = c.held_input.Pending();
      c.handler->OnData(*this, c.id(), held.data(), held.size());
      c.held_input.Clear();
    }
    if (c.state != ConnState::kOpen && c.state != ConnState::kDraining) continue;
    if (c.pending_output() > 0) {
      c.CountFlush();
      poller_->Flush(c);
    }
    if (c.state == ConnState::kDraining && c.pending_output() == 0) {
      BeginClose(c, CloseReason::kClosedByUs, 0);
    }
  }
  flushing_.clear();
}

void EventLoop::DeliverCloses() {
  // OnClose may close more connections (appending to closed_).
  for (size_t i = 0; i < closed_.size(); ++i) {
    Connection& c = *conns_[closed_[i]];
    const ConnId id = c.id();
    ConnectionHandler* handler = c.handler;
    const CloseReason reason = c.close_reason;
    const int error = c.close_error;
    c.state = ConnState::kFree;
    c.handler = nullptr;
    c.paused = false;
    ++c.generation;
    free_slots_.push_back(c.slot);
    --connection_count_;
    handler->OnClose(*this, id, reason, error);
  }
  closed_.clear();
}

TimerId EventLoop::AddTimer(absl::Duration delay, absl::Duration period,
                            std::function<void()> fn) {
  return timers_.Add(absl::ToInt64Nanoseconds(delay), absl::ToInt64Nanoseconds(period),
                     std::move(fn));
}

bool EventLoop::CancelTimer(TimerId id) { return timers_.Cancel(id); }

}  // namespace shortbus::io
