#include "tools/js_message.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/json_escape.h"
#include "server/time_text.h"

namespace shortbus::tools {

using server::FormatRfc3339;

std::string EscapeForLine(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\\') {
      out += "\\\\";
      ++i;
    } else if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c >= 0x80) {
      const size_t n = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
      if (n > 0 && i + n <= s.size() && IsUtf8(s.substr(i, n))) {
        out.append(s.substr(i, n));
        i += n;
      } else {
        absl::StrAppendFormat(&out, "\\x%02x", c);
        ++i;
      }
    } else {
      absl::StrAppendFormat(&out, "\\x%02x", c);
      ++i;
    }
  }
  return out;
}

std::string DeliveredText(const ClientMessage& m) {
  return absl::StrCat(EscapeForLine(m.subject), " ", EscapeForLine(m.payload));
}

std::string DeliveredJson(const ClientMessage& m, const DeliveryInfo& d, bool with_delivered) {
  std::string j = "{\"stream\":";
  AppendJsonString(&j, IsUtf8(d.stream) ? d.stream : "");
  absl::StrAppend(&j, ",\"seq\":", d.stream_seq, ",\"time\":\"", FormatRfc3339(absl::FromUnixNanos(d.time_ns)), "\",");
  AppendMessageJsonFields(&j, m.subject, m.headers, m.payload);
  if (with_delivered) absl::StrAppend(&j, ",\"delivered\":", d.delivered);
  j += "}";
  return j;
}

}  // namespace shortbus::tools
