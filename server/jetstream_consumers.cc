// JetStream: delivery to consumers (pull requests and push subjects),
// acknowledgements, flow control, heartbeats and timers.
#include <algorithm>
#include <array>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/absl_view.h"
#include "server/jetstream.h"
#include "server/jetstream_state.h"
#include "server/js_headers.h"

namespace shortbus::server {
namespace {

// Push flow control: a request goes out once this many bytes were
// delivered since the last answer; delivery stalls at twice as many.
constexpr uint64_t kFlowControlBytes = uint64_t{1} << 20;

// Splits `s` at '.' into at most N tokens; returns how many, or N + 1 when
// there are more.
template <size_t N>
size_t SplitTokens(std::string_view s, std::array<std::string_view, N>* out) {
  size_t n = 0, start = 0;
  while (true) {
    const size_t dot = s.find('.', start);
    if (n == N) return N + 1;
    (*out)[n++] = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (dot == std::string_view::npos) return n;
    start = dot + 1;
  }
}

}  // namespace

void JetStream::NextRequest(Consumer* c, std::string_view reply, std::string_view body) {
  if (reply.empty()) return;
  const int64_t now = host_->NowNs();
  c->last_active_ns = now;
  if (c->push()) return SendStatus(reply, 409, "Consumer is push based");
  PullRequest r;
  r.reply = std::string(reply);
  while (!body.empty() && body.front() == ' ') body.remove_prefix(1);
  int64_t number;
  if (body.empty()) {
    r.batch = 1;
  } else if (absl::SimpleAtoi(Av(body), &number)) {
    r.batch = std::max<int64_t>(number, 1);
  } else {
    Json j = Json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return SendStatus(reply, 400, "Bad Request - invalid JSON");
    int64_t expires = 0, hb = 0;
    try {
      if (j.contains("batch")) r.batch = std::max<int64_t>(GetInt<int64_t>(j["batch"]), 1);
      if (j.contains("expires")) expires = GetInt<int64_t>(j["expires"]);
      if (j.contains("no_wait")) r.no_wait = j["no_wait"].get<bool>();
      if (j.contains("max_bytes")) r.max_bytes = GetInt<int64_t>(j["max_bytes"]);
      if (j.contains("idle_heartbeat")) hb = GetInt<int64_t>(j["idle_heartbeat"]);
    } catch (const Json::exception&) {
      return SendStatus(reply, 400, "Bad Request - invalid JSON");
    }
    if (expires > 0) r.deadline_ns = now + expires;
    r.limit_bytes = r.max_bytes > 0;
    if (hb > 0) {
      r.heartbeat_ns = hb;
      r.next_heartbeat_ns = now + hb;
    }
    const JsConsumerConfig& cfg = c->config;
    if (cfg.max_batch > 0 && r.batch > cfg.max_batch) {
      return SendStatus(reply, 409, absl::StrCat("Exceeded MaxRequestBatch of ", cfg.max_batch));
    }
    if (cfg.max_expires_ns > 0 && expires > cfg.max_expires_ns) {
      return SendStatus(reply, 409,
                        absl::StrCat("Exceeded MaxRequestExpires of ",
                                     absl::FormatDuration(absl::Nanoseconds(cfg.max_expires_ns))));
    }
    if (cfg.max_request_bytes > 0 && r.max_bytes > cfg.max_request_bytes) {
      return SendStatus(reply, 409, absl::StrCat("Exceeded MaxRequestMaxBytes of ", cfg.max_request_bytes));
    }
  }
  if (static_cast<int64_t>(c->waiting.size()) >= c->config.max_waiting) {
    return SendStatus(reply, 409, "Exceeded MaxWaiting");
  }
  c->waiting.push_back(std::move(r));
  Deliver(c);
  ArmTimer(c);
}

void JetStream::Deliver(Consumer* c) {
  if (stopped_) return;
  const int64_t now = host_->NowNs();
  index::Delivery d;
  bool any = false;
  if (c->push()) {
    const std::string& to = c->config.base.deliver_subject;
    while (core_->HasInterest(to)) {
      if (c->config.base.flow_control && !c->fc_subject.empty() && c->bytes_since_fc >= 2 * kFlowControlBytes) break;
      absl::StatusOr<bool> got = c->consumer->Next(now, &d);
      if (!got.ok() || !*got) break;
      any = true;
      SendOne(c, to, d);
      if (c->config.base.flow_control) {
        c->bytes_since_fc += d.record.payload.size() + d.record.headers.size();
        if (c->fc_subject.empty() && c->bytes_since_fc >= kFlowControlBytes) {
          c->fc_subject = absl::StrCat("$JS.FC.", c->stream->config.base.name, ".", c->config.base.name, ".",
                                       c->last_consumer_seq);
          SendStatus(to, 100, "FlowControl Request", {}, c->fc_subject);
        }
      }
    }
  } else {
    while (!c->waiting.empty()) {
      PullRequest& r = c->waiting.front();
      if (r.deadline_ns != 0 && r.deadline_ns <= now) break;  // the timer ends it
      if (!core_->HasInterest(r.reply)) {
        // The requester went away (or unsubscribed its inbox): what would
        // go to it would wait out ack_wait for nothing.
        c->waiting.pop_front();
        continue;
      }
      absl::StatusOr<bool> got = c->consumer->Next(now, &d);
      if (!got.ok() || !*got) {
        // Nothing to deliver now. A no_wait request ends: 404 when it got
        // nothing and has no expiry, 408 once it got something.
        if (r.no_wait && (r.delivered > 0 || r.deadline_ns == 0)) {
          if (r.delivered > 0) {
            SendStatus(r.reply, 408, "Request Timeout",
                       {{"Nats-Pending-Messages", absl::StrCat(r.batch)},
                        {"Nats-Pending-Bytes", absl::StrCat(r.limit_bytes ? r.max_bytes : 0)}});
          } else {
            SendStatus(r.reply, 404, "No Messages");
          }
          c->waiting.pop_front();
          continue;
        }
        break;
      }
      any = true;
      const int64_t size = static_cast<int64_t>(d.record.subject.size() + d.record.headers.size() +
                                                d.record.payload.size());
      if (r.limit_bytes && size > r.max_bytes) {
        // Too big for what this request may still take: it ends, and the
        // message goes to the next request at once.
        SendStatus(r.reply, 409, "Message Size Exceeds MaxBytes",
                   {{"Nats-Pending-Messages", absl::StrCat(r.batch)}, {"Nats-Pending-Bytes", absl::StrCat(r.max_bytes)}});
        (void)c->consumer->Undo(d, now);
        c->waiting.pop_front();
        continue;
      }
      SendOne(c, r.reply, d);
      ++r.delivered;
      --r.batch;
      if (r.limit_bytes) r.max_bytes -= size;
      if (r.heartbeat_ns > 0) r.next_heartbeat_ns = now + r.heartbeat_ns;
      if (r.batch <= 0) c->waiting.pop_front();  // filled: no status
    }
  }
  if (any) {
    c->last_active_ns = now;
    MarkDirty(c);
    ArmTimer(c);
  }
}

bool JetStream::SendOne(Consumer* c, std::string_view to, const index::Delivery& d) {
  const engine::Record& rec = d.record;
  if (!c->num_pending_known) {
    absl::StatusOr<index::ConsumerInfo> info = c->consumer->Info();  // already past this message
    c->num_pending = info.ok() ? info->num_pending : d.num_pending;
    c->num_pending_known = info.ok();
  } else if (d.deliveries == 1 && c->num_pending > 0) {
    --c->num_pending;
  }
  reply_buf_.clear();
  absl::StrAppend(&reply_buf_, "$JS.ACK.", c->stream->config.base.name, ".", c->config.base.name, ".",
                  d.deliveries, ".", rec.sequence, ".", d.consumer_seq, ".", rec.timestamp_ns, ".", c->num_pending);
  PublishedMessage m;
  m.subject = rec.subject;
  m.reply = reply_buf_;
  m.headers = rec.headers;
  m.has_headers = !rec.headers.empty();
  m.payload = rec.payload;
  std::string headers_only;
  if (c->config.headers_only) {
    headers_only = rec.headers.empty() ? std::string("NATS/1.0\r\n\r\n") : std::string(rec.headers);
    headers_only.insert(headers_only.size() - 2, absl::StrCat("Nats-Msg-Size: ", rec.payload.size(), "\r\n"));
    m.headers = headers_only;
    m.has_headers = true;
    m.payload = {};
  }
  c->last_stream_seq = rec.sequence;
  c->last_consumer_seq = d.consumer_seq;
  if (c->push() && c->config.base.idle_heartbeat > absl::ZeroDuration()) {
    c->next_push_heartbeat_ns = host_->NowNs() + absl::ToInt64Nanoseconds(c->config.base.idle_heartbeat);
  }
  const bool taken = core_->PublishInternal(m, to);
  if (c->config.base.ack_policy == index::AckPolicy::kNone && c->stream->config.retention != RetentionPolicy::kLimits) {
    MaybeRemoveAcked(c->stream, rec.sequence, rec.subject);
  }
  return taken;
}

void JetStream::SendStatus(std::string_view to, int code, std::string_view text,
                           const std::vector<std::pair<std::string_view, std::string>>& extra,
                           std::string_view reply) {
  const std::string headers = StatusHeaders(code, text, extra);
  PublishedMessage m;
  m.subject = to;
  m.reply = reply;
  m.headers = headers;
  m.has_headers = true;
  core_->PublishInternal(m, {}, /*one_off=*/true);
}

void JetStream::HandleAck(std::string_view subject, const PublishedMessage& m) {
  PublishStaged();
  // $JS.ACK.<stream>.<consumer>.<deliveries>.<sseq>.<cseq>.<ts>.<pending>
  // or, from newer servers' clients, with <domain>.<account hash> before
  // the stream and a random token after.
  std::array<std::string_view, 12> t;
  const size_t n = SplitTokens(subject, &t);
  size_t base;
  if (n == 9) {
    base = 2;
  } else if (n == 11 || n == 12) {
    base = 4;
  } else {
    return;
  }
  Stream* s = FindStream(t[base]);
  if (s == nullptr) return;
  Consumer* c = FindConsumer(s, t[base + 1]);
  uint64_t sseq;
  if (c == nullptr || !absl::SimpleAtoi(Av(t[base + 3]), &sseq)) return;
  std::string_view body = m.payload;
  const int64_t now = host_->NowNs();
  c->last_active_ns = now;
  bool done = false;  // acknowledged or terminated
  if (body.empty() || body.starts_with("+ACK")) {
    done = c->consumer->Ack(sseq).ok();
  } else if (body.starts_with("-NAK")) {
    absl::Duration delay = absl::ZeroDuration();
    std::string_view rest = body.substr(4);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (!rest.empty()) {
      Json j = Json::parse(rest, nullptr, false);
      if (j.is_object() && j.contains("delay") && j["delay"].is_number_integer()) {
        delay = absl::Nanoseconds(std::max<int64_t>(0, GetInt<int64_t>(j["delay"])));
      }
    }
    (void)c->consumer->Nak(sseq, delay, now);
  } else if (body.starts_with("+WPI")) {
    (void)c->consumer->InProgress(sseq, now);
  } else if (body.starts_with("+TERM")) {
    done = c->consumer->Term(sseq).ok();
  } else if (body.starts_with("+NXT")) {
    done = c->consumer->Ack(sseq).ok();
    MarkDirty(c);
    if (done) MaybeRemoveAcked(s, sseq, {});
    NextRequest(c, m.reply, body.substr(4));
    return;
  }
  if (done) {
    // Ack policy all covers every pending message up to sseq.
    if (c->config.base.ack_policy == index::AckPolicy::kAll) {
      RemoveFinished(s, sseq);
    } else {
      MaybeRemoveAcked(s, sseq, {});
    }
  }
  MarkDirty(c);
  if (!m.reply.empty()) ack_replies_.emplace_back(m.reply, c);
  Deliver(c);
  ArmTimer(c);
}

void JetStream::HandleFlowControl(std::string_view subject) {
  PublishStaged();
  // $JS.FC.<stream>.<consumer>.<n>
  std::array<std::string_view, 5> t;
  if (SplitTokens(subject, &t) != 5) return;
  Stream* s = FindStream(t[2]);
  Consumer* c = s == nullptr ? nullptr : FindConsumer(s, t[3]);
  if (c == nullptr || c->fc_subject != subject) return;
  c->fc_subject.clear();
  c->bytes_since_fc = 0;
  Deliver(c);
}

// Work queues remove a message once acknowledged; interest streams once
// every consumer is done with it. `subject` may be empty (read back then).
void JetStream::MaybeRemoveAcked(Stream* s, uint64_t seq, std::string_view subject) {
  if (s->config.retention == RetentionPolicy::kLimits) return;
  if (s->config.retention == RetentionPolicy::kInterest) {
    std::string owned;
    if (subject.empty()) {
      engine::Record rec;
      if (!s->stored->GetMessage(seq, s->reader.get(), &rec).ok()) return;
      owned = std::string(rec.subject);
      subject = owned;
    }
    for (const auto& [name, c] : s->consumers) {
      if (!c->consumer->Finished(seq, subject)) return;
    }
  }
  s->to_delete.push_back(seq);
  if (!commit_posted_) {
    commit_posted_ = true;
    host_->Post([this] { CommitDirty(); });
  }
}

// Interest retention: every message up to `upto` that every consumer is
// done with goes (after an ack of policy all, or a consumer's deletion).
void JetStream::RemoveFinished(Stream* s, uint64_t upto) {
  if (s->config.retention != RetentionPolicy::kInterest) return;
  engine::Log& log = s->stored->log();
  const uint64_t first = log.first_seq(), last = std::min(upto, log.last_seq());
  if (last < first) return;
  engine::Reader* r = s->reader.get();
  if (!s->stored->Seek(r, first).ok()) return;
  engine::Record rec;
  const size_t before = s->to_delete.size();
  while (r->Next(&rec).ok() && rec.sequence <= last) {
    if (s->stored->IsDeleted(rec.sequence)) continue;
    bool finished = true;
    for (const auto& [name, c] : s->consumers) finished = finished && c->consumer->Finished(rec.sequence, rec.subject);
    if (finished) s->to_delete.push_back(rec.sequence);
  }
  if (s->to_delete.size() != before && !commit_posted_) {
    commit_posted_ = true;
    host_->Post([this] { CommitDirty(); });
  }
}

void JetStream::MarkDirty(Consumer* c) {
  if (!c->dirty) {
    c->dirty = true;
    dirty_.push_back(c);
  }
  if (!commit_posted_) {
    commit_posted_ = true;
    host_->Post([this] { CommitDirty(); });
  }
}

// One index transaction per consumer with news, and one per stream with
// deletions, per batch of events; then the replies acknowledgements asked for.
void JetStream::CommitDirty() {
  commit_posted_ = false;
  for (auto& [name, s] : streams_) {
    if (s->to_delete.empty()) continue;
    // Acknowledged messages: delivered already, so no consumer's count of
    // undelivered messages changes.
    (void)s->stored->DeleteMessages(s->to_delete, false);
    s->to_delete.clear();
  }
  std::vector<const Consumer*> failed;  // rare (disk full): a short list
  for (Consumer* c : dirty_) {
    c->dirty = false;
    absl::Status st = c->consumer->Commit(false);
    if (!st.ok()) {
      c->stream->stored->Report(absl::StrCat("consumer ", c->config.base.name, ": ", st.message()));
      failed.push_back(c);
    }
  }
  dirty_.clear();
  for (const auto& [reply, c] : ack_replies_) {
    // Unconfirmed: the client's AckSync fails and it acks again (the ack
    // stays in memory and is committed with the next change).
    if (std::find(failed.begin(), failed.end(), c) != failed.end()) continue;
    PublishedMessage m;
    m.subject = reply;
    core_->PublishInternal(m, {}, /*one_off=*/true);
  }
  ack_replies_.clear();
}

void JetStream::ArmTimer(Consumer* c) {
  if (stopped_) return;
  const int64_t now = host_->NowNs();
  int64_t at = INT64_MAX;
  // A redelivery is due only where it can go: a waiting pull request, or a
  // bound push subject that flow control does not hold. (Otherwise a passed
  // deadline would fire the timer at once, again and again.) A request or a
  // subscriber arriving delivers by itself.
  const bool can_deliver =
      c->push() ? core_->HasInterest(c->config.base.deliver_subject) &&
                      !(c->config.base.flow_control && !c->fc_subject.empty() &&
                        c->bytes_since_fc >= 2 * kFlowControlBytes)
                : !c->waiting.empty();
  if (c->config.base.ack_policy != index::AckPolicy::kNone && can_deliver) {
    at = std::min(at, c->consumer->next_deadline());
  }
  for (const PullRequest& r : c->waiting) {
    if (r.deadline_ns != 0) at = std::min(at, r.deadline_ns);
    if (r.heartbeat_ns != 0) at = std::min(at, r.next_heartbeat_ns);
  }
  const bool push_bound = c->push() && core_->HasInterest(c->config.base.deliver_subject);
  if (c->push() && c->config.base.idle_heartbeat > absl::ZeroDuration()) {
    if (c->next_push_heartbeat_ns == 0) {
      c->next_push_heartbeat_ns = now + absl::ToInt64Nanoseconds(c->config.base.idle_heartbeat);
    }
    at = std::min(at, c->next_push_heartbeat_ns);
  }
  if (c->push() && !push_bound) at = std::min(at, now + absl::ToInt64Nanoseconds(absl::Milliseconds(100)));
  if (!c->config.durable && c->config.inactive_threshold_ns > 0) {
    at = std::min(at, c->last_active_ns + c->config.inactive_threshold_ns);
  }
  if (at == INT64_MAX) return;
  // A timer that fires no later than needed stays: when it fires,
  // OnConsumerTimer finds what is due and arms the next one. (Re-arming on
  // every delivery would churn the timer queue per message.)
  if (c->timer != 0 && c->timer_at <= at) return;
  if (c->timer != 0) host_->CancelTimer(c->timer);
  c->timer_at = at;
  // Every path that destroys a Consumer cancels its timer first
  // (DropConsumer, stream deletion, Stop), so `c` is alive when it fires.
  c->timer = host_->AddTimer(absl::Nanoseconds(std::max<int64_t>(0, at - now)), [this, c] {
    c->timer = 0;
    OnConsumerTimer(c);
  });
}

void JetStream::OnConsumerTimer(Consumer* c) {
  if (stopped_) return;
  PublishStaged();
  const int64_t now = host_->NowNs();
  // Pull requests: expiry (408 with what was not delivered) and heartbeats.
  for (auto it = c->waiting.begin(); it != c->waiting.end();) {
    if (it->deadline_ns != 0 && it->deadline_ns <= now) {
      SendStatus(it->reply, 408, "Request Timeout",
                 {{"Nats-Pending-Messages", absl::StrCat(it->batch)},
                  {"Nats-Pending-Bytes", absl::StrCat(it->limit_bytes ? it->max_bytes : 0)}});
      it = c->waiting.erase(it);
      continue;
    }
    if (it->heartbeat_ns != 0 && it->next_heartbeat_ns <= now) {
      SendStatus(it->reply, 100, "Idle Heartbeat",
                 {{"Nats-Last-Consumer", absl::StrCat(c->last_consumer_seq)},
                  {"Nats-Last-Stream", absl::StrCat(c->last_stream_seq)}});
      it->next_heartbeat_ns = now + it->heartbeat_ns;
    }
    ++it;
  }
  const bool push_bound = c->push() && core_->HasInterest(c->config.base.deliver_subject);
  if (push_bound || !c->waiting.empty()) c->last_active_ns = now;
  if (c->push() && c->config.base.idle_heartbeat > absl::ZeroDuration() && c->next_push_heartbeat_ns <= now) {
    if (push_bound) {
      std::vector<std::pair<std::string_view, std::string>> extra = {
          {"Nats-Last-Consumer", absl::StrCat(c->last_consumer_seq)},
          {"Nats-Last-Stream", absl::StrCat(c->last_stream_seq)}};
      if (!c->fc_subject.empty()) extra.emplace_back("Nats-Consumer-Stalled", c->fc_subject);
      SendStatus(c->config.base.deliver_subject, 100, "Idle Heartbeat", extra);
    }
    c->next_push_heartbeat_ns = now + absl::ToInt64Nanoseconds(c->config.base.idle_heartbeat);
  }
  if (!c->config.durable && c->config.inactive_threshold_ns > 0 &&
      now - c->last_active_ns >= c->config.inactive_threshold_ns) {
    DropConsumer(c->stream, c->config.base.name);  // an idle ephemeral
    return;
  }
  Deliver(c);
  ArmTimer(c);
}

}  // namespace shortbus::server
