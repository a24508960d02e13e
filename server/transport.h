// The narrow output interface the protocol core writes through.
//
// The core (server/server_core.h) is sans-IO: it never touches a socket. The
// daemon glue implements Transport over the event loop; tests implement it
// in memory (tests/server/recording_transport.h).
//
// Contract for implementations:
// - SendV copies every part before returning, in order, as one contiguous
//   run of the connection's output (parts are views into the caller's
//   buffers, valid only during the call). A MSG line, its payload and the
//   closing CRLF go out as three parts, without a temporary.
// - PendingOutput is the count of bytes queued and not yet written to the
//   socket; the core compares it with max_pending after each delivery.
// - Close must not call back into the core. After the core calls Close(id),
//   it has already forgotten `id`; a later OnClosed(id) from the glue is
//   ignored. flush_first: write what is queued (bounded by the glue's write
//   deadline) before closing.
// - Calls for an id that is already closed are ignored.
// Threading: called only on the thread that drives the core.
#ifndef SHORTBUS_SERVER_TRANSPORT_H_
#define SHORTBUS_SERVER_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>

namespace shortbus::server {

// Identifies one connection; assigned by the event loop, never reused while
// the connection lives.
using ClientId = uint64_t;

enum class ConnKind : uint8_t { kTcp, kUnix };

class Transport {
 public:
  virtual ~Transport() = default;

  // Queues parts[0..n) back to back on the connection's output.
  virtual void SendV(ClientId id, const std::string_view* parts, size_t n) = 0;
  virtual size_t PendingOutput(ClientId id) const = 0;
  virtual void Close(ClientId id, bool flush_first) = 0;

  void Send(ClientId id, std::string_view bytes) { SendV(id, &bytes, 1); }
  void SendParts(ClientId id, std::initializer_list<std::string_view> parts) {
    SendV(id, parts.begin(), parts.size());
  }
};

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_TRANSPORT_H_
