#include "server/js_config.h"

#include <limits>

#include "server/js_time.h"
#include "server/subject.h"

namespace shortbus::server {
namespace {

// Reads an optional field of the expected JSON type; a wrong type is a bad
// request naming the field.
template <typename T>
bool Field(const Json& j, const char* key, T* out, JsError* err) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  try {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      *out = GetInt<T>(*it);
    } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
      if (!it->is_array()) throw Json::type_error::create(302, "not an array", &*it);
      out->clear();
      for (const Json& e : *it) out->push_back(GetInt<int64_t>(e));
    } else {
      *out = it->get<T>();
    }
    return true;
  } catch (const Json::exception&) {
    *err = JsBadRequest(absl::StrCat("invalid value of field ", key));
    return false;
  }
}

// The longest subject a stream stores (engine/frame.h: a u16 length).
constexpr int64_t kMaxSubjectBytes = 65535;

// -1 and 0 both mean "no limit" in the API; the engine's is 0.
uint64_t Limit(int64_t v) { return v > 0 ? static_cast<uint64_t>(v) : 0; }
int64_t ApiLimit(uint64_t v) { return v == 0 ? -1 : static_cast<int64_t>(v); }

const char* RetentionName(RetentionPolicy r) {
  switch (r) {
    case RetentionPolicy::kLimits: return "limits";
    case RetentionPolicy::kInterest: return "interest";
    case RetentionPolicy::kWorkQueue: return "workqueue";
  }
  return "limits";
}

const char* DeliverName(index::DeliverPolicy p) {
  switch (p) {
    case index::DeliverPolicy::kAll: return "all";
    case index::DeliverPolicy::kLast: return "last";
    case index::DeliverPolicy::kNew: return "new";
    case index::DeliverPolicy::kByStartSequence: return "by_start_sequence";
    case index::DeliverPolicy::kByStartTime: return "by_start_time";
    case index::DeliverPolicy::kLastPerSubject: return "last_per_subject";
  }
  return "all";
}

const char* AckName(index::AckPolicy p) {
  switch (p) {
    case index::AckPolicy::kNone: return "none";
    case index::AckPolicy::kAll: return "all";
    case index::AckPolicy::kExplicit: return "explicit";
  }
  return "explicit";
}

}  // namespace

