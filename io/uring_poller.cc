// The io_uring poller. Requests and what they own:
//   accept  multishot, one per listener, re-armed when a CQE lacks F_MORE;
//   recv    per connection: multishot with a provided buffer ring (the
//           kernel picks a buffer; we return it right after OnData), or
//           single-shot into Connection::recv_buf, re-armed per completion;
//   send    at most one per connection, from Connection::flight(), which
//           nothing else touches until its CQE;
//   read    of the wake-up eventfd, re-armed per completion.
// A connection's fd is closed, and the loop told, only when neither its
// recv nor its send is live, so the kernel never touches a released
// connection's memory. Every SQE is submitted by the one
// io_uring_submit_and_wait_timeout of the next Wait (or earlier only when
// the submission queue is full).
#include <errno.h>
#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "io/fd_util.h"
#include "io/poller.h"

namespace shortbus::io {
namespace {

// user_data: op in bits 56..63, the connection's generation (low 24 bits)
// in 32..55, the slot (or listener index) in 0..31.
enum Op : uint64_t { kOpWake = 1, kOpAccept = 2, kOpRecv = 3, kOpSend = 4, kOpCancel = 5 };
constexpr uint64_t kGenMask = 0xFFFFFF;
constexpr uint64_t Pack(Op op, uint32_t generation, uint32_t index) {
  return (uint64_t{op} << 56) | ((generation & kGenMask) << 32) | index;
}
constexpr uint16_t kBufGroup = 0;

class UringPoller final : public Poller {
 public:
  ~UringPoller() override {
    if (ring_ready_) {
      if (buf_ring_ != nullptr) io_uring_unregister_buf_ring(&ring_, kBufGroup);
      io_uring_queue_exit(&ring_);
    }
    if (buf_ring_ != nullptr) munmap(buf_ring_, buf_ring_bytes_);
    if (wakefd_ >= 0) close(wakefd_);
  }

  std::string_view name() const override {
    return buf_ring_ != nullptr ? "uring" : "uring-single";
  }
  void Attach(EventLoop* loop) override { loop_ = loop; }

  absl::Status Init(const LoopOptions& options) {
    io_uring_params p{};
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN;
    p.cq_entries = options.uring_entries * 8;
    int ret = io_uring_queue_init_params(options.uring_entries, &ring_, &p);
    if (ret == -EINVAL) {  // COOP_TASKRUN needs 5.19
      p = io_uring_params{};
      p.flags = IORING_SETUP_CQSIZE;
      p.cq_entries = options.uring_entries * 8;
      ret = io_uring_queue_init_params(options.uring_entries, &ring_, &p);
    }
    if (ret < 0) {
      return absl::UnavailableError(absl::StrCat("io_uring_queue_init: ", strerror(-ret)));
    }
    ring_ready_ = true;
    if ((p.features & IORING_FEAT_EXT_ARG) == 0 || (p.features & IORING_FEAT_NODROP) == 0) {
      return absl::UnavailableError("io_uring lacks FEAT_EXT_ARG or FEAT_NODROP (kernel < 5.11)");
    }
    io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
    if (probe == nullptr) return absl::UnavailableError("io_uring_get_probe failed");
    struct Need {
      int op;
      const char* name;
    };
    // IORING_OP_SOCKET (5.19) stands for multishot accept (5.19), which the
    // probe cannot show; IORING_OP_SEND_ZC (6.0) likewise for multishot recv.
    static constexpr Need kNeeded[] = {
        {IORING_OP_ACCEPT, "ACCEPT"}, {IORING_OP_RECV, "RECV"},
        {IORING_OP_SEND, "SEND"},     {IORING_OP_READ, "READ"},
        {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"}, {IORING_OP_SOCKET, "SOCKET (multishot accept)"},
    };
    for (const Need& n : kNeeded) {
      if (!io_uring_opcode_supported(probe, n.op)) {
        io_uring_free_probe(probe);
        return absl::UnavailableError(absl::StrCat("io_uring lacks opcode ", n.name));
      }
    }
    const bool multishot_recv = io_uring_opcode_supported(probe, IORING_OP_SEND_ZC);
    io_uring_free_probe(probe);

    wakefd_ = eventfd(0, EFD_CLOEXEC);
    if (wakefd_ < 0) return ErrnoStatus("eventfd", errno);
    recv_size_ = options.recv_buffer_size;
    if (options.uring_buffer_rings && multishot_recv) SetUpBufferRing(options);
    ArmWake();
    return absl::OkStatus();
  }

  absl::Status StartListener(Listener& l) override {
    // Blocking fds: completion comes from the ring, never -EAGAIN.
    if (absl::Status st = SetNonBlocking(l.fd, false); !st.ok()) return st;
    if (listeners_.size() <= l.index) listeners_.resize(l.index + 1);
    listeners_[l.index] = &l;
    ArmAccept(l);
    return absl::OkStatus();
  }

  void StopListener(Listener& l) override {
    if (l.armed) Cancel(Pack(kOpAccept, 0, l.index));
    // The live accept keeps its own reference to the socket until the cancel
    // completes; connections it still accepts are closed (l.active is false).
    close(l.fd);
    l.fd = -1;
  }

  absl::Status StartConnection(Connection& c) override {
    if (absl::Status st = SetNonBlocking(c.fd, false); !st.ok()) return st;
    if (conns_.size() <= c.slot) conns_.resize(c.slot + 1);
    conns_[c.slot] = &c;
    c.recv_armed = false;
    c.send_in_flight = false;
    if (buf_ring_ == nullptr && c.recv_buf == nullptr) c.recv_buf.reset(new char[recv_size_]);
    ArmRecv(c);
    return absl::OkStatus();
  }

  void Flush(Connection& c) override {
    if (c.send_in_flight) return;  // its CQE marks c dirty again
    if (c.flight().empty()) {
      if (c.fill().empty()) return;
      c.fill_index ^= 1;
    }
    const std::string_view p = c.flight().Pending();
    io_uring_sqe* sqe = GetSqe();
    io_uring_prep_send(sqe, c.fd, p.data(), p.size(), MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, Pack(kOpSend, c.generation, c.slot));
    c.send_in_flight = true;
  }

  void UpdateReading(Connection& c) override {
    if (c.paused) {
      if (c.recv_armed) Cancel(Pack(kOpRecv, c.generation, c.slot));
    } else if (!c.recv_armed) {
      ArmRecv(c);
    }
  }

  void StartClose(Connection& c) override {
    // shutdown ends a pending recv (with 0) and a pending send (with
    // -EPIPE); the cancels cover requests shutdown does not wake.
    shutdown(c.fd, SHUT_RDWR);
    if (c.recv_armed) Cancel(Pack(kOpRecv, c.generation, c.slot));
    if (c.send_in_flight) Cancel(Pack(kOpSend, c.generation, c.slot));
    MaybeRelease(c);
  }

  absl::Status Wait(int64_t timeout_ns) override {
    __kernel_timespec ts{};
    __kernel_timespec* tsp = nullptr;
    if (timeout_ns >= 0) {
      ts.tv_sec = timeout_ns / 1'000'000'000;
      ts.tv_nsec = timeout_ns % 1'000'000'000;
      tsp = &ts;
    }
    io_uring_cqe* cqe = nullptr;
    const int ret = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, tsp, nullptr);
    if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
      return absl::InternalError(absl::StrCat("io_uring_submit_and_wait: ", strerror(-ret)));
    }
    unsigned head;
    unsigned seen = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      Handle(*cqe);
      ++seen;
    }
    io_uring_cq_advance(&ring_, seen);
    return absl::OkStatus();
  }

