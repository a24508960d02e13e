#include "server/session.h"

#include <cassert>

#include "server/auth.h"
#include "server/permission_errors.h"
#include "server/protocol_errors.h"
#include "server/server_core.h"
#include "server/subject.h"

namespace shortbus::server {
namespace {

ParserLimits LimitsOf(const ServerOptions& o) {
  return ParserLimits{.max_control_line = static_cast<size_t>(o.max_control_line),
                      .max_payload = static_cast<size_t>(o.max_payload)};
}

absl::Span<const VerbSpec> ExtraVerbs(const VerbExtension* extension) {
  return extension == nullptr ? absl::Span<const VerbSpec>() : extension->Verbs();
}

constexpr size_t kUncachedPublishRules = 8;

}  // namespace

Session::Session(ServerCore* core, ClientId id, ConnKind kind, std::string_view peer,
                 absl::Time now)
    : core_(core),
      id_(id),
      kind_(kind),
      peer_(peer),
      parser_(this, LimitsOf(core->options_), ExtraVerbs(core->extension_)),
      auth_deadline_(now + core->options_.auth_timeout),
      next_ping_(now + core->options_.ping_interval) {}

Session::~Session() { assert(subs_.empty()); }

void Session::Send(std::string_view bytes) { core_->transport_->Send(id_, bytes); }

void Session::CloseWithError(std::string_view err_line) { core_->CloseSession(this, err_line); }

bool Session::OutputFull() const {
  return core_->transport_->PendingOutput(id_) >= static_cast<size_t>(core_->options_.max_pending);
}

void Session::SendOkIfVerbose() {
  if (options_.verbose) Send(kOk);
}

bool Session::OnFrame(const Frame& frame) {
  if (closing_) return false;
  if (!connected_ && frame.verb != kVerbConnect && core_->options_.auth_required()) {
    CloseWithError(kErrAuthorization);
    return false;
  }
  switch (frame.verb) {
    case kVerbConnect:
      HandleConnect(frame.line);
      break;
    case kVerbPub:
    case kVerbHpub:
      HandlePub(frame);
      break;
    case kVerbSub:
      HandleSub(frame);
      break;
    case kVerbUnsub:
      HandleUnsub(frame);
      break;
    case kVerbPing:
      Send(kPong);
      break;
    case kVerbPong:
      pings_out_ = 0;
      break;
    case kVerbInfo:
    case kVerbOk:
      break;
    case kVerbErr:
      CloseWithError({});  // nats-server closes a client that sends -ERR
      break;
    default:
      if (core_->extension_ == nullptr) {
        CloseWithError(kErrUnknownOperation);
      } else if (!core_->extension_->OnVerb(*this, frame)) {
        return false;
      }
      break;
  }
  return !closing_;
}

void Session::OnParseError(ParseError error) {
  if (!connected_ && core_->options_.auth_required()) return CloseWithError(kErrAuthorization);
  switch (error) {
    case ParseError::kMaxControlLine:
      return CloseWithError(kErrMaxControlLine);
    case ParseError::kMaxPayload:
      return CloseWithError(kErrMaxPayload);
    case ParseError::kUnknownOperation:
    case ParseError::kBadArguments:
      // nats-server closes silently on bad arguments; shortbus names it.
      return CloseWithError(kErrUnknownOperation);
  }
}

void Session::HandleConnect(std::string_view json) {
  ClientOptions next = options_;
  if (!ApplyConnectJson(json, &next).ok()) return CloseWithError(kErrUnknownOperation);
  AuthResult auth = Authenticate(core_->options_, next);
  if (!auth.ok) return CloseWithError(kErrAuthorization);
  if (next.no_responders && !next.headers) return CloseWithError(kErrNoRespondersNeedsHeaders);
  options_ = std::move(next);
  if (auth.permissions != perms_) {
    perms_ = std::move(auth.permissions);
    pub_cache_.reset();
    replies_.reset();
    if (perms_ != nullptr && perms_->publish_rule_count() > kUncachedPublishRules) {
      pub_cache_ = std::make_unique<PublishCache>();
    }
    if (perms_ != nullptr && perms_->responses) replies_ = std::make_unique<ReplyPermits>(*perms_->responses);
  }
  connected_ = true;
  SendOkIfVerbose();
}

bool Session::PublishRulesAllow(std::string_view subject) {
  if (!perms_->has_publish_rules()) return true;
  if (pub_cache_ == nullptr) return perms_->PublishAllowed(subject);
  if (const std::optional<bool> hit = pub_cache_->Lookup(subject)) return *hit;
  const bool allowed = perms_->PublishAllowed(subject);
  pub_cache_->Store(subject, allowed);
  return allowed;
}

bool Session::CheckPublish(std::string_view subject) {
  if (PublishRulesAllow(subject)) return true;
  if (replies_ != nullptr && replies_->Use(subject, absl::Now())) return true;
  FormatPublishViolation(subject, &core_->err_line_);
  Send(core_->err_line_);
  return false;
}

void Session::NoteDeliveredReply(std::string_view reply) {
  if (!PublishRulesAllow(reply)) replies_->Grant(reply, absl::Now());
}

void Session::HandlePub(const Frame& frame) {
  const bool has_headers = frame.verb == kVerbHpub;
  // HPUB from a client that did not announce headers: nats-server closes.
  if (has_headers && !options_.headers) return CloseWithError(kErrUnknownOperation);
  published_since_ping_ = true;
  const std::string_view subject = frame.args[0];
  if (!IsValidPublishSubject(subject)) {
    if (options_.pedantic) Send(kErrInvalidPublishSubject);
    // Not pedantic, and wildcards are the only fault: the JetStream API
    // takes such subjects ($JS.API.CONSUMER.CREATE.<s>.<c>.<filter>, as the
    // Node client sends them). They are never routed to subscriptions
    // (docs/protocol.md, "Differences from nats-server").
    const bool observe = !options_.pedantic && IsValidSubscribeSubject(subject);
    if (observe && !PermitPublish(subject)) return;
    SendOkIfVerbose();
    if (observe) core_->ObserveOnly(this, MakePublished(frame));
    return;
  }
  // A refused publish gets the violation and no +OK (nats-server).
  if (!PermitPublish(subject)) return;
  // +OK goes before any delivery, also to the publisher itself (nats-server).
  SendOkIfVerbose();
  core_->Publish(this, MakePublished(frame));
}

PublishedMessage Session::MakePublished(const Frame& frame) const {
  PublishedMessage m;
  m.publisher = id_;
  m.subject = frame.args[0];
  if (frame.argc == 2) m.reply = frame.args[1];
  m.headers = frame.headers;
  m.payload = frame.payload;
  m.has_headers = frame.verb == kVerbHpub;
  return m;
}

void Session::HandleSub(const Frame& frame) {
  const std::string_view subject = frame.args[0];
  const std::string_view queue = frame.argc == 3 ? frame.args[1] : std::string_view();
  const std::string_view sid = frame.args[frame.argc - 1];
  if (!IsValidSubscribeSubject(subject) || (frame.argc == 3 && !IsValidQueueName(queue))) {
    return Send(kErrInvalidSubject);
  }
  // nats-server's order: permissions, the limit (even for a sid in use),
  // then a sid in use.
  if (perms_ != nullptr && !perms_->SubscribeAllowed(subject, queue)) {
    FormatSubscribeViolation(subject, queue, &core_->err_line_);
    return Send(core_->err_line_);
  }
  const int64_t max_subs = core_->options_.max_subscriptions;
  if (max_subs > 0 && subs_.size() >= static_cast<size_t>(max_subs)) return Send(kErrMaxSubscriptions);
  if (subs_.find(sid) != subs_.end()) return SendOkIfVerbose();  // nats-server keeps the first
  auto sub = std::make_unique<Subscription>();
  sub->subject = subject;
  sub->queue = queue;
  sub->sid = sid;
  sub->owner = this;
  sub->deny_filtered = perms_ != nullptr && perms_->FiltersDelivery(subject);
  if (!core_->sublist_.Insert(sub.get()).ok()) return Send(kErrInvalidSubject);
  std::string key = sub->sid;
  subs_.emplace(std::move(key), std::move(sub));
  SendOkIfVerbose();
}

void Session::HandleUnsub(const Frame& frame) {
  // A count that is not a number removes at once (nats-server 2.9.10 does).
  uint64_t max = 0;
  if (frame.argc == 2 && !ParseDecimal(frame.args[1], &max)) max = 0;
  auto it = subs_.find(frame.args[0]);
  if (it != subs_.end()) {
    Subscription* sub = it->second.get();
    if (max > 0 && sub->delivered < max) {
      sub->max_msgs = max;
    } else {
      RemoveSubscription(sub);
    }
  }
  SendOkIfVerbose();
}

void Session::RemoveSubscription(Subscription* sub) {
  [[maybe_unused]] const absl::Status removed = core_->sublist_.Remove(sub);
  assert(removed.ok());  // Invariant: every sub in subs_ is in the router.
  auto it = subs_.find(sub->sid);
  assert(it != subs_.end());
  subs_.erase(it);
}

void Session::RemoveAllSubscriptions() {
  for (auto& [sid, sub] : subs_) {
    [[maybe_unused]] const absl::Status removed = core_->sublist_.Remove(sub.get());
    assert(removed.ok());
  }
  subs_.clear();
}

}  // namespace shortbus::server
