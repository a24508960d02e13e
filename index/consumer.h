// A durable consumer of a stream: where it is, what it waits on, and the
// deliver / acknowledge cycle (JetStream's semantics, docs/architecture.md
// "Consumers").
//
// Delivery order: a pending message whose ack deadline has passed is
// redelivered first (lowest sequence first); otherwise the next message of
// the stream after the consumer's position that passes its filter, is not
// deleted, and (deliver policy last_per_subject, up to the sequence that
// was last at creation) is the last of its subject. Nothing new is
// delivered while max_ack_pending messages are unacknowledged.
// Delivery reads what is committed in the log (visible to readers), durable
// or not, as NATS does; a consumer whose state points past the log after a
// power loss is moved back to the log's end at open, and that is reported.
//
// Acknowledgements change memory only; Commit() writes the state in one
// LMDB transaction (and syncs it when asked). An acknowledgement is
// confirmed once a Commit(true) after it returned OK, or once the index
// environment was synced after a Commit(false): from then on a crash never
// moves the consumer back before it.
//
// Threading: not thread-safe. Every call on a consumer, and on its stream's
// consumer methods, runs on the thread that appends to the stream (the
// store thread of the server); LastSequenceOf is read from there too.
#ifndef SHORTBUS_INDEX_CONSUMER_H_
#define SHORTBUS_INDEX_CONSUMER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/reader.h"
#include "engine/record.h"
#include "index/consumer_config.h"
#include "index/consumer_state.h"
#include "index/lmdb_env.h"

namespace shortbus::index {

class StoredStream;

inline constexpr char kConsumersDb[] = "consumers";
inline constexpr char kConsumerStateDb[] = "consumer_state";

struct Delivery {
  engine::Record record;      // views valid until the next call on the consumer
  uint64_t consumer_seq = 0;  // this delivery's number
  uint32_t deliveries = 0;    // 1 the first time, more on redelivery
  // Messages after this one still to deliver (exact without a filter; with
  // one, an upper bound: messages not yet examined).
  uint64_t num_pending = 0;
};

struct ConsumerInfo {
  std::string stream;
  ConsumerConfig config;
  uint64_t delivered_stream_seq = 0, delivered_consumer_seq = 0;
  uint64_t ack_floor_stream_seq = 0, ack_floor_consumer_seq = 0;
  uint64_t num_ack_pending = 0;   // delivered, not acknowledged
  uint64_t num_redelivered = 0;   // pending messages delivered more than once
  uint64_t num_pending = 0;       // matching messages not yet delivered (exact)
  uint64_t num_max_delivered = 0; // messages given up after max_deliver (since open)
};

class Consumer {
 public:
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  const ConsumerConfig& config() const { return config_; }
  const std::string& name() const { return config_.name; }

  // Fills *out with the next message to deliver and returns true; false
  // when there is none now (caught up, or max_ack_pending reached).
  absl::StatusOr<bool> Next(int64_t now_ns, Delivery* out);

  // Takes back the delivery Next just made (`d`, which was not sent): the
  // message is next again, with its delivery count and the consumer
  // sequence as before. FailedPrecondition when `d` is not the last one.
  absl::Status Undo(const Delivery& d, int64_t now_ns);

  // NotFound when `stream_seq` is not pending (acknowledged already, never
  // delivered, or ack policy none). Ack policy all: acknowledges every
  // pending message up to stream_seq.
  absl::Status Ack(uint64_t stream_seq);
  // Redeliver after `delay` (zero: as soon as asked).
  absl::Status Nak(uint64_t stream_seq, absl::Duration delay, int64_t now_ns);
  // Still working on it: the ack deadline restarts from now.
  absl::Status InProgress(uint64_t stream_seq, int64_t now_ns);
  // Never redeliver; counts as done.
  absl::Status Term(uint64_t stream_seq);

  // Writes the state when it changed since the last commit; `sync` makes
  // the commit durable before returning.
  absl::Status Commit(bool sync);
  bool dirty() const { return dirty_; }

  // Whether the consumer is done with message `seq` on `subject`: its
  // filter does not want it, or it was delivered and is no longer pending
  // (acknowledged, terminated, given up, or ack policy none). Interest
  // retention removes a message once every consumer is done with it.
  bool Finished(uint64_t seq, std::string_view subject) const;
  uint64_t delivered_stream_seq() const { return state_.delivered_stream_seq; }
  uint64_t delivered_consumer_seq() const { return state_.delivered_consumer_seq; }
  size_t num_ack_pending() const { return state_.pending.size(); }

  // Earliest ack deadline of a pending message (INT64_MAX: none), for the
  // server's redelivery timer.
  int64_t next_deadline() const { return next_deadline_; }

  // Counts what is still to deliver exactly, reading the rest of the
  // stream when a filter is set.
  absl::StatusOr<ConsumerInfo> Info();

 private:
  friend class StoredStream;
  friend class Store;
  Consumer(StoredStream* stream, LmdbEnv* env, uint32_t stream_no, ConsumerConfig config);
  // New consumer: the start position from the deliver policy.
  absl::Status Start(int64_t now_ns);
  // Loaded consumer: repairs a state that points past the log or below it.
  absl::Status Resume(ConsumerState state);
  absl::Status PositionReader();
  bool Wanted(const engine::Record& rec) const;
  absl::StatusOr<bool> NextRedelivery(int64_t now_ns, Delivery* out);
  void RecomputeDeadline();
  uint64_t UnexaminedUpperBound() const;
  std::string StateKey() const;

  StoredStream* const stream_;
  LmdbEnv* const env_;
  const uint32_t stream_no_;
  ConsumerConfig config_;
  ConsumerState state_;
  std::unique_ptr<engine::Reader> reader_;       // reads forward from the position
  std::unique_ptr<engine::Reader> redeliverer_;  // seeks to pending messages
  int64_t next_deadline_ = INT64_MAX;
  uint64_t num_max_delivered_ = 0;
  bool dirty_ = false;
  std::string encode_buf_;  // reused by Commit
};

}  // namespace shortbus::index

#endif  // SHORTBUS_INDEX_CONSUMER_H_
