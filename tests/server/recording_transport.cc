#include "tests/server/recording_transport.h"

namespace shortbus::server {

void RecordingTransport::SendV(ClientId id, const std::string_view* parts, size_t n) {
  Conn& c = conns_[id];
  if (c.closed) return;
  for (size_t i = 0; i < n; ++i) c.out.append(parts[i]);
}

size_t RecordingTransport::PendingOutput(ClientId id) const {
  auto it = conns_.find(id);
  return it == conns_.end() ? 0 : it->second.out.size() + it->second.backlog;
}

void RecordingTransport::Close(ClientId id, bool) {
  conns_[id].closed = true;
  ++close_calls_;
}

std::string RecordingTransport::Take(ClientId id) {
  std::string out;
  out.swap(conns_[id].out);
  return out;
}

void RecordingTransport::Clear(ClientId id) { conns_[id].out.clear(); }

}  // namespace shortbus::server
