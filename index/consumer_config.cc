#include "index/consumer_config.h"

#include "absl/strings/str_cat.h"
#include "index/catalog.h"
#include "index/value_codec.h"

namespace shortbus::index {
namespace {

// 1: without metadata; 2: metadata after the filter subjects. Both are read.
constexpr uint8_t kConsumerConfigVersion = 2;

}  // namespace

bool ConsumerConfig::operator==(const ConsumerConfig& o) const {
  return name == o.name && description == o.description && filter_subjects == o.filter_subjects &&
         deliver_policy == o.deliver_policy && opt_start_seq == o.opt_start_seq &&
         opt_start_time_ns == o.opt_start_time_ns && ack_policy == o.ack_policy && ack_wait == o.ack_wait &&
         max_deliver == o.max_deliver && max_ack_pending == o.max_ack_pending &&
         deliver_subject == o.deliver_subject && deliver_group == o.deliver_group &&
         idle_heartbeat == o.idle_heartbeat && flow_control == o.flow_control && metadata == o.metadata;
}

absl::Status ValidateConsumerConfig(const ConsumerConfig& c) {
  if (absl::Status s = ValidateStreamName(c.name); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("consumer name must be 1 to 64 letters, digits, '-' or '_': '",
                                                   c.name, "'"));
  }
  for (const std::string& f : c.filter_subjects) {
    if (f.empty()) return absl::InvalidArgumentError("consumer filter subject is empty");
  }
  if (c.deliver_policy == DeliverPolicy::kByStartSequence && c.opt_start_seq == 0) {
    return absl::InvalidArgumentError("deliver policy by_start_sequence needs opt_start_seq >= 1");
  }
  if (c.deliver_policy != DeliverPolicy::kByStartSequence && c.opt_start_seq != 0) {
    return absl::InvalidArgumentError("opt_start_seq is only for deliver policy by_start_sequence");
  }
  if (c.deliver_policy != DeliverPolicy::kByStartTime && c.opt_start_time_ns != 0) {
    return absl::InvalidArgumentError("opt_start_time is only for deliver policy by_start_time");
  }
  if (c.ack_wait <= absl::ZeroDuration()) return absl::InvalidArgumentError("ack_wait must be positive");
  if (c.max_deliver == 0 || c.max_deliver < -1) {
    return absl::InvalidArgumentError("max_deliver must be -1 (unlimited) or at least 1");
  }
  if (c.max_ack_pending == 0 || c.max_ack_pending < -1) {
    return absl::InvalidArgumentError("max_ack_pending must be -1 (unlimited) or at least 1");
  }
  if (c.idle_heartbeat < absl::ZeroDuration()) return absl::InvalidArgumentError("idle_heartbeat is negative");
  return absl::OkStatus();
}

absl::Status ValidateConsumerUpdate(const ConsumerConfig& current, const ConsumerConfig& next) {
  if (absl::Status s = ValidateConsumerConfig(next); !s.ok()) return s;
  if (current.deliver_policy != next.deliver_policy || current.opt_start_seq != next.opt_start_seq ||
      current.opt_start_time_ns != next.opt_start_time_ns) {
    return absl::InvalidArgumentError("deliver policy and start position of a consumer can not be updated");
  }
  if (current.ack_policy != next.ack_policy) {
    return absl::InvalidArgumentError("ack policy of a consumer can not be updated");
  }
  return absl::OkStatus();
}

// Layout (little-endian): u8 version, u8 deliver_policy, u8 ack_policy,
// u8 flow_control, u64 opt_start_seq, i64 opt_start_time_ns, i64 ack_wait_ns,
// i64 max_deliver, i64 max_ack_pending, i64 idle_heartbeat_ns, then
// length-prefixed description, deliver_subject, deliver_group, u32 count
// and the length-prefixed filter subjects, then (version 2) the
// length-prefixed metadata.
std::string EncodeConsumerConfig(const ConsumerConfig& c) {
  std::string s;
  Put8(&s, kConsumerConfigVersion);
  Put8(&s, static_cast<uint8_t>(c.deliver_policy));
  Put8(&s, static_cast<uint8_t>(c.ack_policy));
  Put8(&s, c.flow_control ? 1 : 0);
  Put64(&s, c.opt_start_seq);
  Put64(&s, static_cast<uint64_t>(c.opt_start_time_ns));
  Put64(&s, static_cast<uint64_t>(absl::ToInt64Nanoseconds(c.ack_wait)));
  Put64(&s, static_cast<uint64_t>(c.max_deliver));
  Put64(&s, static_cast<uint64_t>(c.max_ack_pending));
  Put64(&s, static_cast<uint64_t>(absl::ToInt64Nanoseconds(c.idle_heartbeat)));
  PutBytes(&s, c.description);
  PutBytes(&s, c.deliver_subject);
  PutBytes(&s, c.deliver_group);
  Put32(&s, static_cast<uint32_t>(c.filter_subjects.size()));
  for (const std::string& f : c.filter_subjects) PutBytes(&s, f);
  PutBytes(&s, c.metadata);
  return s;
}

absl::StatusOr<ConsumerConfig> DecodeConsumerConfig(std::string_view name, std::string_view bytes) {
  ValueReader r(bytes);
  ConsumerConfig c;
  c.name = std::string(name);
  const uint8_t version = r.U8();
  if (version != 1 && version != kConsumerConfigVersion) {
    return absl::DataLossError(absl::StrCat("consumer ", c.name, ": unknown configuration version"));
  }
  const uint8_t deliver = r.U8(), ack = r.U8(), flow = r.U8();
  c.opt_start_seq = r.U64();
  c.opt_start_time_ns = r.I64();
  c.ack_wait = absl::Nanoseconds(r.I64());
  c.max_deliver = r.I64();
  c.max_ack_pending = r.I64();
  c.idle_heartbeat = absl::Nanoseconds(r.I64());
  c.description = r.LengthPrefixed();
  c.deliver_subject = r.LengthPrefixed();
  c.deliver_group = r.LengthPrefixed();
  const uint32_t n = r.U32();
  for (uint32_t i = 0; i < n && r.ok(); ++i) c.filter_subjects.push_back(r.LengthPrefixed());
  if (version >= 2) c.metadata = r.LengthPrefixed();
  if (!r.ok() || !r.done() || deliver > 5 || ack > 2 || flow > 1) {
    return absl::DataLossError(absl::StrCat("consumer ", c.name, ": configuration record is malformed"));
  }
  c.deliver_policy = static_cast<DeliverPolicy>(deliver);
  c.ack_policy = static_cast<AckPolicy>(ack);
  c.flow_control = flow == 1;
  return c;
}

}  // namespace shortbus::index