JsError ParseStreamConfig(const Json& j, const std::string& name, const JsDefaults& defaults,
                          JsStreamConfig* out) {
  if (!j.is_object()) return JsBadRequest("stream configuration must be a JSON object");
  JsError err;
  JsStreamConfig c;
  index::StreamConfig& b = c.base;
  b.sync = defaults.sync;
  b.sync_interval = defaults.sync_interval;
  std::string body_name;
  if (!Field(j, "name", &body_name, &err)) return err;
  if (!body_name.empty() && body_name != name) return JsStreamNameMismatch();
  b.name = name;
  if (absl::Status s = index::ValidateStreamName(name); !s.ok()) {
    return JsStreamInvalidConfig(std::string(s.message()));
  }
  if (!Field(j, "subjects", &b.subjects, &err)) return err;
  if (b.subjects.empty()) b.subjects.push_back(name);
  for (const std::string& s : b.subjects) {
    if (!IsValidSubscribeSubject(s)) return JsStreamInvalidConfig(absl::StrCat("invalid subject: ", s));
    if (s.starts_with("$JS.") || s == ">" ) {
      return JsStreamInvalidConfig(absl::StrCat("subjects that overlap with jetstream api are not allowed: ", s));
    }
  }
  if (!Field(j, "description", &c.description, &err)) return err;
  std::string retention = "limits", discard = "old", storage = "file", sync, compression = "none";
  if (!Field(j, "retention", &retention, &err) || !Field(j, "discard", &discard, &err) ||
      !Field(j, "storage", &storage, &err) || !Field(j, "sync", &sync, &err) ||
      !Field(j, "compression", &compression, &err)) {
    return err;
  }
  if (retention == "limits") {
    c.retention = RetentionPolicy::kLimits;
  } else if (retention == "interest") {
    c.retention = RetentionPolicy::kInterest;
  } else if (retention == "workqueue") {
    c.retention = RetentionPolicy::kWorkQueue;
  } else {
    return JsInvalidJson();
  }
  if (discard == "old") {
    b.retention.discard = engine::DiscardPolicy::kOld;
  } else if (discard == "new") {
    b.retention.discard = engine::DiscardPolicy::kNew;
  } else {
    return JsInvalidJson();
  }
  if (storage != "file" && storage != "memory") {
    return JsInvalidJson();
  }
  c.storage = storage;
  if (std::optional<engine::SyncMode> m = engine::ParseSyncMode(sync)) {
    b.sync = *m;
  } else if (!sync.empty()) {
    return JsStreamInvalidConfig(absl::StrCat("unknown sync mode: ", sync));
  }
  if (compression == "lz4") {
    b.compression = engine::Compression::kLz4;
  } else if (compression != "none") {
    return JsStreamInvalidConfig(absl::StrCat("unknown compression: ", compression, " (none or lz4)"));
  }
  int64_t max_msgs = -1, max_bytes = -1, max_age = 0, max_msg_size = -1, dup = 0, sync_ns = 0,
          segment = 0;
  if (!Field(j, "max_msgs", &max_msgs, &err) || !Field(j, "max_bytes", &max_bytes, &err) ||
      !Field(j, "max_age", &max_age, &err) || !Field(j, "max_msg_size", &max_msg_size, &err) ||
      !Field(j, "duplicate_window", &dup, &err) || !Field(j, "sync_interval", &sync_ns, &err) ||
      !Field(j, "segment_size", &segment, &err) || !Field(j, "max_consumers", &c.max_consumers, &err) ||
      !Field(j, "max_msgs_per_subject", &c.max_msgs_per_subject, &err) ||
      !Field(j, "num_replicas", &c.num_replicas, &err) || !Field(j, "deny_delete", &c.deny_delete, &err) ||
      !Field(j, "deny_purge", &c.deny_purge, &err) || !Field(j, "allow_rollup_hdrs", &c.allow_rollup, &err) ||
      !Field(j, "allow_direct", &c.allow_direct, &err) || !Field(j, "no_ack", &c.no_ack, &err)) {
    return err;
  }
  if (max_age < 0 || dup < 0 || sync_ns < 0 || segment < 0) {
    return JsStreamInvalidConfig("max_age, duplicate_window, sync_interval and segment_size may not be negative");
  }
  if (max_msg_size > std::numeric_limits<int32_t>::max() - kMaxSubjectBytes) {
    return JsStreamInvalidConfig("max_msg_size is too large");
  }
  if (c.num_replicas > 1) return JsReplicasNotSupported();
  if (c.num_replicas < 1) c.num_replicas = 1;
  if (c.max_consumers == 0) c.max_consumers = -1;
  if (c.max_msgs_per_subject == 0) c.max_msgs_per_subject = -1;
  b.retention.max_msgs = Limit(max_msgs);
  b.retention.max_bytes = Limit(max_bytes);
  b.retention.max_age = absl::Nanoseconds(max_age);
  c.max_msg_size = max_msg_size > 0 ? max_msg_size : -1;
  b.retention.max_msg_size =
      max_msg_size > 0 ? static_cast<uint32_t>(max_msg_size + kMaxSubjectBytes) : 0;
  b.duplicate_window = dup > 0 ? absl::Nanoseconds(dup) : absl::Minutes(2);
  if (max_age > 0 && b.duplicate_window > absl::Nanoseconds(max_age)) {
    b.duplicate_window = absl::Nanoseconds(max_age);
  }
  if (sync_ns > 0) b.sync_interval = absl::Nanoseconds(sync_ns);
  if (segment > 0) b.segment_size = static_cast<uint64_t>(segment);
  StoreStreamMetadata(&c);
  *out = std::move(c);
  return JsOk();
}

void StoreStreamMetadata(JsStreamConfig* c) {
  Json m;
  m["retention"] = RetentionName(c->retention);
  m["max_consumers"] = c->max_consumers;
  m["max_msgs_per_subject"] = c->max_msgs_per_subject;
  m["max_msg_size"] = c->max_msg_size;
  m["storage"] = c->storage;
  m["description"] = c->description;
  m["deny_delete"] = c->deny_delete;
  m["deny_purge"] = c->deny_purge;
  m["allow_rollup_hdrs"] = c->allow_rollup;
  m["allow_direct"] = c->allow_direct;
  m["no_ack"] = c->no_ack;
  c->base.metadata = DumpJson(m);
}

