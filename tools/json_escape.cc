#include "tools/json_escape.h"

#include <cstdint>
#include <cstdio>

namespace shortbus::tools {

bool IsUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<uint8_t>(s[i + k]) & 0xc0) != 0x80) return false;
    }
    if (n == 2 && c < 0xc2) return false;  // overlong
    i += n;
  }
  return true;
}

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          *out += buf;
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

void AppendBase64String(std::string* out, std::string_view s) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out->push_back('"');
  size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    uint32_t v = (uint32_t{static_cast<uint8_t>(s[i])} << 16) | (uint32_t{static_cast<uint8_t>(s[i + 1])} << 8) |
                 static_cast<uint8_t>(s[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out->push_back(kAlphabet[(v >> k) & 63]);
  }
  if (i < s.size()) {
    uint32_t v = uint32_t{static_cast<uint8_t>(s[i])} << 16;
    if (i + 1 < s.size()) v |= uint32_t{static_cast<uint8_t>(s[i + 1])} << 8;
    out->push_back(kAlphabet[(v >> 18) & 63]);
    out->push_back(kAlphabet[(v >> 12) & 63]);
    out->push_back(i + 1 < s.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out->push_back('=');
  }
  out->push_back('"');
}

void AppendMessageJsonFields(std::string* out, std::string_view subject, std::string_view headers,
                             std::string_view payload) {
  *out += "\"subject\":";
  AppendJsonString(out, IsUtf8(subject) ? subject : "");
  if (!headers.empty()) {
    *out += ",\"headers\":";
    AppendJsonString(out, IsUtf8(headers) ? headers : "");
  }
  *out += ",\"size\":" + std::to_string(payload.size());
  if (IsUtf8(payload)) {
    *out += ",\"data\":";
    AppendJsonString(out, payload);
  } else {
    *out += ",\"data_base64\":";
    AppendBase64String(out, payload);
  }
}

}  // namespace shortbus::tools
