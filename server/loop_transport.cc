#include "server/loop_transport.h"

#include <utility>

#include "absl/types/span.h"

namespace shortbus::server {
namespace {

// How often a draining connection is looked at. Short, because an -ERR
// line followed by a close (the common case) waits for one tick.
constexpr absl::Duration kDrainTick = absl::Milliseconds(1);

io::ConnId Conn(ClientId id) { return io::ConnId{id}; }

}  // namespace

LoopTransport::LoopTransport(io::EventLoop* loop, absl::Duration write_deadline)
    : loop_(loop), write_deadline_(write_deadline) {}

void LoopTransport::SendV(ClientId id, const std::string_view* parts, size_t n) {
  loop_->SendV(Conn(id), absl::Span<const std::string_view>(parts, n));
}

size_t LoopTransport::PendingOutput(ClientId id) const {
  return loop_->PendingOutput(Conn(id));
}

void LoopTransport::Close(ClientId id, bool flush_first) {
  if (!flush_first || loop_->PendingOutput(Conn(id)) == 0) {
    loop_->Close(Conn(id), /*flush_first=*/false);
    return;
  }
  StartDrain(id, absl::Now() + write_deadline_);
}

void LoopTransport::OnAccept(io::EventLoop&, io::ConnId id, const io::PeerInfo& peer) {
  open_.insert(id.value);
  core_->OnAccept(id.value, peer.kind == io::PeerKind::kTcp ? ConnKind::kTcp : ConnKind::kUnix,
                  peer.address);
}

void LoopTransport::OnData(io::EventLoop&, io::ConnId id, const char* data, size_t len) {
  core_->OnData(id.value, data, len);
}

void LoopTransport::OnClose(io::EventLoop&, io::ConnId id, io::CloseReason, int) {
  open_.erase(id.value);
  core_->OnClosed(id.value);
  if (open_.empty() && all_closed_) {
    std::function<void()> done = std::move(all_closed_);
    all_closed_ = nullptr;
    done();
  }
}

void LoopTransport::DrainAll(absl::Duration deadline, std::function<void()> done) {
  all_closed_ = std::move(done);
  const absl::Time until = absl::Now() + deadline;
  for (uint64_t id : open_) StartDrain(id, until);
  if (open_.empty() && all_closed_) {
    std::function<void()> fn = std::move(all_closed_);
    all_closed_ = nullptr;
    fn();
  }
}

void LoopTransport::StartDrain(uint64_t id, absl::Time deadline) {
  if (!loop_->IsOpen(Conn(id))) return;
  for (Draining& d : draining_) {
    if (d.id == id) {
      d.deadline = std::min(d.deadline, deadline);
      return;
    }
  }
  loop_->PauseReading(Conn(id));
  draining_.push_back({id, deadline});
  if (!drain_timer_armed_) {
    drain_timer_armed_ = true;
    drain_timer_ = loop_->AddTimer(kDrainTick, kDrainTick, [this] { CheckDrains(); });
  }
}

void LoopTransport::CheckDrains() {
  const absl::Time now = absl::Now();
  still_draining_.clear();
  for (const Draining& d : draining_) {
    const io::ConnId id = Conn(d.id);
    if (!loop_->IsOpen(id)) continue;  // gone meanwhile
    if (loop_->PendingOutput(id) == 0 || now >= d.deadline) {
      loop_->Close(id, /*flush_first=*/false);
    } else {
      still_draining_.push_back(d);
    }
  }
  draining_.swap(still_draining_);
  if (draining_.empty()) {
    loop_->CancelTimer(drain_timer_);
    drain_timer_armed_ = false;
  }
}

}  // namespace shortbus::server
