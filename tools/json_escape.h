// Writing JSON strings for `--json` output (one object a line).
#ifndef SHORTBUS_TOOLS_JSON_ESCAPE_H_
#define SHORTBUS_TOOLS_JSON_ESCAPE_H_

#include <string>
#include <string_view>

namespace shortbus::tools {

// True when `s` is well-formed UTF-8.
bool IsUtf8(std::string_view s);
// Appends `s` as a quoted JSON string. REQUIRES: IsUtf8(s).
void AppendJsonString(std::string* out, std::string_view s);
// Appends `s` base64-encoded (RFC 4648, with padding), quoted.
void AppendBase64String(std::string* out, std::string_view s);

// `"subject":...[,"headers":...],"size":N,"data":...` (or "data_base64" when
// the payload is not UTF-8): the fields every message printed as JSON has
// (dump, sub, read).
void AppendMessageJsonFields(std::string* out, std::string_view subject, std::string_view headers,
                             std::string_view payload);

}  // namespace shortbus::tools

#endif  // SHORTBUS_TOOLS_JSON_ESCAPE_H_
