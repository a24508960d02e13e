#include "index/consumer_state.h"

#include <algorithm>

#include "index/value_codec.h"

namespace shortbus::index {
namespace {

constexpr uint8_t kConsumerStateVersion = 1;

}  // namespace

void PendingSet::Add(const PendingMessage& m) {
  v_.push_back(m);
  ++live_;
}

size_t PendingSet::IndexOf(uint64_t stream_seq) const {
  auto it = std::lower_bound(v_.begin() + static_cast<ptrdiff_t>(head_), v_.end(), stream_seq,
                             [](const PendingMessage& p, uint64_t s) { return p.stream_seq < s; });
  if (it == v_.end() || it->stream_seq != stream_seq || it->deliveries == 0) return v_.size();
  return static_cast<size_t>(it - v_.begin());
}

PendingMessage* PendingSet::Find(uint64_t stream_seq) {
  const size_t i = IndexOf(stream_seq);
  return i == v_.size() ? nullptr : &v_[i];
}

bool PendingSet::Remove(uint64_t stream_seq) {
  const size_t i = IndexOf(stream_seq);
  if (i == v_.size()) return false;
  v_[i].deliveries = 0;
  --live_;
  TrimFront();
  return true;
}

size_t PendingSet::RemoveUpTo(uint64_t seq) {
  size_t n = 0;
  for (size_t i = head_; i < v_.size() && v_[i].stream_seq <= seq; ++i) {
    if (v_[i].deliveries != 0) {
      v_[i].deliveries = 0;
      ++n;
    }
  }
  live_ -= n;
  TrimFront();
  return n;
}

size_t PendingSet::RemoveAbove(uint64_t seq) {
  size_t n = 0;
  while (v_.size() > head_ && v_.back().stream_seq > seq) {
    if (v_.back().deliveries != 0) ++n;
    v_.pop_back();
  }
  live_ -= n;
  TrimFront();
  return n;
}

const PendingMessage* PendingSet::front() const { return live_ == 0 ? nullptr : &v_[head_]; }

void PendingSet::TrimFront() {
  while (head_ < v_.size() && v_[head_].deliveries == 0) ++head_;
  if (head_ == v_.size()) {
    v_.clear();  // keeps capacity
    head_ = 0;
  } else if (head_ >= 64 && head_ * 2 >= v_.size()) {
    v_.erase(v_.begin(), v_.begin() + static_cast<ptrdiff_t>(head_));
    head_ = 0;
  }
}

void EncodeConsumerState(const ConsumerState& state, std::string* out) {
  Put8(out, kConsumerStateVersion);
  Put64(out, state.delivered_stream_seq);
  Put64(out, state.delivered_consumer_seq);
  Put64(out, state.last_per_subject_until);
  Put32(out, static_cast<uint32_t>(state.pending.size()));
  state.pending.ForEach([&](const PendingMessage& p) {
    Put64(out, p.stream_seq);
    Put64(out, p.consumer_seq);
    Put32(out, p.deliveries);
    Put64(out, static_cast<uint64_t>(p.deadline_ns));
  });
}

absl::Status DecodeConsumerState(std::string_view bytes, ConsumerState* state) {
  ValueReader r(bytes);
  *state = ConsumerState();
  if (r.U8() != kConsumerStateVersion) return absl::DataLossError("consumer state: unknown version");
  state->delivered_stream_seq = r.U64();
  state->delivered_consumer_seq = r.U64();
  state->last_per_subject_until = r.U64();
  const uint32_t n = r.U32();
  uint64_t prev = 0;
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    PendingMessage p;
    p.stream_seq = r.U64();
    p.consumer_seq = r.U64();
    p.deliveries = r.U32();
    p.deadline_ns = r.I64();
    if (p.stream_seq <= prev || p.deliveries == 0 || p.stream_seq > state->delivered_stream_seq) {
      return absl::DataLossError("consumer state: pending list out of order");
    }
    prev = p.stream_seq;
    state->pending.Add(p);
  }
  if (!r.ok() || !r.done()) return absl::DataLossError("consumer state: malformed record");
  return absl::OkStatus();
}

}  // namespace shortbus::index
