// The epoll poller: level-triggered readiness, one shared read buffer,
// output written straight from each connection's fill buffer.
#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "io/fd_util.h"
#include "io/poller.h"

namespace shortbus::io {
namespace {

// epoll_event.data.u64: kind in the top byte, then the slot (or listener
// index). A connection's events are dropped from the kernel when its fd
// closes, so no generation is needed.
enum Tag : uint64_t { kWakeTag = 1, kListenerTag = 2, kConnTag = 3 };
constexpr uint64_t Pack(Tag tag, uint32_t index) { return (uint64_t{tag} << 56) | index; }

constexpr int kMaxEvents = 256;
// Reads per readable connection per turn before yielding to others.
constexpr int kMaxReadsPerTurn = 4;
constexpr int kMaxAcceptsPerTurn = 64;

class EpollPoller final : public Poller {
 public:
  EpollPoller(int epfd, int wakefd, uint32_t read_size)
      : epfd_(epfd), wakefd_(wakefd), read_size_(read_size), read_buf_(new char[read_size]) {}
  ~EpollPoller() override {
    close(wakefd_);
    close(epfd_);
  }

  std::string_view name() const override { return "epoll"; }
  void Attach(EventLoop* loop) override { loop_ = loop; }

  absl::Status StartListener(Listener& l) override {
    if (absl::Status st = SetNonBlocking(l.fd, true); !st.ok()) return st;
    if (listeners_.size() <= l.index) listeners_.resize(l.index + 1);
    listeners_[l.index] = &l;
    return Ctl(EPOLL_CTL_ADD, l.fd, EPOLLIN, Pack(kListenerTag, l.index));
  }

  void StopListener(Listener& l) override {
    epoll_ctl(epfd_, EPOLL_CTL_DEL, l.fd, nullptr);
    close(l.fd);
    l.fd = -1;
  }

  absl::Status StartConnection(Connection& c) override {
    if (absl::Status st = SetNonBlocking(c.fd, true); !st.ok()) return st;
    c.want_write = false;
    if (conns_.size() <= c.slot) conns_.resize(c.slot + 1);
    conns_[c.slot] = &c;
    return Ctl(EPOLL_CTL_ADD, c.fd, EPOLLIN, Pack(kConnTag, c.slot));
  }

  void Flush(Connection& c) override {
    if (c.want_write) return;  // EPOLLOUT will continue it
    Write(c);
  }

  void UpdateReading(Connection& c) override { Update(c); }

  void StartClose(Connection& c) override {
    // close() also removes the fd from the epoll set.
    close(c.fd);
    c.want_write = false;
    loop_->OnReleased(c);
  }

