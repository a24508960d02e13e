#include "server/publish_cache.h"

#include <functional>

namespace shortbus::server {

size_t PublishCache::SlotOf(std::string_view subject) {
  return std::hash<std::string_view>{}(subject) % kSlots;
}

std::optional<bool> PublishCache::Lookup(std::string_view subject) const {
  const Slot& s = slots_[SlotOf(subject)];
  if (s.state == kEmpty || s.subject != subject) return std::nullopt;
  return s.state == kAllowed;
}

void PublishCache::Store(std::string_view subject, bool allowed) {
  Slot& s = slots_[SlotOf(subject)];
  s.subject.assign(subject.data(), subject.size());
  s.state = allowed ? kAllowed : kDenied;
}

size_t PublishCache::size() const {
  size_t n = 0;
  for (const Slot& s : slots_) n += s.state != kEmpty;
  return n;
}

}  // namespace shortbus::server