  void Wake() override {
    const uint64_t one = 1;
    (void)!write(wakefd_, &one, sizeof(one));
  }

 private:
  void SetUpBufferRing(const LoopOptions& options) {
    const uint32_t count = options.buffer_ring_count;
    if (count == 0 || (count & (count - 1)) != 0 || count > 32768) return;
    buf_ring_bytes_ = count * sizeof(io_uring_buf);
    void* mem = mmap(nullptr, buf_ring_bytes_, PROT_READ | PROT_WRITE,
                     MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) return;
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(mem);
    reg.ring_entries = count;
    reg.bgid = kBufGroup;
    if (io_uring_register_buf_ring(&ring_, &reg, 0) != 0) {
      munmap(mem, buf_ring_bytes_);
      return;  // older kernel: single-shot receive
    }
    buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
    buf_size_ = options.buffer_ring_size;
    buf_mask_ = io_uring_buf_ring_mask(count);
    bufs_.reset(new char[size_t{count} * buf_size_]);
    io_uring_buf_ring_init(buf_ring_);
    for (uint32_t i = 0; i < count; ++i) {
      io_uring_buf_ring_add(buf_ring_, bufs_.get() + size_t{i} * buf_size_, buf_size_,
                            static_cast<uint16_t>(i), buf_mask_, static_cast<int>(i));
    }
    io_uring_buf_ring_advance(buf_ring_, static_cast<int>(count));
  }

  void RecycleBuffer(uint16_t bid) {
    io_uring_buf_ring_add(buf_ring_, bufs_.get() + size_t{bid} * buf_size_, buf_size_, bid,
                          buf_mask_, 0);
    io_uring_buf_ring_advance(buf_ring_, 1);
  }

  io_uring_sqe* GetSqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    while (sqe == nullptr) {  // queue full: submit early (busy turns only)
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  void Cancel(uint64_t target) {
    io_uring_sqe* sqe = GetSqe();
    io_uring_prep_cancel64(sqe, target, 0);
    io_uring_sqe_set_data64(sqe, Pack(kOpCancel, 0, 0));
  }

  void ArmWake() {
    io_uring_sqe* sqe = GetSqe();
    io_uring_prep_read(sqe, wakefd_, &wake_count_, sizeof(wake_count_), 0);
    io_uring_sqe_set_data64(sqe, Pack(kOpWake, 0, 0));
  }

  void ArmAccept(Listener& l) {
    io_uring_sqe* sqe = GetSqe();
    io_uring_prep_multishot_accept(sqe, l.fd, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, Pack(kOpAccept, 0, l.index));
    l.armed = true;
  }

  void ArmRecv(Connection& c) {
    io_uring_sqe* sqe = GetSqe();
    if (buf_ring_ != nullptr) {
      io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0);
      sqe->flags |= IOSQE_BUFFER_SELECT;
      sqe->buf_group = kBufGroup;
    } else {
      io_uring_prep_recv(sqe, c.fd, c.recv_buf.get(), recv_size_, 0);
    }
    io_uring_sqe_set_data64(sqe, Pack(kOpRecv, c.generation, c.slot));
    c.recv_armed = true;
  }

