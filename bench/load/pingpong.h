// The physical floor of a request/response over a local socket: the
// `pingpong` scenario of shortbus-load. A child process (fork) accepts one
// connection on --server's address (tcp://127.0.0.1:0 picks a port; a Unix
// path works too) and writes back whatever it reads; the parent sends
// --size bytes, reads --size bytes back, and times --msgs such round trips
// after --warmup. Each one costs what any server's synchronous reply costs
// at the least: two socket writes, two reads, and a wake-up on each side,
// with no work in between. Reports the latency percentiles.
#ifndef SHORTBUS_BENCH_LOAD_PINGPONG_H_
#define SHORTBUS_BENCH_LOAD_PINGPONG_H_

#include <string>

#include "bench/load/conn.h"
#include "bench/load/report.h"

namespace shortbus::load {

struct PingPongOptions {
  long msgs = 20000;
  long size = 128;
  long warmup = 100;
  double timeout = 30;  // seconds any single read may wait
};

// Prints the result through `report` (which names the run); dies on errors.
void RunPingPong(const PingPongOptions& o, const Address& listen, Report report);

}  // namespace shortbus::load

#endif  // SHORTBUS_BENCH_LOAD_PINGPONG_H_