JsStreamConfig StreamConfigFromIndex(const index::StreamConfig& base) {
  JsStreamConfig c;
  c.base = base;
  Json m = Json::parse(base.metadata, nullptr, false);
  if (!m.is_object()) return c;  // a stream created without the API: defaults
  JsError ignored;
  std::string retention = "limits";
  Field(m, "retention", &retention, &ignored);
  c.retention = retention == "workqueue" ? RetentionPolicy::kWorkQueue
                : retention == "interest" ? RetentionPolicy::kInterest
                                          : RetentionPolicy::kLimits;
  Field(m, "max_consumers", &c.max_consumers, &ignored);
  Field(m, "max_msgs_per_subject", &c.max_msgs_per_subject, &ignored);
  Field(m, "max_msg_size", &c.max_msg_size, &ignored);
  Field(m, "storage", &c.storage, &ignored);
  Field(m, "description", &c.description, &ignored);
  Field(m, "deny_delete", &c.deny_delete, &ignored);
  Field(m, "deny_purge", &c.deny_purge, &ignored);
  Field(m, "allow_rollup_hdrs", &c.allow_rollup, &ignored);
  Field(m, "allow_direct", &c.allow_direct, &ignored);
  Field(m, "no_ack", &c.no_ack, &ignored);
  return c;
}

OrderedJson StreamConfigJson(const JsStreamConfig& c) {
  const index::StreamConfig& b = c.base;
  OrderedJson j;
  j["name"] = b.name;
  if (!c.description.empty()) j["description"] = c.description;
  j["subjects"] = b.subjects;
  j["retention"] = RetentionName(c.retention);
  j["max_consumers"] = c.max_consumers;
  j["max_msgs"] = ApiLimit(b.retention.max_msgs);
  j["max_bytes"] = ApiLimit(b.retention.max_bytes);
  j["max_age"] = absl::ToInt64Nanoseconds(b.retention.max_age);
  j["max_msgs_per_subject"] = c.max_msgs_per_subject;
  j["max_msg_size"] = c.max_msg_size;
  j["discard"] = b.retention.discard == engine::DiscardPolicy::kNew ? "new" : "old";
  j["storage"] = c.storage;
  j["num_replicas"] = c.num_replicas;
  j["duplicate_window"] = absl::ToInt64Nanoseconds(b.duplicate_window);
  j["sealed"] = false;
  j["deny_delete"] = c.deny_delete;
  j["deny_purge"] = c.deny_purge;
  j["allow_rollup_hdrs"] = c.allow_rollup;
  j["allow_direct"] = c.allow_direct;
  j["mirror_direct"] = false;
  if (c.no_ack) j["no_ack"] = true;
  // shortbus's own fields (docs/jetstream.md); clients ignore them.
  j["sync"] = std::string(engine::SyncModeName(b.sync));
  j["sync_interval"] = absl::ToInt64Nanoseconds(b.sync_interval);
  j["segment_size"] = b.segment_size;
  j["compression"] = b.compression == engine::Compression::kLz4 ? "lz4" : "none";
  return j;
}

