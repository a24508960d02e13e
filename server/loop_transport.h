// The glue between the event loop (io/) and the sans-IO protocol core: the
// core's Transport implemented over io::EventLoop, and the loop's
// ConnectionHandler forwarding accepts, bytes and closes to the core.
//
// Ids: a ClientId is the io::ConnId's value itself (slot and generation),
// so neither direction needs a map: SendV/PendingOutput on the per-message
// path are one EventLoop call each, with no allocation.
//
// Bounded flush: io's Close(id, flush_first=true) writes what is queued
// (discarding input meanwhile) and waits for the peer as long as it takes;
// a drain timer here (running only while some connection drains) cuts it
// short with Close(id, false) once the write deadline passes.
//
// Publisher backpressure: when a delivery leaves a subscriber with more
// than 3/4 of max_pending queued, the connection whose input caused it
// stops being read until every such subscriber is back under 1/2, or for
// kMaxStall at most (as nats-server stalls fast publishers). A subscriber
// that does not drain within kMaxStall stops counting (it will be cut off
// as a slow consumer by the core), so it never holds a publisher for
// longer than that once.
//
// Output a client's own input makes: the core cuts a subscriber whose
// deliveries pass max_pending; output it writes directly (PONG, +OK, -ERR,
// human verbs' answers) is checked here, after each slice of input fed: a
// client whose queued output passed max_pending gets -ERR 'Slow Consumer'
// and is closed (bounded flush), as nats-server treats any output. So a
// client that sends PINGs or requests and never reads holds at most
// max_pending plus the output of one kFeedSlice of its input.
//
// Threading: everything runs on the loop's thread.
#ifndef SHORTBUS_SERVER_LOOP_TRANSPORT_H_
#define SHORTBUS_SERVER_LOOP_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "absl/time/time.h"
#include "io/event_loop.h"
#include "server/server_core.h"
#include "server/transport.h"

namespace shortbus::server {

class LoopTransport final : public Transport, public io::ConnectionHandler {
 public:
  // `loop` outlives this; set_core() before the loop runs.
  LoopTransport(io::EventLoop* loop, absl::Duration write_deadline, int64_t max_pending);
  void set_core(ServerCore* core) { core_ = core; }

  // Transport (called by the core).
  void SendV(ClientId id, const std::string_view* parts, size_t n) override;
  size_t PendingOutput(ClientId id) const override;
  void Close(ClientId id, bool flush_first) override;

  // io::ConnectionHandler (called by the loop).
  void OnAccept(io::EventLoop& loop, io::ConnId id, const io::PeerInfo& peer) override;
  void OnData(io::EventLoop& loop, io::ConnId id, const char* data, size_t len) override;
  void OnClose(io::EventLoop& loop, io::ConnId id, io::CloseReason reason, int error) override;

  // Shutdown: flush and close every connection within `deadline`; then
  // `done` runs (once) when none is left.
  void DrainAll(absl::Duration deadline, std::function<void()> done);
  size_t open_count() const { return open_.size(); }

 private:
  struct Draining {
    uint64_t id;
    absl::Time deadline;
  };
  void StartDrain(uint64_t id, absl::Time deadline);
  void NoteCongested(uint64_t id);
  void Stall(uint64_t publisher);
  // -ERR 'Slow Consumer', then a bounded flush and close (io refuses later
  // output to it).
  void CutOff(uint64_t id);
  // Feeds the core in slices, stopping at congestion; the rest is held
  // (copied: only when congested) and fed before the connection is read
  // again.
  void Feed(uint64_t id, const char* data, size_t len);
  // The 1 ms tick, armed while anything drains, is congested or stalled.
  void ArmTick();
  void Tick();
  void CheckDrains(absl::Time now);
  void CheckCongestion(absl::Time now);

  io::EventLoop* loop_;
  ServerCore* core_ = nullptr;
  const absl::Duration write_deadline_;
  const size_t max_pending_;
  const size_t high_water_;  // 3/4 of max_pending
  const size_t low_water_;   // 1/2 of max_pending
  std::unordered_set<uint64_t> open_;  // accepted, OnClose not yet seen
  std::vector<Draining> draining_;
  std::vector<Draining> still_draining_;  // CheckDrains' scratch
  uint64_t reading_ = 0;            // the connection in OnData, else 0
  std::vector<uint64_t> congested_; // subscribers past high water
  std::vector<uint64_t> hopeless_;  // congested past a whole stall
  std::vector<uint64_t> stalled_;   // publishers not read meanwhile
  std::unordered_map<uint64_t, std::string> held_;  // their unfed input
  std::vector<uint64_t> resuming_;  // CheckCongestion's scratch
  absl::Time stall_until_;
  io::TimerId tick_timer_{};
  bool tick_armed_ = false;
  std::function<void()> all_closed_;  // set by DrainAll
};

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_LOOP_TRANSPORT_H_
