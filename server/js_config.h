// Stream and consumer configurations as the JetStream API carries them
// (JSON), and how they map onto the index's configurations.
//
// What the engine and index enforce lives in index::StreamConfig /
// index::ConsumerConfig; the rest (retention policy, messages per subject,
// storage, ephemeral consumers, ...) is enforced by the server and kept in
// the index records' opaque `metadata` as the JSON this file writes.
// docs/jetstream.md lists every field, its default and what shortbus does
// with it.
#ifndef SHORTBUS_SERVER_JS_CONFIG_H_
#define SHORTBUS_SERVER_JS_CONFIG_H_

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "index/catalog.h"
#include "index/consumer_config.h"
#include "nlohmann/json.hpp"
#include "server/js_errors.h"
#include "server/json_text.h"

namespace shortbus::server {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

// `v` as the integer type T. nlohmann's get<T>() casts a float to T, which
// is undefined behaviour when the float is out of T's range (a client's
// 1e300): here a float is taken only when it is integral and in range;
// otherwise, as for any other wrong type, Json::type_error is thrown.
template <typename T>
T GetInt(const Json& v) {
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
  if (v.is_number_float()) {
    const double d = v.get<double>();
    const double lo = static_cast<double>(std::numeric_limits<T>::min());  // 0 or -2^k: exact
    const double hi = std::ldexp(1.0, std::numeric_limits<T>::digits);     // 2^k: the first too big
    if (!(d >= lo && d < hi && std::trunc(d) == d)) {
      throw Json::type_error::create(302, "number out of the field's range or not integral", &v);
    }
    return static_cast<T>(d);
  }
  return v.get<T>();
}

enum class RetentionPolicy : uint8_t { kLimits, kInterest, kWorkQueue };

// Defaults for what a request leaves out (the daemon's --sync flags).
struct JsDefaults {
  engine::SyncMode sync = engine::SyncMode::kInterval;
  absl::Duration sync_interval = absl::Seconds(1);
};

struct JsStreamConfig {
  index::StreamConfig base;
  RetentionPolicy retention = RetentionPolicy::kLimits;
  int64_t max_consumers = -1;
  int64_t max_msgs_per_subject = -1;
  // Headers + payload, as nats-server counts (-1: no limit). The engine's
  // own limit (base.retention.max_msg_size) counts the subject too, so it
  // is set this plus the longest subject.
  int64_t max_msg_size = -1;
  std::string storage = "file";  // "memory" is accepted and stored on disk too
  std::string description;
  bool deny_delete = false;
  bool deny_purge = false;
  bool allow_rollup = false;
  bool allow_direct = false;
  bool no_ack = false;
  int64_t num_replicas = 1;
};

// Parses a STREAM.CREATE/UPDATE body's configuration. `name` is the name in
// the request subject (the body's must match when given).
JsError ParseStreamConfig(const Json& j, const std::string& name, const JsDefaults& defaults,
                          JsStreamConfig* out);
OrderedJson StreamConfigJson(const JsStreamConfig& c);
// Rebuilds the configuration of a stream from its catalogue entry.
JsStreamConfig StreamConfigFromIndex(const index::StreamConfig& base);
// Fills base.metadata from the other fields.
void StoreStreamMetadata(JsStreamConfig* c);

struct JsConsumerConfig {
  index::ConsumerConfig base;
  bool durable = false;          // durable_name given; else ephemeral
  int64_t inactive_threshold_ns = 0;  // ephemeral: deleted after this long unused
  int64_t max_waiting = 0;       // pull requests waiting at once (pull: 512 unless given)
  int64_t max_batch = 0;         // 0: no limit
  int64_t max_expires_ns = 0;
  int64_t max_request_bytes = 0;
  bool headers_only = false;
  bool mem_storage = false;
  int64_t num_replicas = 0;
  std::vector<int64_t> backoff_ns;
  int64_t created_ns = 0;
};

// Parses a CONSUMER.CREATE body's "config". `name` is the consumer name of
// the request subject (empty when the subject has none).
JsError ParseConsumerConfig(const Json& j, const std::string& name, JsConsumerConfig* out);
OrderedJson ConsumerConfigJson(const JsConsumerConfig& c);
JsConsumerConfig ConsumerConfigFromIndex(const index::ConsumerConfig& base);
void StoreConsumerMetadata(JsConsumerConfig* c);

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_JS_CONFIG_H_
