// A small blocking NATS client for the command line: one connection over a
// Unix socket or TCP, publish, subscribe, request/reply, PING round trips.
// (The official C client speaks TCP only; the CLI must reach the daemon's
// Unix socket too.) Not for the daemon's hot paths: it allocates freely.
//
// Wire (docs/protocol.md): the server's INFO line, then our CONNECT with
// headers and no_responders on, then PING; the PONG (or an -ERR) tells the
// connection was accepted. Server PINGs are answered whenever the client
// reads. An -ERR from the server ends the current call with
// FailedPrecondition carrying the server's text.
#ifndef SHORTBUS_TOOLS_NATS_CLIENT_H_
#define SHORTBUS_TOOLS_NATS_CLIENT_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/server_address.h"

namespace shortbus::tools {

struct ClientMessage {
  std::string subject;
  uint64_t sid = 0;
  std::string reply;
  std::string headers;  // the raw header block ("NATS/1.0 ...\r\n...\r\n\r\n"), empty for MSG
  std::string payload;
  int status = 0;  // the status code of the header line (503: no responders), 0 when none
};

struct ClientOptions {
  std::string name = "shortbus-cli";
  bool echo = true;
  absl::Duration connect_timeout = absl::Seconds(5);
};

class NatsClient {
 public:
  // Errors: Unavailable (cannot connect, or the server closed), and the
  // server's -ERR (e.g. 'Authorization Violation') as FailedPrecondition.
  static absl::StatusOr<std::unique_ptr<NatsClient>> Connect(const ServerAddress& address,
                                                            const ClientOptions& options = {});
  ~NatsClient();
  NatsClient(const NatsClient&) = delete;
  NatsClient& operator=(const NatsClient&) = delete;

  const nlohmann::json& info() const { return info_; }
  // A fresh subject under _INBOX. for replies.
  std::string NewInbox();

  // Queued; sent by the next Flush (or when the queue grows past 64 KiB).
  // `headers` non-empty sends HPUB.
  absl::Status Publish(std::string_view subject, std::string_view reply, std::string_view headers,
                       std::string_view payload);
  absl::StatusOr<uint64_t> Subscribe(std::string_view subject, std::string_view queue = {});
  absl::Status Unsubscribe(uint64_t sid, uint64_t max_msgs = 0);
  // Sends what is queued and a PING, and waits for the PONG: the server has
  // processed everything before it. Messages arriving meanwhile are kept.
  absl::Status Flush(absl::Duration timeout);
  // The next message (kept ones first); DeadlineExceeded when none arrives
  // within `timeout` (absl::InfiniteDuration() waits for ever).
  absl::StatusOr<ClientMessage> NextMessage(absl::Duration timeout);
  // One PING/PONG round trip.
  absl::StatusOr<absl::Duration> RoundTrip(absl::Duration timeout);

 private:
  explicit NatsClient(int fd) : fd_(fd) {}
  absl::Status WriteAll();
  // Reads and handles one protocol line (and its payload); sets *got_msg
  // when it queued a message. DeadlineExceeded at `deadline`.
  absl::Status ReadOne(absl::Time deadline, bool* got_msg);
  absl::StatusOr<std::string> ReadLine(absl::Time deadline);
  absl::Status ReadBytes(size_t n, absl::Time deadline, std::string* out);
  absl::Status Fill(absl::Time deadline);

  int fd_;
  nlohmann::json info_;
  std::string out_;
  std::string in_;
  size_t in_pos_ = 0;
  uint64_t next_sid_ = 1;
  uint64_t pongs_ = 0;
  std::deque<ClientMessage> kept_;
  std::string inbox_prefix_;
  uint64_t next_inbox_ = 0;
};

// Builds a NATS header block from "Key: value" lines ("" when none).
std::string HeaderBlock(const std::vector<std::string>& lines);

}  // namespace shortbus::tools

#endif  // SHORTBUS_TOOLS_NATS_CLIENT_H_
