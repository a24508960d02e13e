#include "server/loop_transport.h"

#include <utility>

#include "absl/types/span.h"
#include "server/protocol_errors.h"

namespace shortbus::server {
namespace {

// How often a draining connection is looked at. Short, because an -ERR
// line followed by a close (the common case) waits for one tick.
constexpr absl::Duration kDrainTick = absl::Milliseconds(1);
// The longest a publisher is not read because of a congested subscriber.
constexpr absl::Duration kMaxStall = absl::Milliseconds(100);
// Input is fed to the core this much at a time, so congestion is noticed
// within a slice even when the loop hands over a large block at once.
constexpr size_t kFeedSlice = 16 * 1024;

bool Contains(const std::vector<uint64_t>& v, uint64_t id) {
  for (uint64_t x : v) {
    if (x == id) return true;
  }
  return false;
}

io::ConnId Conn(ClientId id) { return io::ConnId{id}; }

}  // namespace

LoopTransport::LoopTransport(io::EventLoop* loop, absl::Duration write_deadline,
                             int64_t max_pending)
    : loop_(loop),
      write_deadline_(write_deadline),
      max_pending_(static_cast<size_t>(max_pending)),
      high_water_(static_cast<size_t>(max_pending) / 4 * 3),
      low_water_(static_cast<size_t>(max_pending) / 2) {
  congested_.reserve(64);
  hopeless_.reserve(64);
  stalled_.reserve(64);
}

void LoopTransport::SendV(ClientId id, const std::string_view* parts, size_t n) {
  // Refused once the connection is closing (a cut-off's -ERR is its last).
  if (!loop_->SendV(Conn(id), absl::Span<const std::string_view>(parts, n))) return;
  if (loop_->PendingOutput(Conn(id)) > high_water_ && id != reading_) NoteCongested(id);
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
  Feed(id.value, data, len);
}

void LoopTransport::Feed(uint64_t id, const char* data, size_t len) {
  reading_ = id;
  size_t done = 0;
  bool over = false;
  while (done < len) {
    const size_t n = std::min(kFeedSlice, len - done);
    core_->OnData(id, data + done, n);
    done += n;
    // Deliveries past max_pending are the core's to cut; what is left is
    // output this client's own input made (PONG, +OK, replies the server
    // writes directly) and never read.
    over = loop_->PendingOutput(Conn(id)) > max_pending_;
    if (over || !congested_.empty()) break;
  }
  reading_ = 0;
  if (over) return CutOff(id);
  if (congested_.empty() || !loop_->IsOpen(Conn(id))) return;
  if (done < len) held_[id].append(data + done, len - done);
  Stall(id);
}

void LoopTransport::OnClose(io::EventLoop&, io::ConnId id, io::CloseReason, int) {
  open_.erase(id.value);
  held_.erase(id.value);
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
  if (!loop_->Close(Conn(id), /*flush_first=*/true)) {
    // Stale, closing, or flushing already: at most tighten its deadline.
    for (Draining& d : draining_) {
      if (d.id == id) d.deadline = std::min(d.deadline, deadline);
    }
    return;
  }
  if (loop_->PendingOutput(Conn(id)) == 0) return;  // nothing queued: closed at once
  draining_.push_back({id, deadline});
  ArmTick();
}

void LoopTransport::CutOff(uint64_t id) {
  // Already closing (the core's own close): no second -ERR.
  if (!loop_->IsOpen(Conn(id))) return;
  loop_->Send(Conn(id), kErrSlowConsumer);
  held_.erase(id);
  StartDrain(id, absl::Now() + write_deadline_);
}

void LoopTransport::NoteCongested(uint64_t id) {
  if (Contains(congested_, id) || Contains(hopeless_, id)) return;
  congested_.push_back(id);
}

void LoopTransport::Stall(uint64_t publisher) {
  if (Contains(stalled_, publisher)) return;
  if (stalled_.empty()) stall_until_ = absl::Now() + kMaxStall;
  stalled_.push_back(publisher);
  loop_->PauseReading(Conn(publisher));
  ArmTick();
}

void LoopTransport::ArmTick() {
  if (tick_armed_) return;
  tick_armed_ = true;
  tick_timer_ = loop_->AddTimer(kDrainTick, kDrainTick, [this] { Tick(); });
}

void LoopTransport::Tick() {
  const absl::Time now = absl::Now();
  CheckDrains(now);
  CheckCongestion(now);
  if (draining_.empty() && congested_.empty() && hopeless_.empty() && stalled_.empty()) {
    loop_->CancelTimer(tick_timer_);
    tick_armed_ = false;
  }
}

void LoopTransport::CheckCongestion(absl::Time now) {
  auto drained = [this](uint64_t id) {
    return !loop_->IsOpen(Conn(id)) || loop_->PendingOutput(Conn(id)) <= low_water_;
  };
  std::erase_if(congested_, drained);
  std::erase_if(hopeless_, drained);
  if (stalled_.empty()) return;
  if (!congested_.empty() && now < stall_until_) return;
  // Whoever is still congested had a whole stall to drain: stop waiting
  // for it (the core cuts it off once it passes max_pending).
  hopeless_.insert(hopeless_.end(), congested_.begin(), congested_.end());
  congested_.clear();
  resuming_.clear();
  resuming_.swap(stalled_);
  for (uint64_t id : resuming_) {
    if (!loop_->IsOpen(Conn(id))) continue;  // closing meanwhile
    if (auto it = held_.find(id); it != held_.end()) {
      std::string bytes = std::move(it->second);
      held_.erase(it);
      Feed(id, bytes.data(), bytes.size());  // may stall or cut it
      if (Contains(stalled_, id) || !loop_->IsOpen(Conn(id))) continue;
    }
    loop_->ResumeReading(Conn(id));
  }
}

void LoopTransport::CheckDrains(absl::Time now) {
  still_draining_.clear();
  for (const Draining& d : draining_) {
    const io::ConnId id = Conn(d.id);
    // 0 once io has written everything (and closed it) or it is gone.
    if (loop_->PendingOutput(id) == 0) continue;
    if (now >= d.deadline) {
      loop_->Close(id, /*flush_first=*/false);  // drop the rest
    } else {
      still_draining_.push_back(d);
    }
  }
  draining_.swap(still_draining_);
}

}  // namespace shortbus::server
