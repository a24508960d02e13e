// JetStream: start, stream capture and publish acknowledgements.
#include "server/absl_view.h"
#include "server/jetstream.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/js_headers.h"
#include "server/jetstream_state.h"
#include "server/subject.h"
#include "index/subject_filter.h"

namespace shortbus::server {

JetStream::JetStream(index::Store* store, ServerCore* core, JsHost* host, JsDefaults defaults)
    : store_(store), core_(core), host_(host), defaults_(defaults) {
  // Room for the longest acknowledgement and ack subject, so that they
  // never grow on the message path.
  buf_.reserve(256);
  reply_buf_.reserve(256);
}

JetStream::~JetStream() { Stop(); }

absl::Status JetStream::Start() {
  for (const std::string& name : store_->Names()) {
    index::StoredStream* stored = store_->Find(name);
    if (stored == nullptr) continue;
    if (absl::Status s = Adopt(stored); !s.ok()) return s;
  }
  return absl::OkStatus();
}

void JetStream::Stop() {
  if (stopped_) return;
  CommitDirty();
  stopped_ = true;
  for (auto& [name, s] : streams_) {
    s->stored->SetLogDurableCallback(nullptr);
    for (auto& [cname, c] : s->consumers) {
      if (c->timer != 0) host_->CancelTimer(c->timer);
      c->timer = 0;
    }
  }
}

absl::Status JetStream::Adopt(index::StoredStream* stored) {
  auto s = std::make_unique<Stream>();
  s->id = next_stream_id_++;
  s->stored = stored;
  s->config = StreamConfigFromIndex(stored->entry().config);
  absl::StatusOr<std::unique_ptr<engine::Reader>> reader = engine::Reader::Open(stored->dir());
  if (!reader.ok()) return reader.status();
  s->reader = *std::move(reader);
  Stream* raw = s.get();
  streams_by_id_[raw->id] = raw;
  streams_[stored->entry().config.name] = std::move(s);
  IndexCapture(raw);
  LoadDedup(raw);
  const uint64_t id = raw->id;
  // Acknowledgements owed under sync=always go out once the log is synced
  // (docs/jetstream.md, "When the acknowledgement is sent").
  stored->SetLogDurableCallback([this, id](uint64_t seq) { host_->Post([this, id, seq] { OnDurable(id, seq); }); });
  for (const std::string& cname : stored->ConsumerNames()) {
    if (index::Consumer* ic = stored->FindConsumer(cname)) AdoptConsumer(raw, ic);
  }
  return absl::OkStatus();
}

void JetStream::AdoptConsumer(Stream* s, index::Consumer* ic) {
  auto c = std::make_unique<Consumer>();
  c->stream = s;
  c->consumer = ic;
  c->config = ConsumerConfigFromIndex(ic->config());
  c->last_active_ns = host_->NowNs();
  c->last_stream_seq = ic->delivered_stream_seq();
  c->last_consumer_seq = ic->delivered_consumer_seq();
  Consumer* raw = c.get();
  s->consumers[ic->name()] = std::move(c);
  ArmTimer(raw);
}

void JetStream::IndexCapture(Stream* s) {
  for (const std::string& subject : s->config.base.subjects) {
    auto sub = std::make_unique<Subscription>();
    sub->subject = subject;
    sub->sid = s->config.base.name;
    if (capture_.Insert(sub.get()).ok()) {
      capture_owner_[sub.get()] = s;
      s->capture.push_back(std::move(sub));
    }
  }
}

void JetStream::UnindexCapture(Stream* s) {
  for (auto& sub : s->capture) {
    (void)capture_.Remove(sub.get());
    capture_owner_.erase(sub.get());
  }
  s->capture.clear();
}

JsError JetStream::CheckOverlap(const std::vector<std::string>& subjects, const std::string& except) {
  for (size_t i = 0; i < subjects.size(); ++i) {
    for (size_t k = i + 1; k < subjects.size(); ++k) {
      if (SubjectsIntersect(subjects[i], subjects[k])) {
        return JsStreamInvalidConfig(absl::StrCat("subject \"", subjects[i], "\" overlaps with \"", subjects[k], "\""));
      }
    }
  }
  for (const auto& [name, s] : streams_) {
    if (name == except) continue;
    for (const std::string& mine : subjects) {
      for (const std::string& theirs : s->config.base.subjects) {
        if (SubjectsIntersect(mine, theirs)) return JsSubjectsOverlap();
      }
    }
  }
  return JsOk();
}

// The Nats-Msg-Id of every message in the last duplicate window, so that a
// restart does not forget them.
void JetStream::LoadDedup(Stream* s) {
  const int64_t now = host_->NowNs();
  const int64_t window = absl::ToInt64Nanoseconds(s->config.base.duplicate_window);
  if (s->stored->log().last_seq() < s->stored->log().first_seq()) return;
  engine::Reader* r = s->reader.get();
  if (!s->stored->SeekTime(r, now - window).ok()) return;
  engine::Record rec;
  while (r->Next(&rec).ok()) {
    std::string id;
    if (!rec.headers.empty()) {
      if (std::optional<std::string_view> v = HeaderValue(rec.headers, kMsgIdHeader); v && !v->empty()) {
        id = std::string(*v);
      }
    }
    if (!id.empty()) {
      s->msg_ids[id] = {rec.sequence, rec.timestamp_ns};
      s->msg_id_order.emplace_back(rec.timestamp_ns, id);
    }
    if (rec.sequence == s->stored->log().last_seq()) s->last_msg_id = id;
  }
}

JetStream::Stream* JetStream::FindStream(std::string_view name) {
  auto it = streams_.find(std::string(name));
  return it == streams_.end() ? nullptr : it->second.get();
}

JetStream::Consumer* JetStream::FindConsumer(Stream* s, std::string_view name) {
  auto it = s->consumers.find(std::string(name));
  return it == s->consumers.end() ? nullptr : it->second.get();
}

bool JetStream::OnPublish(const PublishedMessage& m) {
  if (stopped_) return false;
  const std::string_view subject = m.subject;
  if (subject.size() > 4 && subject[0] == '$' && subject.starts_with("$JS.")) {
    if (subject.starts_with("$JS.API.")) {
      if (m.reply.empty()) return true;  // nowhere to answer: dropped, as nats-server does
      HandleApi(subject.substr(8), m);
      return true;
    }
    if (subject.starts_with("$JS.ACK.")) {
      HandleAck(subject, m);
      return true;
    }
    if (subject.starts_with("$JS.FC.")) {
      HandleFlowControl(subject);
      return true;
    }
  }
  if (capture_.count() == 0) return false;
  const MatchResult& match = capture_.Match(subject);
  if (match.plain.empty()) return false;
  auto it = capture_owner_.find(match.plain.front());
  if (it == capture_owner_.end()) return false;
  Capture(it->second, m);
  return !m.reply.empty();
}

void JetStream::Capture(Stream* s, const PublishedMessage& m) {
  const std::string_view reply = s->config.no_ack ? std::string_view() : m.reply;
  const std::string& name = s->config.base.name;
  std::string_view msg_id;
  index::AppendExpect expect;
  if (m.has_headers && !m.headers.empty()) {
    PublishStaged();  // expectations compare with the stream's readable state
    // Checks in nats-server's order: duplicate first, then expectations.
    if (std::optional<std::string_view> id = HeaderValue(m.headers, kMsgIdHeader); id && !id->empty()) {
      msg_id = *id;
      auto dup = s->msg_ids.find(Av(msg_id));
      if (dup != s->msg_ids.end() &&
          dup->second.second >= host_->NowNs() - absl::ToInt64Nanoseconds(s->config.base.duplicate_window)) {
        if (!reply.empty()) SendPubAck(reply, name, dup->second.first, true);
        return;
      }
    }
    if (std::optional<std::string_view> v = HeaderValue(m.headers, kExpectedStreamHeader); v && !v->empty()) {
      if (*v != name) return SendPubError(reply, name, JsExpectedStreamMismatch());
    }
    if (std::optional<std::string_view> v = HeaderValue(m.headers, kExpectedLastSeqHeader); v && !v->empty()) {
      std::optional<uint64_t> n = ParseHeaderNumber(*v);
      const uint64_t last = s->stored->log().last_seq();
      if (!n || *n != last) return SendPubError(reply, name, JsWrongLastSequence(last));
      expect.last_seq = *n;
    }
    if (std::optional<std::string_view> v = HeaderValue(m.headers, kExpectedLastSubjectSeqHeader); v && !v->empty()) {
      std::optional<uint64_t> n = ParseHeaderNumber(*v);
      if (!n) return SendPubError(reply, name, JsWrongLastSequence(s->stored->LastSequenceOf(m.subject)));
      expect.last_subject_seq = *n;
    }
    if (std::optional<std::string_view> v = HeaderValue(m.headers, kExpectedLastMsgIdHeader); v && !v->empty()) {
      if (*v != s->last_msg_id) return SendPubError(reply, name, JsWrongLastMsgId(s->last_msg_id));
    }
  }
  const index::StreamConfig& cfg = s->config.base;
  if (s->config.max_msg_size > 0 &&
      static_cast<int64_t>(m.headers.size() + m.payload.size()) > s->config.max_msg_size) {
    return SendPubError(reply, name, JsMessageTooBig());
  }
  // The first append of a burst: the syncer wakes while the burst is read.
  if (cfg.sync == engine::SyncMode::kAlways && !s->sync_wanted) s->stored->log().PrepareSync();
  absl::StatusOr<uint64_t> seq = s->stored->Append({m.subject, m.headers, m.payload, 0}, expect);
  if (!seq.ok()) {
    const absl::Status& st = seq.status();
    if (absl::IsFailedPrecondition(st) && absl::StrContains(st.message(), "wrong last sequence")) {
      const uint64_t actual = expect.last_subject_seq ? s->stored->LastSequenceOf(m.subject) : s->stored->log().last_seq();
      return SendPubError(reply, name, JsWrongLastSequence(actual));
    }
    if (absl::IsResourceExhausted(st)) {
      const bool msgs = cfg.retention.max_msgs != 0 &&
                        s->stored->log().last_seq() + 1 - s->stored->log().first_seq() >= cfg.retention.max_msgs;
      return SendPubError(reply, name, JsStoreFailed(msgs                              ? "maximum messages exceeded"
                                               : cfg.retention.max_bytes != 0   ? "maximum bytes exceeded"
                                                                                : std::string(st.message())));
    }
    if (absl::IsInvalidArgument(st)) return SendPubError(reply, name, JsMessageTooBig());
    return SendPubError(reply, name, JsStoreFailed(std::string(st.message())));
  }
  if (!msg_id.empty()) {
    const int64_t now = host_->NowNs();
    s->msg_ids[std::string(msg_id)] = {*seq, now};
    s->msg_id_order.emplace_back(now, std::string(msg_id));
    const int64_t cutoff = now - absl::ToInt64Nanoseconds(cfg.duplicate_window);
    while (!s->msg_id_order.empty() && s->msg_id_order.front().first < cutoff) {
      auto it = s->msg_ids.find(s->msg_id_order.front().second);
      if (it != s->msg_ids.end() && it->second.second < cutoff) s->msg_ids.erase(it);
      s->msg_id_order.pop_front();
    }
  }
  s->last_msg_id.assign(msg_id.data(), msg_id.size());
  if (cfg.sync == engine::SyncMode::kAlways) WantSync(s);
  if (!reply.empty()) {
    if (cfg.sync == engine::SyncMode::kAlways && s->stored->log().durable_seq() < *seq) {
      if (s->owed.empty()) s->reply_arena.clear();
      s->owed.push_back({*seq, static_cast<uint32_t>(s->reply_arena.size()), static_cast<uint32_t>(reply.size()), false});
      s->reply_arena.append(reply.data(), reply.size());
    } else {
      SendPubAck(reply, name, *seq, false);
    }
  }
  AfterAppend(s, *seq, m.subject);
}

// What a new message sets off: the per-subject limit, interest retention
// without interested consumers, and delivery to every consumer.
void JetStream::AfterAppend(Stream* s, uint64_t seq, std::string_view subject) {
  const bool reads_now = s->config.max_msgs_per_subject > 0 || s->config.retention == RetentionPolicy::kInterest;
  if (reads_now) PublishStaged();  // each of these reads the stream or deletes from it
  // Under sync=always (staged appends) delivery waits for the end of the
  // turn, unless the stream was just written anyway.
  const bool deliver_later = s->sync_wanted && !reads_now;
  if (s->config.max_msgs_per_subject > 0) EnforcePerSubject(s, seq, subject);
  if (s->config.retention == RetentionPolicy::kInterest) {
    bool wanted = false;
    for (const auto& [name, c] : s->consumers) {
      wanted = wanted || index::AnyFilterMatches(c->config.base.filter_subjects, subject);
    }
    if (!wanted) (void)s->stored->DeleteMessages(absl::MakeConstSpan(&seq, 1), false);  // no consumer counts it
  }
  for (auto& [name, c] : s->consumers) {
    if (c->num_pending_known && index::AnyFilterMatches(c->config.base.filter_subjects, subject)) ++c->num_pending;
    if (deliver_later) {
      s->deliver_owed = true;
    } else {
      Deliver(c.get());
    }
  }
}

void JetStream::ForgetPendingCounts(Stream* s) {
  for (auto& [name, c] : s->consumers) c->num_pending_known = false;
}

// max_msgs_per_subject: the sequences of each subject, oldest first, built
// from the log the first time it is needed (and after a purge); the oldest
// go once a subject holds more than the limit.
void JetStream::EnforcePerSubject(Stream* s, uint64_t seq, std::string_view subject) {
  const size_t limit = static_cast<size_t>(s->config.max_msgs_per_subject);
  std::vector<uint64_t> doomed;
  if (!s->per_subject_loaded) {
    s->per_subject.clear();
    engine::Reader* r = s->reader.get();
    if (s->stored->Seek(r, s->stored->log().first_seq()).ok()) {
      engine::Record rec;
      while (r->Next(&rec).ok() && rec.sequence < seq) {
        if (s->stored->IsDeleted(rec.sequence)) continue;
        std::deque<uint64_t>& q = s->per_subject[std::string(rec.subject)];
        q.push_back(rec.sequence);
        if (q.size() > limit) {
          doomed.push_back(q.front());
          q.pop_front();
        }
      }
    }
    s->per_subject_loaded = true;
  }
  const bool doomed_by_build = !doomed.empty();
  auto it = s->per_subject.find(subject);
  if (it == s->per_subject.end()) it = s->per_subject.emplace(std::string(subject), std::deque<uint64_t>()).first;
  it->second.push_back(seq);
  while (it->second.size() > limit) {
    doomed.push_back(it->second.front());
    it->second.pop_front();
  }
  if (doomed.empty()) return;
  (void)s->stored->DeleteMessages(doomed, false);
  if (doomed_by_build) {
    ForgetPendingCounts(s);  // the first build found other subjects over the limit: count anew
    return;
  }
  // The doomed messages are of `subject`: a consumer that has not passed
  // one yet will not deliver it.
  for (auto& [name, c] : s->consumers) {
    if (!c->num_pending_known || !index::AnyFilterMatches(c->config.base.filter_subjects, subject)) continue;
    for (uint64_t d : doomed) {
      if (d > c->consumer->delivered_stream_seq() && c->num_pending > 0) --c->num_pending;
    }
  }
}

void JetStream::SendPubAck(std::string_view reply, std::string_view stream, uint64_t seq, bool duplicate) {
  buf_.clear();
  absl::StrAppend(&buf_, "{\"stream\":\"", Av(stream), "\", \"seq\":", seq, duplicate ? ",\"duplicate\": true}" : "}");
  PublishedMessage ack;
  ack.subject = reply;
  ack.payload = buf_;
  core_->PublishInternal(ack, {}, /*one_off=*/true);
}

void JetStream::SendPubError(std::string_view reply, std::string_view stream, const JsError& e) {
  if (reply.empty()) return;
  OrderedJson j;
  j["error"] = {{"code", e.code}, {"err_code", e.err_code}, {"description", ForClient(e.description)}};
  j["stream"] = std::string(stream);
  j["seq"] = 0;
  const std::string body = DumpJson(j);
  PublishedMessage ack;
  ack.subject = reply;
  ack.payload = body;
  core_->PublishInternal(ack, {}, /*one_off=*/true);
}

void JetStream::WantSync(Stream* s) {
  if (!s->sync_wanted) {
    s->sync_wanted = true;
    sync_wanted_.push_back(s->id);
  }
  if (sync_posted_) return;
  sync_posted_ = true;
  host_->Post([this] { RequestSyncs(); });
}

void JetStream::PublishStaged() {
  for (uint64_t id : sync_wanted_) {
    auto it = streams_by_id_.find(id);
    // A failed write fails the log: the next append reports it to its publisher.
    if (it != streams_by_id_.end()) (void)it->second->stored->log().Publish();
  }
}

void JetStream::RequestSyncs() {
  sync_posted_ = false;
  PublishStaged();
  for (uint64_t id : sync_wanted_) {
    auto it = streams_by_id_.find(id);
    if (it == streams_by_id_.end()) continue;  // deleted this turn: nothing to make durable
    it->second->sync_wanted = false;
    it->second->stored->log().RequestSync();
  }
  // Then the turn's appends go to the consumers (AfterAppend), now that
  // they are written; the sync is already under way.
  for (uint64_t id : sync_wanted_) {
    auto it = streams_by_id_.find(id);
    if (it == streams_by_id_.end() || !it->second->deliver_owed) continue;
    it->second->deliver_owed = false;
    for (auto& [name, c] : it->second->consumers) Deliver(c.get());
  }
  sync_wanted_.clear();
}

void JetStream::OnDurable(uint64_t stream_id, uint64_t seq) {
  auto it = streams_by_id_.find(stream_id);
  if (it == streams_by_id_.end() || stopped_) return;
  Stream* s = it->second;
  while (!s->owed.empty() && s->owed.front().seq <= seq) {
    const Stream::OwedAck a = s->owed.front();
    s->owed.pop_front();
    SendPubAck(std::string_view(s->reply_arena).substr(a.reply_off, a.reply_len), s->config.base.name, a.seq,
               a.duplicate);
  }
  if (s->owed.empty()) {
    s->reply_arena.clear();
  } else if (const uint32_t done = s->owed.front().reply_off;
             done >= Stream::kArenaCompactAt && done >= s->reply_arena.size() / 2) {
    // A publisher that always has publishes in flight never lets the queue
    // empty: drop the answered prefix (amortized, it moves no more bytes
    // than it drops), so the arena holds what is owed, not all ever owed.
    s->reply_arena.erase(0, done);
    for (Stream::OwedAck& a : s->owed) a.reply_off -= done;
  }
}

}  // namespace shortbus::server