  static bool Live(const Connection& c) {
    return c.state == ConnState::kOpen || c.state == ConnState::kDraining;
  }

  void MaybeRelease(Connection& c) {
    if (c.state != ConnState::kClosing || c.recv_armed || c.send_in_flight) return;
    close(c.fd);
    loop_->OnReleased(c);
  }

  void Handle(const io_uring_cqe& cqe) {
    const uint64_t ud = cqe.user_data;
    const uint32_t index = static_cast<uint32_t>(ud);
    const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
    switch (static_cast<Op>(ud >> 56)) {
      case kOpWake:
        loop_->OnWake();
        ArmWake();
        return;
      case kOpCancel:
        return;
      case kOpAccept:
        OnAccept(*listeners_[index], cqe.res, more);
        return;
      case kOpRecv:
      case kOpSend:
        break;
    }
    Connection* c = index < conns_.size() ? conns_[index] : nullptr;
    const bool stale = c == nullptr || (c->generation & kGenMask) != ((ud >> 32) & kGenMask);
    if (static_cast<Op>(ud >> 56) == kOpSend) {
      if (!stale) OnSent(*c, cqe.res);
      return;
    }
    const bool has_buffer = (cqe.flags & IORING_CQE_F_BUFFER) != 0;
    const uint16_t bid = static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    if (!stale) OnRecv(*c, cqe.res, more, has_buffer ? bufs_.get() + size_t{bid} * buf_size_
                                                      : c->recv_buf.get());
    if (has_buffer) RecycleBuffer(bid);
  }

  void OnAccept(Listener& l, int res, bool more) {
    if (!more) l.armed = false;
    if (res >= 0) {
      if (l.active) {
        loop_->OnAcceptedFd(l, res);
      } else {
        close(res);
      }
    }
    // Without F_MORE the accept ended (an error, or the cancel); re-arm
    // while the listener is wanted, after a pause if fds ran out.
    if (l.armed || !l.active) return;
    if (res < 0 && IsAcceptShortage(-res)) {
      loop_->OnAcceptShortage(l, -res);
      loop_->AddTimer(kAcceptBackoff, absl::ZeroDuration(), [this, &l] {
        if (l.active && !l.armed) ArmAccept(l);
      });
      return;
    }
    ArmAccept(l);
  }

  void OnRecv(Connection& c, int res, bool more, const char* data) {
    if (!more) c.recv_armed = false;
    bool rearm = true;
    if (res > 0) {
      loop_->OnReceived(c, data, static_cast<size_t>(res));
    } else if (res == 0) {
      loop_->OnSocketEnded(c, 0);
      rearm = false;
    } else if (res != -ENOBUFS && res != -ECANCELED && res != -EAGAIN && res != -EINTR) {
      loop_->OnSocketEnded(c, -res);
      rearm = false;
    }
    if (c.recv_armed) return;
    if (c.state == ConnState::kClosing) {
      MaybeRelease(c);
    } else if (rearm && Live(c) && !c.paused) {
      ArmRecv(c);
    }
  }

  void OnSent(Connection& c, int res) {
    c.send_in_flight = false;
    if (res > 0) {
      c.flight().Consume(static_cast<size_t>(res));
      c.ReleaseDrainedIfQuiet();
    } else if (res < 0 && res != -EAGAIN && res != -EINTR) {
      loop_->OnSocketEnded(c, -res);
    }
    if (c.state == ConnState::kClosing) {
      MaybeRelease(c);
    } else if (Live(c) && (c.pending_output() > 0 || c.state == ConnState::kDraining)) {
      loop_->MarkDirty(c);  // the rest goes in the next turn's send
    }
  }

  io_uring ring_{};
  bool ring_ready_ = false;
  EventLoop* loop_ = nullptr;
  int wakefd_ = -1;
  uint64_t wake_count_ = 0;  // target of the eventfd read
  size_t recv_size_ = 0;
  std::vector<Connection*> conns_;     // by slot
  std::vector<Listener*> listeners_;  // by index
  io_uring_buf_ring* buf_ring_ = nullptr;
  size_t buf_ring_bytes_ = 0;
  uint32_t buf_size_ = 0;
  int buf_mask_ = 0;
  std::unique_ptr<char[]> bufs_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Poller>> NewUringPoller(const LoopOptions& options) {
  auto poller = std::make_unique<UringPoller>();
  if (absl::Status st = poller->Init(options); !st.ok()) return st;
  return poller;
}

}  // namespace shortbus::io