  absl::Status Wait(int64_t timeout_ns) override {
    const int timeout_ms =
        timeout_ns < 0 ? -1 : static_cast<int>((timeout_ns + 999'999) / 1'000'000);
    const int n = epoll_wait(epfd_, events_, kMaxEvents, timeout_ms);
    if (n < 0) {
      if (errno == EINTR) return absl::OkStatus();
      return ErrnoStatus("epoll_wait", errno);
    }
    for (int i = 0; i < n; ++i) Dispatch(events_[i]);
    return absl::OkStatus();
  }

  void Wake() override {
    const uint64_t one = 1;
    // EAGAIN means the counter is already non-zero: the loop will wake.
    (void)!write(wakefd_, &one, sizeof(one));
  }

  absl::Status Init() {
    return Ctl(EPOLL_CTL_ADD, wakefd_, EPOLLIN, Pack(kWakeTag, 0));
  }

 private:
  absl::Status Ctl(int op, int fd, uint32_t events, uint64_t tag) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag;
    if (epoll_ctl(epfd_, op, fd, &ev) != 0) {
      return ErrnoStatus("epoll_ctl", errno);
    }
    return absl::OkStatus();
  }

  void Update(Connection& c) {
    const uint32_t events = (c.paused ? 0u : uint32_t{EPOLLIN}) | (c.want_write ? uint32_t{EPOLLOUT} : 0u);
    (void)Ctl(EPOLL_CTL_MOD, c.fd, events, Pack(kConnTag, c.slot));
  }

  void Dispatch(const epoll_event& ev) {
    const uint32_t index = static_cast<uint32_t>(ev.data.u64);
    switch (static_cast<Tag>(ev.data.u64 >> 56)) {
      case kWakeTag: {
        uint64_t count;
        (void)!read(wakefd_, &count, sizeof(count));
        loop_->OnWake();
        return;
      }
      case kListenerTag:
        Accept(index);
        return;
      case kConnTag:
        break;
    }
    if (index >= conns_.size() || conns_[index] == nullptr) return;
    Connection& c = *conns_[index];
    // An event queued before an earlier event of this batch closed the fd.
    if (c.state != ConnState::kOpen && c.state != ConnState::kDraining) return;
    if ((ev.events & EPOLLOUT) != 0) {
      Write(c);
      if (c.state == ConnState::kClosing || c.state == ConnState::kReleased) return;
    }
    if ((ev.events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) Read(c);
  }

  void Accept(uint32_t index) {
    if (index >= listeners_.size() || listeners_[index] == nullptr) return;
    Listener& l = *listeners_[index];
    for (int i = 0; i < kMaxAcceptsPerTurn && l.active; ++i) {
      const int fd = accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        loop_->OnAcceptedFd(l, fd);
        continue;
      }
      if (IsAcceptShortage(errno)) {
        loop_->OnAcceptShortage(l, errno);
        // Level-triggered: the listener stays readable; mute it meanwhile.
        (void)Ctl(EPOLL_CTL_MOD, l.fd, 0, Pack(kListenerTag, l.index));
        loop_->AddTimer(kAcceptBackoff, absl::ZeroDuration(), [this, &l] {
          if (l.active) (void)Ctl(EPOLL_CTL_MOD, l.fd, EPOLLIN, Pack(kListenerTag, l.index));
        });
      }
      return;  // EAGAIN, a shortage, or the peer gave up (ECONNABORTED)
    }
  }

  void Read(Connection& c) {
    for (int i = 0; i < kMaxReadsPerTurn; ++i) {
      const ssize_t n = recv(c.fd, read_buf_.get(), read_size_, 0);
      if (n > 0) {
        loop_->OnReceived(c, read_buf_.get(), static_cast<size_t>(n));
        if (c.state != ConnState::kOpen && c.state != ConnState::kDraining) return;
        if (static_cast<size_t>(n) < read_size_ || c.paused) return;
        continue;
      }
      if (n == 0) {
        loop_->OnSocketEnded(c, 0);
        return;
      }
      if (errno == EAGAIN || errno == EINTR) return;
      loop_->OnSocketEnded(c, errno);
      return;
    }
  }

  void Write(Connection& c) {
    OutputBuffer& out = c.fill();
    while (!out.empty()) {
      const std::string_view p = out.Pending();
      const ssize_t n = send(c.fd, p.data(), p.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        out.Consume(static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        if (!c.want_write) {
          c.want_write = true;
          Update(c);
        }
        return;
      }
      loop_->OnSocketEnded(c, n < 0 ? errno : EPIPE);
      return;
    }
    c.ReleaseDrainedIfQuiet();
    if (c.want_write) {
      c.want_write = false;
      Update(c);
    }
    // A draining connection is closed by the loop's flush pass.
    if (c.state == ConnState::kDraining) loop_->MarkDirty(c);
  }

  const int epfd_;
  const int wakefd_;
  const size_t read_size_;
  std::unique_ptr<char[]> read_buf_;
  EventLoop* loop_ = nullptr;
  std::vector<Connection*> conns_;     // by slot
  std::vector<Listener*> listeners_;  // by index
  epoll_event events_[kMaxEvents];
};

}  // namespace

absl::StatusOr<std::unique_ptr<Poller>> NewEpollPoller(const LoopOptions& options) {
  const int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return ErrnoStatus("epoll_create1", errno);
  const int wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakefd < 0) {
    const int err = errno;
    close(epfd);
    return ErrnoStatus("eventfd", err);
  }
  auto poller = std::make_unique<EpollPoller>(epfd, wakefd, options.recv_buffer_size);
  if (absl::Status st = poller->Init(); !st.ok()) return st;
  return poller;
}

}  // namespace shortbus::io