JsError ParseConsumerConfig(const Json& j, const std::string& name, JsConsumerConfig* out) {
  if (!j.is_object()) return JsBadRequest("consumer configuration must be a JSON object");
  JsError err;
  JsConsumerConfig c;
  index::ConsumerConfig& b = c.base;
  std::string durable, cname, deliver = "all", ack = "explicit", start_time, filter, replay = "instant";
  int64_t ack_wait = 0, idle = 0, max_ack_pending = 0;
  if (!Field(j, "durable_name", &durable, &err) || !Field(j, "name", &cname, &err) ||
      !Field(j, "deliver_policy", &deliver, &err) || !Field(j, "ack_policy", &ack, &err) ||
      !Field(j, "opt_start_time", &start_time, &err) || !Field(j, "filter_subject", &filter, &err) ||
      !Field(j, "filter_subjects", &b.filter_subjects, &err) || !Field(j, "replay_policy", &replay, &err) ||
      !Field(j, "ack_wait", &ack_wait, &err) || !Field(j, "idle_heartbeat", &idle, &err) ||
      !Field(j, "max_ack_pending", &max_ack_pending, &err) || !Field(j, "max_deliver", &b.max_deliver, &err) ||
      !Field(j, "opt_start_seq", &b.opt_start_seq, &err) || !Field(j, "description", &b.description, &err) ||
      !Field(j, "deliver_subject", &b.deliver_subject, &err) ||
      !Field(j, "deliver_group", &b.deliver_group, &err) || !Field(j, "flow_control", &b.flow_control, &err) ||
      !Field(j, "inactive_threshold", &c.inactive_threshold_ns, &err) ||
      !Field(j, "max_waiting", &c.max_waiting, &err) || !Field(j, "max_batch", &c.max_batch, &err) ||
      !Field(j, "max_expires", &c.max_expires_ns, &err) || !Field(j, "max_bytes", &c.max_request_bytes, &err) ||
      !Field(j, "headers_only", &c.headers_only, &err) || !Field(j, "mem_storage", &c.mem_storage, &err) ||
      !Field(j, "num_replicas", &c.num_replicas, &err) || !Field(j, "backoff", &c.backoff_ns, &err)) {
    return err;
  }
  if (!durable.empty() && !cname.empty() && durable != cname) {
    return JsBadRequest("consumer name and durable name must match");
  }
  if (cname.empty()) cname = durable;
  if (!name.empty() && !cname.empty() && name != cname) return JsConsumerNameMismatch();
  if (cname.empty()) cname = name;
  c.durable = !durable.empty();
  b.name = cname;  // empty: the caller names an ephemeral
  if (!filter.empty()) {
    if (!b.filter_subjects.empty()) return JsBadRequest("consumer may not have both filter_subject and filter_subjects");
    b.filter_subjects.push_back(filter);
  }
  for (const std::string& f : b.filter_subjects) {
    if (!IsValidSubscribeSubject(f)) return JsBadRequest(absl::StrCat("consumer filter subject is not a valid subject: ", f));
  }
  if (deliver == "all" || deliver == "" || deliver == "undefined") {
    b.deliver_policy = index::DeliverPolicy::kAll;
  } else if (deliver == "last") {
    b.deliver_policy = index::DeliverPolicy::kLast;
  } else if (deliver == "new") {
    b.deliver_policy = index::DeliverPolicy::kNew;
  } else if (deliver == "by_start_sequence") {
    b.deliver_policy = index::DeliverPolicy::kByStartSequence;
    if (b.opt_start_seq == 0) {
      return JsConsumerInvalidPolicy(
          "consumer delivery policy is deliver by start sequence, but optional start sequence is not set");
    }
  } else if (deliver == "by_start_time") {
    b.deliver_policy = index::DeliverPolicy::kByStartTime;
    std::optional<int64_t> t = ParseJsTime(start_time);
    if (!t) {
      return JsConsumerInvalidPolicy(
          "consumer delivery policy is deliver by start time, but optional start time is not set");
    }
    b.opt_start_time_ns = *t;
  } else if (deliver == "last_per_subject") {
    b.deliver_policy = index::DeliverPolicy::kLastPerSubject;
  } else {
    return JsInvalidJson();
  }
  if (ack == "none") {
    b.ack_policy = index::AckPolicy::kNone;
  } else if (ack == "all") {
    b.ack_policy = index::AckPolicy::kAll;
  } else if (ack == "explicit") {
    b.ack_policy = index::AckPolicy::kExplicit;
  } else {
    return JsInvalidJson();
  }
  if (replay != "instant") return JsBadRequest("shortbus replays at instant speed only (replay_policy original is not supported)");
  b.ack_wait = ack_wait > 0 ? absl::Nanoseconds(ack_wait) : absl::Seconds(30);
  b.idle_heartbeat = absl::Nanoseconds(std::max<int64_t>(idle, 0));
  if (b.max_deliver == 0) b.max_deliver = -1;
  if (max_ack_pending == 0) max_ack_pending = b.ack_policy == index::AckPolicy::kNone ? -1 : 1000;
  b.max_ack_pending = max_ack_pending;
  if (!b.deliver_subject.empty() && c.max_waiting > 0) return JsConsumerPushMaxWaiting();
  if (b.deliver_subject.empty() && c.max_waiting <= 0) c.max_waiting = 512;
  if (b.deliver_subject.empty() && b.flow_control) {
    return JsBadRequest("consumer with flow control needs a deliver subject (push)");
  }
  if (!b.deliver_subject.empty() && !IsValidPublishSubject(b.deliver_subject)) {
    return JsBadRequest("consumer deliver subject is not a valid subject");
  }
  if (b.flow_control && b.idle_heartbeat <= absl::ZeroDuration()) return JsConsumerFlowControlNeedsHeartbeats();
  if (b.deliver_subject.empty() && b.idle_heartbeat > absl::ZeroDuration()) return JsConsumerHeartbeatNeedsPush();
  if (b.deliver_policy == index::DeliverPolicy::kLastPerSubject && b.filter_subjects.empty()) {
    return JsConsumerInvalidPolicy(
        "consumer delivery policy is deliver last per subject, but optional filter subject is not set");
  }
  if (!c.durable && c.inactive_threshold_ns <= 0) c.inactive_threshold_ns = absl::ToInt64Nanoseconds(absl::Seconds(5));
  *out = std::move(c);
  return JsOk();
}

