// JetStream API errors as the official clients read them: the HTTP-like
// `code`, the JetStream `err_code` that clients switch on, and a
// description. Sent in the envelope
//   {"type":"...","error":{"code":C,"err_code":E,"description":"D"}}
// (API responses) or {"error":{...}} (publish acknowledgements).
// The err_code values are nats-server 2.9's (docs/jetstream.md lists them).
#ifndef SHORTBUS_SERVER_JS_ERRORS_H_
#define SHORTBUS_SERVER_JS_ERRORS_H_

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"

namespace shortbus::server {

struct JsError {
  int code = 0;  // 0: no error
  int err_code = 0;
  std::string description;

  bool ok() const { return code == 0; }
};

inline JsError JsOk() { return {}; }
inline JsError JsBadRequest(std::string why = "bad request") { return {400, 10003, std::move(why)}; }
inline JsError JsInvalidJson() { return {400, 10025, "invalid JSON"}; }
inline JsError JsStreamNotFound() { return {404, 10059, "stream not found"}; }
inline JsError JsStreamNameInUse() {
  return {400, 10058, "stream name already in use with a different configuration"};
}
inline JsError JsSubjectsOverlap() { return {400, 10065, "subjects overlap with an existing stream"}; }
inline JsError JsStreamInvalidConfig(const std::string& why) { return {500, 10052, why}; }
inline JsError JsStreamNameMismatch() {
  return {400, 10056, "stream name in subject does not match request"};
}
inline JsError JsStreamUpdate(const std::string& why) { return {500, 10024, why}; }
inline JsError JsWrongLastSequence(uint64_t seq) {
  return {400, 10071, absl::StrCat("wrong last sequence: ", seq)};
}
inline JsError JsWrongLastMsgId(const std::string& id) {
  return {400, 10070, absl::StrCat("wrong last msg ID: ", id)};
}
inline JsError JsExpectedStreamMismatch() { return {400, 10060, "expected stream does not match"}; }
inline JsError JsMessageTooBig() { return {400, 10054, "message size exceeds maximum allowed"}; }
inline JsError JsStoreFailed(const std::string& why) { return {503, 10077, why}; }
inline JsError JsNoMessageFound() { return {404, 10037, "no message found"}; }
inline JsError JsSequenceNotFound(uint64_t seq) {
  return {400, 10043, absl::StrCat("sequence ", seq, " not found")};
}
inline JsError JsConsumerNotFound() { return {404, 10014, "consumer not found"}; }
inline JsError JsConsumerCreate(const std::string& why) { return {500, 10012, why}; }
inline JsError JsConsumerNameMismatch() {
  return {400, 10017, "consumer name in subject does not match durable name in request"};
}
inline JsError JsWorkQueueNeedsExplicitAck() {
  return {400, 10101, "workqueue stream requires explicit ack"};
}
inline JsError JsWorkQueueOverlap() {
  return {400, 10100, "filtered consumer not unique on workqueue stream"};
}
inline JsError JsWorkQueueUnfiltered() {
  return {400, 10099, "multiple non-filtered consumers not allowed on workqueue stream"};
}
inline JsError JsDeleteDenied() { return {500, 10057, "message delete not permitted"}; }
inline JsError JsStoreEof() { return {500, 10057, "stream store EOF"}; }
inline JsError JsPurgeDenied() { return {500, 10110, "stream purge not permitted"}; }
inline JsError JsReplicasNotSupported() { return {500, 10074, "replicas > 1 not supported in non-clustered mode"}; }
inline JsError JsConsumerExpectedEphemeral() {
  return {400, 10020, "consumer expected to be ephemeral but a durable name was set in request"};
}
inline JsError JsConsumerFilterMismatch() {
  return {400, 10131, "Consumer create request did not match filtered subject from create subject"};
}
inline JsError JsConsumerInvalidPolicy(const std::string& why) { return {400, 10094, why}; }
inline JsError JsConsumerFilterNotSubset() {
  return {400, 10093, "consumer filter subject is not a valid subset of the interest subjects"};
}
inline JsError JsConsumerFlowControlNeedsHeartbeats() {
  return {400, 10108, "consumer with flow control also needs heartbeats"};
}
inline JsError JsConsumerHeartbeatNeedsPush() {
  return {400, 10088, "consumer idle heartbeat requires a push based consumer"};
}
inline JsError JsConsumerPushMaxWaiting() { return {400, 10080, "consumer in push mode can not set max waiting"}; }
inline JsError JsConsumerPullNeedsAck() { return {400, 10084, "consumer in pull mode requires ack policy"}; }
inline JsError JsInternal(const std::string& why) { return {500, 10010, why}; }

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_JS_ERRORS_H_
