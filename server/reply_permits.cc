#include "server/reply_permits.h"

namespace shortbus::server {

ReplyPermits::ReplyPermits(ResponsePermission rules) : rules_(rules) {}

void ReplyPermits::Drop(Entry& e) {
  index_.erase(std::string_view(e.subject));
  e.live = false;
}

void ReplyPermits::Grant(std::string_view reply, absl::Time now) {
  if (auto it = index_.find(reply); it != index_.end()) {
    Entry& e = ring_[it->second];
    e.granted = now;
    e.used = 0;
    return;
  }
  size_t slot;
  if (ring_.size() < kMaxPermits) {
    slot = ring_.size();
    ring_.emplace_back();
  } else {
    slot = next_;
    next_ = (next_ + 1) % kMaxPermits;
    if (ring_[slot].live) Drop(ring_[slot]);
  }
  Entry& e = ring_[slot];
  e.subject.assign(reply.data(), reply.size());
  e.granted = now;
  e.used = 0;
  e.live = true;
  index_.emplace(std::string_view(e.subject), slot);
}

bool ReplyPermits::Use(std::string_view subject, absl::Time now) {
  auto it = index_.find(subject);
  if (it == index_.end()) return false;
  Entry& e = ring_[it->second];
  if (rules_.expires > absl::ZeroDuration() && now - e.granted > rules_.expires) {
    Drop(e);
    return false;
  }
  ++e.used;
  if (rules_.max_msgs > 0 && e.used >= rules_.max_msgs) Drop(e);
  return true;
}

}  // namespace shortbus::server
