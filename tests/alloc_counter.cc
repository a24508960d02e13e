#include "tests/alloc_counter.h"

#include <cstdlib>
#include <new>

namespace {
thread_local bool counting = false;
thread_local uint64_t allocations = 0;
}  // namespace

// The replacement pair is matched (malloc/free); GCC 12 cannot see that
// through inlining into callers and warns.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(std::size_t n) {
  if (counting) ++allocations;
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace shortbus::testing {

void StartCountingAllocations() {
  allocations = 0;
  counting = true;
}

uint64_t StopCountingAllocations() {
  counting = false;
  return allocations;
}

}  // namespace shortbus::testing
