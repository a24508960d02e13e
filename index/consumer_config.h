// What a durable consumer is: its configuration, as the consumer databases
// store it (docs/format.md, "consumers").
#ifndef SHORTBUS_INDEX_CONSUMER_CONFIG_H_
#define SHORTBUS_INDEX_CONSUMER_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace shortbus::index {

// Where a new consumer starts (JetStream's deliver policies).
enum class DeliverPolicy : uint8_t {
  kAll = 0,              // from the first message
  kLast = 1,             // from the last message at creation
  kNew = 2,              // only messages appended after creation
  kByStartSequence = 3,  // from opt_start_seq
  kByStartTime = 4,      // from the first message at or after opt_start_time_ns
  kLastPerSubject = 5,   // the last message of each subject at creation, then new ones
};

enum class AckPolicy : uint8_t {
  kNone = 0,      // delivered = done; nothing pending
  kAll = 1,       // an ack of sequence S acknowledges every pending message <= S
  kExplicit = 2,  // each message is acknowledged on its own
};

struct ConsumerConfig {
  std::string name;  // [A-Za-z0-9_-]{1,64}, unique within its stream
  std::string description;
  std::vector<std::string> filter_subjects;  // empty: every subject of the stream
  DeliverPolicy deliver_policy = DeliverPolicy::kAll;
  uint64_t opt_start_seq = 0;      // kByStartSequence
  int64_t opt_start_time_ns = 0;   // kByStartTime
  AckPolicy ack_policy = AckPolicy::kExplicit;
  absl::Duration ack_wait = absl::Seconds(30);
  int64_t max_deliver = -1;        // deliveries of one message; -1: unlimited
  int64_t max_ack_pending = 1000;  // unacknowledged messages at once; -1: unlimited
  // Push consumers (the server delivers to this subject); empty for pull.
  std::string deliver_subject;
  std::string deliver_group;
  absl::Duration idle_heartbeat = absl::ZeroDuration();
  bool flow_control = false;
  // Opaque to the index: what the server keeps about the consumer beyond
  // the fields above (its JetStream configuration, as JSON).
  std::string metadata;

  bool operator==(const ConsumerConfig& o) const;
};

// InvalidArgument naming the field for a configuration that cannot work.
absl::Status ValidateConsumerConfig(const ConsumerConfig& c);
// InvalidArgument when `next` changes what an existing consumer cannot
// change (its start: deliver policy and start position).
absl::Status ValidateConsumerUpdate(const ConsumerConfig& current, const ConsumerConfig& next);

std::string EncodeConsumerConfig(const ConsumerConfig& c);
absl::StatusOr<ConsumerConfig> DecodeConsumerConfig(std::string_view name, std::string_view bytes);

}  // namespace shortbus::index

#endif  // SHORTBUS_INDEX_CONSUMER_CONFIG_H_
