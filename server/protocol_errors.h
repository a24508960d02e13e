// The -ERR lines shortbus sends, each as it goes on the wire. Texts are
// nats-server 2.9's, verified against /usr/sbin/nats-server (see
// docs/protocol.md, "Errors", which also says which ones close).
#ifndef SHORTBUS_SERVER_PROTOCOL_ERRORS_H_
#define SHORTBUS_SERVER_PROTOCOL_ERRORS_H_

#include <string_view>

namespace shortbus::server {

// Close the connection after sending.
inline constexpr std::string_view kErrUnknownOperation = "-ERR 'Unknown Protocol Operation'\r\n";
inline constexpr std::string_view kErrMaxControlLine = "-ERR 'maximum control line exceeded'\r\n";
inline constexpr std::string_view kErrMaxPayload = "-ERR 'Maximum Payload Violation'\r\n";
inline constexpr std::string_view kErrAuthorization = "-ERR 'Authorization Violation'\r\n";
inline constexpr std::string_view kErrAuthTimeout = "-ERR 'Authentication Timeout'\r\n";
inline constexpr std::string_view kErrMaxConnections = "-ERR 'maximum connections exceeded'\r\n";
inline constexpr std::string_view kErrStaleConnection = "-ERR 'Stale Connection'\r\n";
inline constexpr std::string_view kErrSlowConsumer = "-ERR 'Slow Consumer'\r\n";
inline constexpr std::string_view kErrNoRespondersNeedsHeaders =
    "-ERR 'no responders requires headers support'\r\n";

// The connection stays open.
inline constexpr std::string_view kErrInvalidSubject = "-ERR 'Invalid Subject'\r\n";
inline constexpr std::string_view kErrInvalidPublishSubject = "-ERR 'Invalid Publish Subject'\r\n";
inline constexpr std::string_view kErrMaxSubscriptions = "-ERR 'maximum subscriptions exceeded'\r\n";
// Permission violations (server/permission_errors.h formats them).
inline constexpr std::string_view kErrPublishViolation = "-ERR 'Permissions Violation for Publish to ";
inline constexpr std::string_view kErrSubscribeViolation = "-ERR 'Permissions Violation for Subscription to ";
inline constexpr std::string_view kErrViolationQueue = " using queue ";

inline constexpr std::string_view kOk = "+OK\r\n";
inline constexpr std::string_view kPing = "PING\r\n";
inline constexpr std::string_view kPong = "PONG\r\n";
inline constexpr std::string_view kCrLf = "\r\n";
// The header block of a no-responders status message (16 bytes).
inline constexpr std::string_view kNoRespondersHeader = "NATS/1.0 503\r\n\r\n";

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_PROTOCOL_ERRORS_H_
