#include "index/consumer.h"

#include <algorithm>
#include <climits>

#include "absl/strings/str_cat.h"
#include "index/keys.h"
#include "index/store.h"
#include "index/subject_filter.h"

namespace shortbus::index {

Consumer::Consumer(StoredStream* stream, LmdbEnv* env, uint32_t stream_no, ConsumerConfig config)
    : stream_(stream), env_(env), stream_no_(stream_no), config_(std::move(config)) {}

Consumer::~Consumer() = default;

std::string Consumer::StateKey() const { return StreamBytesKey(stream_no_, config_.name); }

absl::Status Consumer::Start(int64_t now_ns) {
  engine::Log& log = stream_->log();
  const uint64_t last = log.last_seq();
  uint64_t start = log.first_seq();
  switch (config_.deliver_policy) {
    case DeliverPolicy::kAll:
      break;
    case DeliverPolicy::kLast:
      start = std::max<uint64_t>(last, start);
      break;
    case DeliverPolicy::kNew:
      start = last + 1;
      break;
    case DeliverPolicy::kByStartSequence:
      start = std::max(config_.opt_start_seq, start);
      break;
    case DeliverPolicy::kByStartTime: {
      absl::StatusOr<std::unique_ptr<engine::Reader>> r = engine::Reader::Open(stream_->dir());
      if (!r.ok()) return r.status();
      if (absl::Status s = stream_->SeekTime(r->get(), config_.opt_start_time_ns); !s.ok()) return s;
      engine::Record rec;
      absl::Status s = (*r)->Next(&rec);
      if (s.ok()) start = rec.sequence;
      else if (engine::IsEndOfData(s)) start = last + 1;
      else return s;
      break;
    }
    case DeliverPolicy::kLastPerSubject: {
      state_.last_per_subject_until = last;
      uint64_t lowest = last + 1;
      stream_->ForEachSubject([&](std::string_view subject, uint64_t last_of_subject) {
        if (AnyFilterMatches(config_.filter_subjects, subject)) lowest = std::min(lowest, last_of_subject);
      });
      start = std::max(lowest, start);
      break;
    }
  }
  (void)now_ns;
  state_.delivered_stream_seq = start - 1;
  dirty_ = true;
  return PositionReader();
}

absl::Status Consumer::Resume(ConsumerState state) {
  state_ = std::move(state);
  engine::Log& log = stream_->log();
  const uint64_t last = log.last_seq();
  if (state_.delivered_stream_seq > last) {
    // The log lost its tail (power loss under sync=interval/never) after the
    // consumer had seen it: resume at the log's end. Sequences past it will
    // be reused by new messages, which this consumer must deliver.
    stream_->Report(absl::StrCat("consumer ", config_.name, " had delivered up to sequence ",
                                 state_.delivered_stream_seq, " but the log ends at ", last,
                                 "; resuming from the log's end"));
    state_.pending.RemoveAbove(last);
    state_.delivered_stream_seq = last;
    dirty_ = true;
  }
  // Messages that retention removed are no longer pending.
  if (state_.pending.RemoveUpTo(log.first_seq() - 1) > 0) dirty_ = true;
  RecomputeDeadline();
  return PositionReader();
}

absl::Status Consumer::PositionReader() {
  if (reader_ == nullptr) {
    absl::StatusOr<std::unique_ptr<engine::Reader>> r = engine::Reader::Open(stream_->dir());
    if (!r.ok()) return r.status();
    reader_ = std::move(*r);
  }
  return stream_->Seek(reader_.get(), state_.delivered_stream_seq + 1);
}

bool Consumer::Finished(uint64_t seq, std::string_view subject) const {
  if (!AnyFilterMatches(config_.filter_subjects, subject)) return true;
  return seq <= state_.delivered_stream_seq && !state_.pending.Contains(seq);
}

bool Consumer::Wanted(const engine::Record& rec) const {
  if (stream_->IsDeleted(rec.sequence)) return false;
  if (!AnyFilterMatches(config_.filter_subjects, rec.subject)) return false;
  if (rec.sequence <= state_.last_per_subject_until && stream_->LastSequenceOf(rec.subject) != rec.sequence) {
    return false;
  }
  return true;
}

void Consumer::RecomputeDeadline() {
  int64_t d = INT64_MAX;
  state_.pending.ForEach([&](const PendingMessage& p) { d = std::min(d, p.deadline_ns); });
  next_deadline_ = d;
}

uint64_t Consumer::UnexaminedUpperBound() const {
  const uint64_t last = stream_->log().last_seq();
  return last > state_.delivered_stream_seq ? last - state_.delivered_stream_seq : 0;
}

absl::StatusOr<bool> Consumer::NextRedelivery(int64_t now_ns, Delivery* out) {
  const uint64_t first = stream_->log().first_seq();
  PendingMessage* due = nullptr;
  std::vector<uint64_t> gone;  // rare: given up or no longer in the stream
  state_.pending.ForEach([&](PendingMessage& p) {
    if (due != nullptr || p.deadline_ns > now_ns) return;
    const bool exhausted = config_.max_deliver > 0 && p.deliveries >= static_cast<uint64_t>(config_.max_deliver);
    if (exhausted || p.stream_seq < first || stream_->IsDeleted(p.stream_seq)) {
      gone.push_back(p.stream_seq);
      if (exhausted) ++num_max_delivered_;
      return;
    }
    due = &p;
  });
  if (due == nullptr) {
    for (uint64_t seq : gone) state_.pending.Remove(seq);
    if (!gone.empty()) dirty_ = true;
    RecomputeDeadline();
    return false;
  }
  const uint64_t seq = due->stream_seq;
  if (redeliverer_ == nullptr) {
    absl::StatusOr<std::unique_ptr<engine::Reader>> r = engine::Reader::Open(stream_->dir());
    if (!r.ok()) return r.status();
    redeliverer_ = std::move(*r);
  }
  if (absl::Status s = stream_->Seek(redeliverer_.get(), seq); !s.ok()) return s;
  absl::Status s = redeliverer_->Next(&out->record);
  if (s.ok() && out->record.sequence != seq) s = absl::NotFoundError("gone");
  if (!s.ok()) {
    // Unreadable (damaged, or removed under us): give it up rather than loop on it.
    stream_->Report(absl::StrCat("consumer ", config_.name, ": pending message ", seq,
                                 " can not be read for redelivery: ", s.message()));
    gone.push_back(seq);
    for (uint64_t g : gone) state_.pending.Remove(g);
    dirty_ = true;
    RecomputeDeadline();
    return NextRedelivery(now_ns, out);
  }
  due->deliveries++;
  due->deadline_ns = now_ns + absl::ToInt64Nanoseconds(config_.ack_wait);
  out->consumer_seq = ++state_.delivered_consumer_seq;
  out->deliveries = due->deliveries;
  out->num_pending = UnexaminedUpperBound();
  for (uint64_t g : gone) state_.pending.Remove(g);
  dirty_ = true;
  RecomputeDeadline();
  return true;
}

absl::StatusOr<bool> Consumer::Next(int64_t now_ns, Delivery* out) {
  if (config_.ack_policy != AckPolicy::kNone && now_ns >= next_deadline_) {
    absl::StatusOr<bool> r = NextRedelivery(now_ns, out);
    if (!r.ok() || *r) return r;
  }
  if (config_.max_ack_pending > 0 && state_.pending.size() >= static_cast<uint64_t>(config_.max_ack_pending)) {
    return false;
  }
  while (true) {
    absl::Status s = reader_->Next(&out->record);
    if (engine::IsEndOfData(s)) return false;
    if (absl::IsDataLoss(s)) {
      stream_->Report(absl::StrCat("consumer ", config_.name, ": ", s.message()));
      continue;  // the reader moved past the damage
    }
    if (!s.ok()) return s;
    const engine::Record& rec = out->record;
    if (rec.sequence <= state_.delivered_stream_seq) continue;  // a reused tail already passed (cannot happen after Resume)
    state_.delivered_stream_seq = rec.sequence;
    dirty_ = true;
    if (!Wanted(rec)) continue;
    out->consumer_seq = ++state_.delivered_consumer_seq;
    out->deliveries = 1;
    if (config_.ack_policy != AckPolicy::kNone) {
      const int64_t deadline = now_ns + absl::ToInt64Nanoseconds(config_.ack_wait);
      state_.pending.Add(PendingMessage{rec.sequence, out->consumer_seq, 1, deadline});
      next_deadline_ = std::min(next_deadline_, deadline);
    }
    out->num_pending = UnexaminedUpperBound();
    return true;
  }
}

absl::Status Consumer::Undo(const Delivery& d, int64_t now_ns) {
  if (d.consumer_seq != state_.delivered_consumer_seq || d.consumer_seq == 0) {
    return absl::FailedPreconditionError("only the last delivery can be taken back");
  }
  const uint64_t seq = d.record.sequence;
  --state_.delivered_consumer_seq;
  dirty_ = true;
  if (d.deliveries > 1) {
    PendingMessage* p = state_.pending.Find(seq);
    if (p != nullptr) {
      p->deliveries--;
      p->deadline_ns = now_ns;  // due again at once
      next_deadline_ = std::min(next_deadline_, now_ns);
    }
    return absl::OkStatus();
  }
  if (config_.ack_policy != AckPolicy::kNone) state_.pending.Remove(seq);
  RecomputeDeadline();
  state_.delivered_stream_seq = seq - 1;
  return stream_->Seek(reader_.get(), seq);
}

absl::Status Consumer::Ack(uint64_t stream_seq) {
  if (config_.ack_policy == AckPolicy::kAll) {
    if (state_.pending.RemoveUpTo(stream_seq) == 0) {
      return absl::NotFoundError(absl::StrCat("sequence ", stream_seq, " is not pending"));
    }
  } else if (!state_.pending.Remove(stream_seq)) {
    return absl::NotFoundError(absl::StrCat("sequence ", stream_seq, " is not pending"));
  }
  dirty_ = true;
  return absl::OkStatus();
}

absl::Status Consumer::Nak(uint64_t stream_seq, absl::Duration delay, int64_t now_ns) {
  PendingMessage* p = state_.pending.Find(stream_seq);
  if (p == nullptr) return absl::NotFoundError(absl::StrCat("sequence ", stream_seq, " is not pending"));
  p->deadline_ns = now_ns + std::max<int64_t>(0, absl::ToInt64Nanoseconds(delay));
  next_deadline_ = std::min(next_deadline_, p->deadline_ns);
  dirty_ = true;
  return absl::OkStatus();
}

absl::Status Consumer::InProgress(uint64_t stream_seq, int64_t now_ns) {
  PendingMessage* p = state_.pending.Find(stream_seq);
  if (p == nullptr) return absl::NotFoundError(absl::StrCat("sequence ", stream_seq, " is not pending"));
  const bool was_earliest = p->deadline_ns == next_deadline_;
  p->deadline_ns = now_ns + absl::ToInt64Nanoseconds(config_.ack_wait);
  if (was_earliest) RecomputeDeadline();
  dirty_ = true;
  return absl::OkStatus();
}

absl::Status Consumer::Term(uint64_t stream_seq) {
  if (!state_.pending.Remove(stream_seq)) {
    return absl::NotFoundError(absl::StrCat("sequence ", stream_seq, " is not pending"));
  }
  dirty_ = true;
  return absl::OkStatus();
}

absl::Status Consumer::Commit(bool sync) {
  if (dirty_) {
    encode_buf_.clear();
    EncodeConsumerState(state_, &encode_buf_);
    const std::string key = StateKey();
    absl::Status s = env_->Write([&](MDB_txn* txn) {
      MDB_val k = ValOf(key), v = ValOf(encode_buf_);
      return LmdbStatus(mdb_put(txn, env_->db(kConsumerStateDb), &k, &v, 0), "write consumer state");
    });
    if (!s.ok()) return s;
    dirty_ = false;
  }
  return sync ? env_->Sync() : absl::OkStatus();
}

absl::StatusOr<ConsumerInfo> Consumer::Info() {
  ConsumerInfo info;
  info.stream = stream_->entry().config.name;
  info.config = config_;
  info.delivered_stream_seq = state_.delivered_stream_seq;
  info.delivered_consumer_seq = state_.delivered_consumer_seq;
  if (const PendingMessage* f = state_.pending.front(); f != nullptr) {
    info.ack_floor_stream_seq = f->stream_seq - 1;
    info.ack_floor_consumer_seq = f->consumer_seq - 1;
  } else {
    info.ack_floor_stream_seq = state_.delivered_stream_seq;
    info.ack_floor_consumer_seq = state_.delivered_consumer_seq;
  }
  info.num_ack_pending = state_.pending.size();
  state_.pending.ForEach([&](const PendingMessage& p) { info.num_redelivered += p.deliveries > 1 ? 1 : 0; });
  info.num_max_delivered = num_max_delivered_;
  const uint64_t last = stream_->log().last_seq();
  const uint64_t from = std::max(state_.delivered_stream_seq + 1, stream_->log().first_seq());
  if (from <= last) {
    const bool scan = !config_.filter_subjects.empty() || state_.last_per_subject_until >= from;
    if (!scan) {
      info.num_pending = last - from + 1 - stream_->DeletedIn(from, last);
    } else {
      absl::StatusOr<std::unique_ptr<engine::Reader>> r = engine::Reader::Open(stream_->dir());
      if (!r.ok()) return r.status();
      if (absl::Status s = stream_->Seek(r->get(), from); !s.ok()) return s;
      engine::Record rec;
      while (true) {
        absl::Status s = (*r)->Next(&rec);
        if (engine::IsEndOfData(s)) break;
        if (absl::IsDataLoss(s)) continue;
        if (!s.ok()) return s;
        if (rec.sequence > last) break;
        if (Wanted(rec)) ++info.num_pending;
      }
    }
  }
  return info;
}

}  // namespace shortbus::index
