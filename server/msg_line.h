// The control line of a delivered message, written into a caller's buffer:
//   MSG <subject> <sid> [<reply> ]<payload_size>\r\n
//   HMSG <subject> <sid> [<reply> ]<header_size> <total_size>\r\n
// (total_size = header_size + body size). The payload and a closing CRLF
// follow it on the wire.
#ifndef SHORTBUS_SERVER_MSG_LINE_H_
#define SHORTBUS_SERVER_MSG_LINE_H_

#include <cstddef>
#include <string_view>

namespace shortbus::server {

// Bytes a line can take when subject, reply and sid each come from control
// lines of at most `max_control_line` argument bytes.
size_t MsgLineCapacity(size_t max_control_line);

// Writes the line at `out` and returns a view of it. `header_size` < 0 means
// MSG (no headers). REQUIRES: `out` holds at least
// 20 + subject.size() + sid.size() + reply.size() + 40 bytes.
std::string_view FormatMsgLine(char* out, std::string_view subject, std::string_view sid,
                               std::string_view reply, long header_size, size_t total_size);

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_MSG_LINE_H_