void StoreConsumerMetadata(JsConsumerConfig* c) {
  Json m;
  m["durable"] = c->durable;
  m["inactive_threshold"] = c->inactive_threshold_ns;
  m["max_waiting"] = c->max_waiting;
  m["max_batch"] = c->max_batch;
  m["max_expires"] = c->max_expires_ns;
  m["max_bytes"] = c->max_request_bytes;
  m["headers_only"] = c->headers_only;
  m["mem_storage"] = c->mem_storage;
  m["num_replicas"] = c->num_replicas;
  m["backoff"] = c->backoff_ns;
  m["created"] = c->created_ns;
  c->base.metadata = DumpJson(m);
}

JsConsumerConfig ConsumerConfigFromIndex(const index::ConsumerConfig& base) {
  JsConsumerConfig c;
  c.base = base;
  c.durable = true;
  Json m = Json::parse(base.metadata, nullptr, false);
  if (!m.is_object()) return c;
  JsError ignored;
  Field(m, "durable", &c.durable, &ignored);
  Field(m, "inactive_threshold", &c.inactive_threshold_ns, &ignored);
  Field(m, "max_waiting", &c.max_waiting, &ignored);
  Field(m, "max_batch", &c.max_batch, &ignored);
  Field(m, "max_expires", &c.max_expires_ns, &ignored);
  Field(m, "max_bytes", &c.max_request_bytes, &ignored);
  Field(m, "headers_only", &c.headers_only, &ignored);
  Field(m, "mem_storage", &c.mem_storage, &ignored);
  Field(m, "num_replicas", &c.num_replicas, &ignored);
  Field(m, "backoff", &c.backoff_ns, &ignored);
  Field(m, "created", &c.created_ns, &ignored);
  return c;
}

OrderedJson ConsumerConfigJson(const JsConsumerConfig& c) {
  const index::ConsumerConfig& b = c.base;
  OrderedJson j;
  if (c.durable) j["durable_name"] = b.name;
  j["name"] = b.name;
  if (!b.description.empty()) j["description"] = b.description;
  if (!b.deliver_subject.empty()) j["deliver_subject"] = b.deliver_subject;
  if (!b.deliver_group.empty()) j["deliver_group"] = b.deliver_group;
  j["deliver_policy"] = DeliverName(b.deliver_policy);
  if (b.deliver_policy == index::DeliverPolicy::kByStartSequence) j["opt_start_seq"] = b.opt_start_seq;
  if (b.deliver_policy == index::DeliverPolicy::kByStartTime) j["opt_start_time"] = FormatJsTime(b.opt_start_time_ns);
  j["ack_policy"] = AckName(b.ack_policy);
  j["ack_wait"] = absl::ToInt64Nanoseconds(b.ack_wait);
  j["max_deliver"] = b.max_deliver;
  if (!c.backoff_ns.empty()) j["backoff"] = c.backoff_ns;
  if (b.filter_subjects.size() == 1) j["filter_subject"] = b.filter_subjects[0];
  if (b.filter_subjects.size() > 1) j["filter_subjects"] = b.filter_subjects;
  j["replay_policy"] = "instant";
  j["max_ack_pending"] = b.max_ack_pending;
  if (b.deliver_subject.empty()) j["max_waiting"] = c.max_waiting;
  if (c.max_batch > 0) j["max_batch"] = c.max_batch;
  if (c.max_expires_ns > 0) j["max_expires"] = c.max_expires_ns;
  if (c.max_request_bytes > 0) j["max_bytes"] = c.max_request_bytes;
  if (b.idle_heartbeat > absl::ZeroDuration()) j["idle_heartbeat"] = absl::ToInt64Nanoseconds(b.idle_heartbeat);
  if (b.flow_control) j["flow_control"] = true;
  if (c.headers_only) j["headers_only"] = true;
  if (!c.durable) j["inactive_threshold"] = c.inactive_threshold_ns;
  j["num_replicas"] = c.num_replicas;
  if (c.mem_storage) j["mem_storage"] = true;
  return j;
}

}  // namespace shortbus::server
