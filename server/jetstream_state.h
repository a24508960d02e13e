// The runtime state of streams and consumers behind JetStream (private to
// jetstream*.cc).
#ifndef SHORTBUS_SERVER_JETSTREAM_STATE_H_
#define SHORTBUS_SERVER_JETSTREAM_STATE_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/reader.h"
#include "index/consumer.h"
#include "index/store.h"
#include "index/subject_hash.h"
#include "server/jetstream.h"
#include "server/js_config.h"
#include "server/subscription.h"

namespace shortbus::server {

// One waiting pull request (CONSUMER.MSG.NEXT, or +NXT).
struct JetStream::PullRequest {
  std::string reply;
  int64_t batch = 1;          // messages still wanted
  int64_t max_bytes = 0;      // bytes still allowed; 0: no limit
  bool limit_bytes = false;
  int64_t deadline_ns = 0;    // 0: waits until filled
  bool no_wait = false;
  int64_t heartbeat_ns = 0;   // 0: none
  int64_t next_heartbeat_ns = 0;
  int64_t delivered = 0;      // messages sent to it so far
};

struct JetStream::Consumer {
  Stream* stream = nullptr;
  index::Consumer* consumer = nullptr;  // owned by the StoredStream
  JsConsumerConfig config;
  std::deque<PullRequest> waiting;
  uint64_t timer = 0;        // JsHost timer id; 0: none
  int64_t timer_at = 0;      // when it fires
  bool dirty = false;        // state changed since the last commit
  int64_t last_active_ns = 0;  // last delivery, request or interest (ephemerals)
  // Push: flow control. After kFlowControlBytes delivered, a request is
  // sent and delivery pauses once kFlowControlBytes more are out unanswered.
  uint64_t bytes_since_fc = 0;
  std::string fc_subject;    // outstanding flow control request; empty: none
  int64_t next_push_heartbeat_ns = 0;
  // Matching messages not yet delivered, exact: taken from Info() when
  // unknown (start, after deletions and purges), then kept by counting
  // appends that match and first deliveries. The ack subject carries it.
  uint64_t num_pending = 0;
  bool num_pending_known = false;
  uint64_t last_stream_seq = 0;    // of the last delivery (heartbeat headers)
  uint64_t last_consumer_seq = 0;
  bool push() const { return !config.base.deliver_subject.empty(); }
};

struct JetStream::Stream {
  uint64_t id = 0;
  index::StoredStream* stored = nullptr;
  JsStreamConfig config;
  std::vector<std::unique_ptr<Subscription>> capture;  // entries in JetStream::capture_
  std::unique_ptr<engine::Reader> reader;             // MSG.GET, info, replays
  std::map<std::string, std::unique_ptr<Consumer>> consumers;
  // Nats-Msg-Id de-duplication: id -> (sequence, time), and ids in order of
  // time for expiry. Rebuilt at start from the last duplicate_window of log.
  absl::flat_hash_map<std::string, std::pair<uint64_t, int64_t>> msg_ids;
  std::deque<std::pair<int64_t, std::string>> msg_id_order;
  std::string last_msg_id;  // of the last stored message ("" when it had none)
  // Publish acknowledgements owed under sync=always, in sequence order; the
  // reply subjects live in reply_arena (cleared whenever the queue empties,
  // and its answered prefix dropped once it is at least kArenaCompactAt
  // bytes and half of it: the arena stays within twice what is owed).
  static constexpr uint32_t kArenaCompactAt = 64 * 1024;
  struct OwedAck {
    uint64_t seq;
    uint32_t reply_off;
    uint32_t reply_len;
    bool duplicate;
  };
  std::deque<OwedAck> owed;
  std::string reply_arena;
  bool sync_wanted = false;  // in JetStream::sync_wanted_ (sync=always)
  // Appends of this turn not yet offered to the consumers: under
  // sync=always they are staged, and are delivered once written at the
  // end of the turn (JetStream::RequestSyncs), one write for the turn.
  bool deliver_owed = false;
  // max_msgs_per_subject > 0: each subject's sequences, oldest first
  // (jetstream.cc, EnforcePerSubject).
  absl::flat_hash_map<std::string, std::deque<uint64_t>, index::SubjectHash, index::SubjectEq> per_subject;
  bool per_subject_loaded = false;
  std::vector<uint64_t> to_delete;  // acknowledged in a work queue, not yet committed
};

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_JETSTREAM_STATE_H_
