// A durable consumer's position: what it has delivered and what is still
// waiting for an acknowledgement. The source of truth for consumer
// positions is the "consumer_state" database (docs/format.md).
#ifndef SHORTBUS_INDEX_CONSUMER_STATE_H_
#define SHORTBUS_INDEX_CONSUMER_STATE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace shortbus::index {

struct PendingMessage {
  uint64_t stream_seq = 0;
  uint64_t consumer_seq = 0;  // of the first delivery (ack floors are counted in these)
  uint32_t deliveries = 0;    // 0 marks a removed slot inside PendingSet
  int64_t deadline_ns = 0;    // redelivered when the wall clock passes this
};

// Delivered, unacknowledged messages in stream order. New deliveries come
// in increasing stream sequence, so this is a sorted vector: Find is a
// binary search, Add an append, Remove marks the slot and the front is
// trimmed as it empties. No allocation once the vector has grown to the
// consumer's max_ack_pending.
class PendingSet {
 public:
  // REQUIRES: m.stream_seq greater than any added before.
  void Add(const PendingMessage& m);
  PendingMessage* Find(uint64_t stream_seq);
  bool Contains(uint64_t stream_seq) const { return IndexOf(stream_seq) != v_.size(); }
  bool Remove(uint64_t stream_seq);
  // Removes every message with stream_seq <= `seq`; returns how many.
  size_t RemoveUpTo(uint64_t seq);
  // Removes every message with stream_seq > `seq`; returns how many.
  size_t RemoveAbove(uint64_t seq);
  size_t size() const { return live_; }
  bool empty() const { return live_ == 0; }
  const PendingMessage* front() const;  // lowest stream sequence; nullptr when empty

  template <typename Fn>  // fn(PendingMessage&) over live entries in stream order
  void ForEach(Fn fn) {
    for (size_t i = head_; i < v_.size(); ++i) {
      if (v_[i].deliveries != 0) fn(v_[i]);
    }
  }
  template <typename Fn>
  void ForEach(Fn fn) const {
    for (size_t i = head_; i < v_.size(); ++i) {
      if (v_[i].deliveries != 0) fn(v_[i]);
    }
  }

 private:
  size_t IndexOf(uint64_t stream_seq) const;  // v_.size() when absent
  void TrimFront();

  std::vector<PendingMessage> v_;
  size_t head_ = 0;  // slots before head_ are dead
  size_t live_ = 0;
};

struct ConsumerState {
  // Highest stream sequence the consumer has passed: delivered, or skipped
  // as not matching its filter. Reading resumes after it.
  uint64_t delivered_stream_seq = 0;
  uint64_t delivered_consumer_seq = 0;  // deliveries made, redeliveries included
  // Deliver policy last_per_subject: messages up to this sequence are
  // delivered only when they are the last of their subject.
  uint64_t last_per_subject_until = 0;
  PendingSet pending;
};

// Value layout (little-endian): u8 version (1), u64 delivered_stream_seq,
// u64 delivered_consumer_seq, u64 last_per_subject_until, u32 count, then
// per pending message u64 stream_seq, u64 consumer_seq, u32 deliveries,
// i64 deadline_ns (28 bytes), in stream order. Appends to *out.
void EncodeConsumerState(const ConsumerState& state, std::string* out);
absl::Status DecodeConsumerState(std::string_view bytes, ConsumerState* state);

}  // namespace shortbus::index

#endif  // SHORTBUS_INDEX_CONSUMER_STATE_H_
