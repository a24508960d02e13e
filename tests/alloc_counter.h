// Counting heap allocations in tests that prove a path allocates nothing.
// Linking tests/alloc_counter.cc into a test binary replaces the global
// operator new/delete (malloc/free underneath) with ones that count, on the
// calling thread only, between StartCountingAllocations() and
// StopCountingAllocations().
#ifndef SHORTBUS_TESTS_ALLOC_COUNTER_H_
#define SHORTBUS_TESTS_ALLOC_COUNTER_H_

#include <cstdint>

namespace shortbus::testing {

// Starts counting on this thread (from zero).
void StartCountingAllocations();
// Stops counting on this thread; returns the allocations counted.
uint64_t StopCountingAllocations();

}  // namespace shortbus::testing

#endif  // SHORTBUS_TESTS_ALLOC_COUNTER_H_
