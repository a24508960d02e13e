// One client connection's protocol state: its parser, CONNECT options,
// subscriptions and ping/auth timers. Owned by ServerCore, which creates it
// on accept and destroys it only between calls into the core (never while
// its parser is running). Single-threaded, like the core.
//
// Verbs (docs/protocol.md): CONNECT, PUB, HPUB, SUB, UNSUB, PING, PONG are
// served; INFO and +OK from a client are ignored; -ERR from a client closes
// it silently; MSG/HMSG from a client are protocol errors. When the server
// requires authentication, anything before an accepted CONNECT is an
// 'Authorization Violation'. The accepted CONNECT fixes the client's
// permissions (server/permissions.h): PUB/HPUB and SUB are checked against
// them, and refused ones get nats-server's 'Permissions Violation ...'
// (the connection stays open).
#ifndef SHORTBUS_SERVER_SESSION_H_
#define SHORTBUS_SERVER_SESSION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/time/time.h"
#include "server/client_options.h"
#include "server/parser.h"
#include "server/permissions.h"
#include "server/publish_cache.h"
#include "server/publish_observer.h"
#include "server/reply_permits.h"
#include "server/subscription.h"
#include "server/transport.h"

namespace shortbus::server {

class ServerCore;

class Session final : public ParserHandler {
 public:
  Session(ServerCore* core, ClientId id, ConnKind kind, std::string_view peer, absl::Time now);
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  ClientId id() const { return id_; }
  ConnKind kind() const { return kind_; }
  const std::string& peer() const { return peer_; }
  const ClientOptions& options() const { return options_; }
  // CONNECT accepted (and authenticated when required).
  bool connected() const { return connected_; }
  // Closed by the core or the peer; no more input is read or delivered.
  bool closing() const { return closing_; }
  size_t subscription_count() const { return subs_.size(); }
  // The subscription with client id `sid`; null when none.
  const Subscription* FindSubscription(std::string_view sid) const {
    auto it = subs_.find(sid);
    return it == subs_.end() ? nullptr : it->second.get();
  }

  // Parses bytes from the client; `data` need only live during the call.
  void Feed(const char* data, size_t n) { parser_.Feed(data, n); }

  // For verb extensions: queue bytes to this client; close it after
  // sending `err_line` (a whole "-ERR '...'\r\n", or empty for none).
  void Send(std::string_view bytes);
  void CloseWithError(std::string_view err_line);
  // Whether this client's unread output has reached max_pending: a verb
  // that answers with many lines stops there (the transport cuts a client
  // whose own output stays past it).
  bool OutputFull() const;
  // Whether this client may publish to `subject`: its publish permissions,
  // then a response permit (allow_responses). When not, it gets
  // -ERR 'Permissions Violation for Publish to "<subject>"' (the connection
  // stays) and the answer is false. Allocates nothing once warm.
  bool PermitPublish(std::string_view subject) {
    return perms_ == nullptr || CheckPublish(subject);
  }
  // Null when the client may do anything.
  const Permissions* permissions() const { return perms_.get(); }

  bool OnFrame(const Frame& frame) override;
  void OnParseError(ParseError error) override;

 private:
  friend class ServerCore;

  struct SidHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using SubscriptionMap =
      std::unordered_map<std::string, std::unique_ptr<Subscription>, SidHash, std::equal_to<>>;

  void HandleConnect(std::string_view json);
  void HandlePub(const Frame& frame);
  PublishedMessage MakePublished(const Frame& frame) const;
  void HandleSub(const Frame& frame);
  void HandleUnsub(const Frame& frame);
  void SendOkIfVerbose();
  bool CheckPublish(std::string_view subject);
  // The static publish rules, through the cache when there is one.
  bool PublishRulesAllow(std::string_view subject);
  // A message with reply subject `reply` was delivered to this client: a
  // response permit when allow_responses is on and the rules refuse it.
  void NoteDeliveredReply(std::string_view reply);
  // Takes `sub` out of the router and destroys it.
  void RemoveSubscription(Subscription* sub);
  void RemoveAllSubscriptions();

  ServerCore* core_;
  const ClientId id_;
  const ConnKind kind_;
  const std::string peer_;
  Parser parser_;
  ClientOptions options_;
  bool connected_ = false;
  bool closing_ = false;
  SubscriptionMap subs_;  // by sid
  // Set by CONNECT; null: no permissions. pub_cache_ only for users with
  // more than kUncachedPublishRules publish rules (a scan of fewer costs
  // about what a hash and a compare do); replies_ only with allow_responses.
  std::shared_ptr<const Permissions> perms_;
  std::unique_ptr<PublishCache> pub_cache_;
  std::unique_ptr<ReplyPermits> replies_;

  // Timers, driven by ServerCore::OnTimer.
  absl::Time auth_deadline_;
  absl::Time next_ping_;
  int64_t pings_out_ = 0;            // PINGs sent and not answered by PONG
  bool published_since_ping_ = false;  // a PUB/HPUB since the last ping time
};

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_SESSION_H_
