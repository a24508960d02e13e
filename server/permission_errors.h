// The -ERR lines of permission violations, in nats-server's words:
//
//   -ERR 'Permissions Violation for Publish to "<subject>"'
//   -ERR 'Permissions Violation for Subscription to "<subject>"'
//   -ERR 'Permissions Violation for Subscription to "<subject>" using queue "<queue>"'
//
// Subject and queue are quoted as Go's %q quotes them: `"` and `\` escaped
// with a backslash, control bytes as \a \b \f \n \r \t \v or \xNN; other
// bytes as they are (Go also escapes bytes that are not UTF-8: shortbus
// does not check).
#ifndef SHORTBUS_SERVER_PERMISSION_ERRORS_H_
#define SHORTBUS_SERVER_PERMISSION_ERRORS_H_

#include <string>
#include <string_view>

namespace shortbus::server {

// Each replaces *out with the whole line (CR LF included). *out keeps its
// capacity: with 4 * max_control_line + 128 reserved, formatting allocates
// nothing.
void FormatPublishViolation(std::string_view subject, std::string* out);
void FormatSubscribeViolation(std::string_view subject, std::string_view queue, std::string* out);

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_PERMISSION_ERRORS_H_
