// The JetStream JSON API as the CLI uses it: requests on `$JS.API.<api>`
// over one NatsClient, each answered on a fresh inbox; publishes that wait
// for their acknowledgement; and what a consumer's delivery says about a
// message (the `$JS.ACK...` reply subject).
//
// A request collects only its own reply: every other message that arrives
// meanwhile (a consumer's deliveries) is kept, in order, for NextMessage.
//
// Errors: a response carrying the JetStream error envelope
// {"error":{"code":404,"err_code":10059,"description":"stream not found"}}
// becomes a status with the description as its message (404 NotFound,
// 400 InvalidArgument, 409 AlreadyExists, 503 Unavailable, else
// FailedPrecondition); no responders on the API (the server has no
// JetStream) is Unavailable; no reply within the timeout DeadlineExceeded.
#ifndef SHORTBUS_TOOLS_JS_API_H_
#define SHORTBUS_TOOLS_JS_API_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/nats_client.h"

namespace shortbus::tools {

// JSON objects keep their members in the order given (as the server sent
// them, or as built), so what the CLI prints reads like the API documents.
using Json = nlohmann::ordered_json;

class JsApi {
 public:
  // `client` must outlive this object.
  explicit JsApi(NatsClient* client, absl::Duration timeout = absl::Seconds(5)) : client_(client), timeout_(timeout) {}

  NatsClient* client() { return client_; }

  // `api` is the part after "$JS.API." (e.g. "STREAM.INFO.orders"); a null
  // `body` sends an empty payload. Returns the response object.
  absl::StatusOr<Json> Request(std::string_view api, const Json& body = nullptr);
  // A paged list (STREAM.LIST, CONSUMER.NAMES.<stream>, ...): requests from
  // offset 0 until `total` items of the array `key` have come.
  absl::StatusOr<std::vector<Json>> List(std::string_view api, std::string_view key);

  // Publishes and waits for one reply on a fresh inbox: the raw reply
  // (its status 503 when nobody answers). DeadlineExceeded after `timeout`.
  absl::StatusOr<ClientMessage> RequestRaw(std::string_view subject, std::string_view headers,
                                           std::string_view payload, absl::Duration timeout);
  // A publish on a stream's subject, answered by the stream's
  // acknowledgement {"stream":"S","seq":N[,"duplicate":true]}. A refusal
  // (the error envelope) is an error status as above; nobody capturing the
  // subject is NotFound.
  absl::StatusOr<Json> PublishAcked(std::string_view subject, std::string_view headers,
                                              std::string_view payload, absl::Duration timeout);

  // The next message no request took (kept ones first); DeadlineExceeded
  // when none arrives within `timeout`.
  absl::StatusOr<ClientMessage> NextMessage(absl::Duration timeout);

 private:
  NatsClient* client_;
  absl::Duration timeout_;
  std::deque<ClientMessage> kept_;
};

// The error a response carries, or OK when it carries none.
absl::Status ResponseError(const Json& response);

// What a consumer's delivery reply subject says about the message:
// $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time ns>.<pending>
// or the form with a domain and account hash after "$JS.ACK." (12 tokens
// or more). nullopt when `reply` is neither.
struct DeliveryInfo {
  std::string stream;
  std::string consumer;
  uint64_t delivered = 0;  // times delivered, 1 the first time
  uint64_t stream_seq = 0;
  uint64_t consumer_seq = 0;
  int64_t time_ns = 0;     // when the stream stored it, Unix nanoseconds
  uint64_t pending = 0;    // messages left for the consumer after this one
};
std::optional<DeliveryInfo> ParseDeliveryReply(std::string_view reply);

// The value of header `key` (case-insensitive) in a raw header block, or
// nullopt.
std::optional<std::string> HeaderValue(std::string_view headers, std::string_view key);
// The text after the status code on the header block's first line
// ("NATS/1.0 408 Request Timeout" -> "Request Timeout").
std::string StatusDescription(std::string_view headers);

}  // namespace shortbus::tools

#endif  // SHORTBUS_TOOLS_JS_API_H_
