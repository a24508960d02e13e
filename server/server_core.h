// The NATS core protocol, sans IO: every session, the subject router, and
// the routing of published messages, driven by the event loop's callbacks
// and writing through a Transport.
//
// The glue calls, on one thread:
//   OnAccept(id, kind, peer)   a connection was accepted; INFO is sent
//   OnData(id, data, n)        bytes arrived (valid only during the call)
//   OnClosed(id)               the peer went away (or the loop closed it)
//   OnTimer(now)               about every TimerInterval(): server PINGs,
//                              'Stale Connection', 'Authentication Timeout'
// and the core calls Transport::SendV/PendingOutput/Close. When the core
// closes a connection it forgets the id at once; OnData/OnClosed for an
// unknown id are ignored.
//
// Routing: PUB/HPUB goes to the PublishObserver (if any), then to every
// plain subscription matching the subject and to one member of each
// matching queue group, chosen at random (a random start, then the next
// member that can take it: not closing, not the publisher with echo off,
// not past its UNSUB max). Nothing is allocated and no system call is made
// per message in the steady state: the subject's match is cached by the
// Sublist, the MSG line is written into a buffer of the core, and the
// transport copies header, payload and CRLF from the parser's views.
//
// Slow consumers: after each delivery, a subscriber whose PendingOutput
// exceeds max_pending gets -ERR 'Slow Consumer' and is closed (flush
// first, which the glue bounds by write_deadline); the publisher is never
// made to wait.
#ifndef SHORTBUS_SERVER_SERVER_CORE_H_
#define SHORTBUS_SERVER_SERVER_CORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/parser.h"
#include "server/publish_observer.h"
#include "server/server_options.h"
#include "server/session.h"
#include "server/sublist.h"
#include "server/transport.h"

namespace shortbus::server {

// Extra verbs (issue 6: human verbs for nc -U) without touching the parser:
// the rows go into every session's parser table, and frames with those ids
// come here.
class VerbExtension {
 public:
  virtual ~VerbExtension() = default;
  // Ids >= kFirstExtensionVerb; the span must outlive the core.
  virtual absl::Span<const VerbSpec> Verbs() const = 0;
  // Returns false to stop reading this session (after CloseWithError).
  virtual bool OnVerb(Session& session, const Frame& frame) = 0;
};

class ServerCore {
 public:
  // REQUIRES: ValidateOptions(options) is OK; `transport` (and `extension`
  // when given) outlive the core.
  ServerCore(ServerOptions options, Transport* transport, VerbExtension* extension = nullptr);
  ~ServerCore();
  ServerCore(const ServerCore&) = delete;
  ServerCore& operator=(const ServerCore&) = delete;

  void OnAccept(ClientId id, ConnKind kind, std::string_view peer);
  void OnData(ClientId id, const char* data, size_t n);
  void OnClosed(ClientId id);
  void OnTimer(absl::Time now);
  // How often the glue should call OnTimer.
  absl::Duration TimerInterval() const;

  // Not owned; null (the default) for none.
  void SetPublishObserver(PublishObserver* observer) { observer_ = observer; }
  // Routes a message the server itself sends (JetStream replies and
  // deliveries) like a client's publish, without the observer and without
  // 'no responders'. `route_subject`, when not empty, is matched against
  // the subscriptions instead of message.subject, which the MSG line still
  // shows (a stored message delivered to a consumer's inbox keeps its own
  // subject). Returns whether any subscription took it.
  // `one_off`: the routing subject will probably not come again (a reply
  // inbox): matched without caching it (Sublist::MatchOnce).
  bool PublishInternal(const PublishedMessage& message, std::string_view route_subject = {},
                       bool one_off = false);
  // Whether any subscription's subject matches `subject` (a literal one).
  bool HasInterest(std::string_view subject);

  const ServerOptions& options() const { return options_; }
  const std::string& server_id() const { return server_id_; }
  size_t session_count() const { return sessions_.size(); }
  // Null when `id` is not a live session.
  const Session* FindSession(ClientId id) const;
  const Sublist& sublist() const { return sublist_; }

 private:
  friend class Session;

  // Routes one message from `from` (server_core_route.cc); from is null
  // for the server's own messages. Returns whether a subscription took it.
  bool Route(Session* from, const PublishedMessage& message, std::string_view route_subject,
             bool one_off = false);
  void Publish(Session* from, const PublishedMessage& message);
  // A publish the router may not take (wildcards in a non-pedantic
  // client's subject): only the observer sees it; 'no responders' when it
  // does not answer.
  void ObserveOnly(Session* from, const PublishedMessage& message);
  // Delivers to one subscription, which matched `route_subject`; false when
  // it cannot take the message.
  bool Deliver(Session* from, Subscription* sub, const PublishedMessage& message,
               std::string_view route_subject);
  // Nobody took a request from `from`: the 503 status, when it asked for it.
  void MaybeNoResponders(Session* from, const PublishedMessage& message);
  void SendNoResponders(Session* from, std::string_view reply);

  // Sends `err_line` (if not empty), closes the connection (flushing
  // first), and queues the session for Reap.
  void CloseSession(Session* session, std::string_view err_line);
  // Destroys sessions closed since the last call. Only between frames.
  void Reap();

  ServerOptions options_;
  Transport* transport_;
  VerbExtension* extension_;
  PublishObserver* observer_ = nullptr;
  std::string server_id_;
  Sublist sublist_;
  std::unordered_map<ClientId, std::unique_ptr<Session>> sessions_;
  std::vector<Session*> closed_;         // closing, not yet destroyed
  std::vector<Subscription*> expired_;   // reached their UNSUB max in Publish
  std::vector<char> msg_line_;           // MsgLineCapacity(max_control_line)
  // Permission violation lines; reserved for the longest (a subject of
  // max_control_line bytes, every byte escaped), so formatting never allocates.
  std::string err_line_;
  uint64_t random_state_;                // xorshift64 for queue groups
  absl::Time now_;                       // last OnTimer (construction before)
};

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_SERVER_CORE_H_
