#include "server/msg_line.h"

#include <charconv>
#include <cstring>

namespace shortbus::server {
namespace {

char* Put(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

char* PutNumber(char* p, size_t v) { return std::to_chars(p, p + 20, v).ptr; }

}  // namespace

size_t MsgLineCapacity(size_t max_control_line) { return 2 * max_control_line + 64; }

std::string_view FormatMsgLine(char* out, std::string_view subject, std::string_view sid,
                               std::string_view reply, long header_size, size_t total_size) {
  char* p = Put(out, header_size < 0 ? "MSG " : "HMSG ");
  p = Put(p, subject);
  *p++ = ' ';
  p = Put(p, sid);
  *p++ = ' ';
  if (!reply.empty()) {
    p = Put(p, reply);
    *p++ = ' ';
  }
  if (header_size >= 0) {
    p = PutNumber(p, static_cast<size_t>(header_size));
    *p++ = ' ';
  }
  p = PutNumber(p, total_size);
  p = Put(p, "\r\n");
  return std::string_view(out, static_cast<size_t>(p - out));
}

}  // namespace shortbus::server
