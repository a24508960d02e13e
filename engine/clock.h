// Wall-clock time for frame timestamps. Reads CLOCK_REALTIME through the
// vDSO: no system call.
#ifndef SHORTBUS_ENGINE_CLOCK_H_
#define SHORTBUS_ENGINE_CLOCK_H_

#include <time.h>

#include <cstdint>

namespace shortbus::engine {

inline int64_t WallClockNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace shortbus::engine

#endif  // SHORTBUS_ENGINE_CLOCK_H_
