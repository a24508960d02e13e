#include "server/absl_view.h"
#include "server/js_headers.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace shortbus::server {

std::optional<std::string_view> HeaderValue(std::string_view block, std::string_view name) {
  size_t pos = block.find("\r\n");  // past the version line
  while (pos != std::string_view::npos) {
    pos += 2;
    const size_t end = block.find("\r\n", pos);
    if (end == std::string_view::npos || end == pos) return std::nullopt;  // the closing empty line
    const std::string_view line = block.substr(pos, end - pos);
    if (line.size() > name.size() && line.substr(0, name.size()) == name && line[name.size()] == ':') {
      return Sv(absl::StripAsciiWhitespace(Av(line.substr(name.size() + 1))));
    }
    pos = end;
  }
  return std::nullopt;
}

std::optional<uint64_t> ParseHeaderNumber(std::string_view value) {
  uint64_t n;
  if (!absl::SimpleAtoi(Av(value), &n)) return std::nullopt;
  return n;
}

std::string StatusHeaders(int code, std::string_view text,
                          const std::vector<std::pair<std::string_view, std::string>>& extra) {
  std::string s = absl::StrCat("NATS/1.0 ", code);
  if (!text.empty()) absl::StrAppend(&s, " ", Av(text));
  s += "\r\n";
  for (const auto& [k, v] : extra) absl::StrAppend(&s, Av(k), ": ", v, "\r\n");
  s += "\r\n";
  return s;
}

}  // namespace shortbus::server
