// An in-memory Transport for the core's tests: each connection's output is
// a string; Close is recorded; PendingOutput is what is held (plus a
// simulated backlog a test sets to play a subscriber that never reads).
#ifndef SHORTBUS_TESTS_SERVER_RECORDING_TRANSPORT_H_
#define SHORTBUS_TESTS_SERVER_RECORDING_TRANSPORT_H_

#include <string>
#include <unordered_map>

#include "server/transport.h"

namespace shortbus::server {

class RecordingTransport : public Transport {
 public:
  void SendV(ClientId id, const std::string_view* parts, size_t n) override;
  size_t PendingOutput(ClientId id) const override;
  void Close(ClientId id, bool flush_first) override;

  // Output queued for `id` since the last Take, then forgotten.
  std::string Take(ClientId id);
  // Forgets queued output, keeping the buffer's capacity.
  void Clear(ClientId id);
  bool closed(ClientId id) const { return conns_.count(id) != 0 && conns_.at(id).closed; }
  void SetBacklog(ClientId id, size_t bytes) { conns_[id].backlog = bytes; }
  void Reserve(ClientId id, size_t bytes) { conns_[id].out.reserve(bytes); }
  int close_calls() const { return close_calls_; }

 private:
  struct Conn {
    std::string out;
    size_t backlog = 0;
    bool closed = false;
  };
  std::unordered_map<ClientId, Conn> conns_;
  int close_calls_ = 0;
};

}  // namespace shortbus::server

#endif  // SHORTBUS_TESTS_SERVER_RECORDING_TRANSPORT_H_
