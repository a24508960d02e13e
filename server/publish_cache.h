// A connection's cache of publish decisions (subject -> allowed), so that a
// user with a long list of publish rules pays one hash and one compare per
// message instead of a scan of the rules (nats-server keeps such a cache
// per client too, `pcache`, 128 entries).
//
// Direct-mapped: kSlots slots, a subject goes to the slot of its hash and
// replaces what was there. Bounded by construction; a slot's string keeps
// its capacity, so once subjects of a steady length have been seen, Lookup
// and Store allocate nothing. Single-threaded, like the session owning it.
#ifndef SHORTBUS_SERVER_PUBLISH_CACHE_H_
#define SHORTBUS_SERVER_PUBLISH_CACHE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shortbus::server {

class PublishCache {
 public:
  static constexpr size_t kSlots = 128;

  // The cached decision for `subject`, if any.
  std::optional<bool> Lookup(std::string_view subject) const;
  void Store(std::string_view subject, bool allowed);
  // Subjects held (at most kSlots).
  size_t size() const;

 private:
  enum State : uint8_t { kEmpty, kAllowed, kDenied };
  struct Slot {
    std::string subject;
    State state = kEmpty;
  };
  static size_t SlotOf(std::string_view subject);
  std::array<Slot, kSlots> slots_;
};

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_PUBLISH_CACHE_H_
