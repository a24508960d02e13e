// ServerCore: routing a published message to its subscribers.
#include <cassert>

#include "server/msg_line.h"
#include "server/protocol_errors.h"
#include "server/server_core.h"

namespace shortbus::server {

void ServerCore::Publish(Session* from, const PublishedMessage& message) {
  const bool answered = observer_ != nullptr && observer_->OnPublish(message);
  const bool delivered = Route(from, message, message.subject);
  if (!delivered && !answered) MaybeNoResponders(from, message);
}

void ServerCore::ObserveOnly(Session* from, const PublishedMessage& message) {
  const bool answered = observer_ != nullptr && observer_->OnPublish(message);
  if (!answered) MaybeNoResponders(from, message);
}

void ServerCore::MaybeNoResponders(Session* from, const PublishedMessage& message) {
  if (!message.reply.empty() && from->options_.no_responders && from->options_.headers && !from->closing_) {
    SendNoResponders(from, message.reply);
  }
}

bool ServerCore::PublishInternal(const PublishedMessage& message, std::string_view route_subject, bool one_off) {
  return Route(nullptr, message, route_subject.empty() ? message.subject : route_subject, one_off);
}

bool ServerCore::HasInterest(std::string_view subject) {
  const MatchResult& match = sublist_.Match(subject);
  return !match.plain.empty() || !match.queues.empty();
}

bool ServerCore::Route(Session* from, const PublishedMessage& message, std::string_view route_subject,
                       bool one_off) {
  bool delivered = false;
  {
    // Valid until the next Match/Insert/Remove: expired subscriptions are
    // removed only after this block.
    const MatchResult& match = one_off ? sublist_.MatchOnce(route_subject) : sublist_.Match(route_subject);
    for (Subscription* sub : match.plain) delivered |= Deliver(from, sub, message, route_subject);
    for (const std::vector<Subscription*>& group : match.queues) {
      const size_t n = group.size();
      random_state_ ^= random_state_ << 13;
      random_state_ ^= random_state_ >> 7;
      random_state_ ^= random_state_ << 17;
      const size_t start = static_cast<size_t>(random_state_ % n);
      for (size_t k = 0; k < n; ++k) {
        if (Deliver(from, group[(start + k) % n], message, route_subject)) {
          delivered = true;
          break;
        }
      }
    }
  }
  for (Subscription* sub : expired_) sub->owner->RemoveSubscription(sub);
  expired_.clear();
  return delivered;
}

bool ServerCore::Deliver(Session* from, Subscription* sub, const PublishedMessage& m,
                         std::string_view route_subject) {
  Session* to = sub->owner;
  if (to->closing_) return false;
  if (to == from && from != nullptr && !from->options_.echo) return false;
  if (sub->max_msgs != 0 && sub->delivered >= sub->max_msgs) return false;
  if (sub->deny_filtered && to->perms_ != nullptr && to->perms_->DeniesDelivery(route_subject, sub->queue)) {
    return false;
  }
  if (to->replies_ != nullptr && !m.reply.empty()) to->NoteDeliveredReply(m.reply);
  ++sub->delivered;
  if (sub->max_msgs != 0 && sub->delivered == sub->max_msgs) expired_.push_back(sub);
  // A subscriber that did not announce headers gets the body alone, as MSG
  // (nats-server does the same).
  if (m.has_headers && to->options_.headers) {
    const std::string_view line =
        FormatMsgLine(msg_line_.data(), m.subject, sub->sid, m.reply,
                      static_cast<long>(m.headers.size()), m.headers.size() + m.payload.size());
    transport_->SendParts(to->id_, {line, m.headers, m.payload, kCrLf});
  } else {
    const std::string_view line =
        FormatMsgLine(msg_line_.data(), m.subject, sub->sid, m.reply, -1, m.payload.size());
    transport_->SendParts(to->id_, {line, m.payload, kCrLf});
  }
  if (transport_->PendingOutput(to->id_) > static_cast<size_t>(options_.max_pending)) {
    CloseSession(to, kErrSlowConsumer);
  }
  return true;
}

// HMSG <reply> <sid> 16 16\r\nNATS/1.0 503\r\n\r\n\r\n to the requester, on
// its first subscription matching the reply subject (none: nothing sent).
void ServerCore::SendNoResponders(Session* from, std::string_view reply) {
  const MatchResult& match = sublist_.Match(reply);
  const Subscription* own = nullptr;
  for (const Subscription* sub : match.plain) {
    if (sub->owner == from) {
      own = sub;
      break;
    }
  }
  for (size_t g = 0; own == nullptr && g < match.queues.size(); ++g) {
    for (const Subscription* sub : match.queues[g]) {
      if (sub->owner == from) {
        own = sub;
        break;
      }
    }
  }
  if (own == nullptr) return;
  const std::string_view line = FormatMsgLine(msg_line_.data(), reply, own->sid, {},
                                              static_cast<long>(kNoRespondersHeader.size()),
                                              kNoRespondersHeader.size());
  transport_->SendParts(from->id_, {line, kNoRespondersHeader, kCrLf});
}

}  // namespace shortbus::server
