#include "server/permission_errors.h"

#include "server/protocol_errors.h"

namespace shortbus::server {
namespace {

void AppendQuoted(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out->append("\\\""); continue;
      case '\\': out->append("\\\\"); continue;
      case '\a': out->append("\\a"); continue;
      case '\b': out->append("\\b"); continue;
      case '\f': out->append("\\f"); continue;
      case '\n': out->append("\\n"); continue;
      case '\r': out->append("\\r"); continue;
      case '\t': out->append("\\t"); continue;
      case '\v': out->append("\\v"); continue;
      default: break;
    }
    if (u < 0x20 || u == 0x7f) {
      out->append("\\x");
      out->push_back(kHex[u >> 4]);
      out->push_back(kHex[u & 15]);
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

constexpr std::string_view kEnd = "'\r\n";

}  // namespace

void FormatPublishViolation(std::string_view subject, std::string* out) {
  out->assign(kErrPublishViolation);
  AppendQuoted(subject, out);
  out->append(kEnd);
}

void FormatSubscribeViolation(std::string_view subject, std::string_view queue, std::string* out) {
  out->assign(kErrSubscribeViolation);
  AppendQuoted(subject, out);
  if (!queue.empty()) {
    out->append(kErrViolationQueue);
    AppendQuoted(queue, out);
  }
  out->append(kEnd);
}

}  // namespace shortbus::server
