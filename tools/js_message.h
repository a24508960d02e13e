// A stored message as a consumer delivered it, printed one a line by
// `shortbus read` and `shortbus consumer next`:
//   text:  SUBJECT PAYLOAD   (bytes that are not printable UTF-8 as \xNN,
//                             a backslash as \\, so one message is one line)
//   --json {"stream":"S","seq":N,"time":"RFC 3339 UTC","subject":...,
//           ["headers":...,]"size":N,"data":...|"data_base64":...}
//          (`consumer next` adds "delivered": how many times, 1 the first)
#ifndef SHORTBUS_TOOLS_JS_MESSAGE_H_
#define SHORTBUS_TOOLS_JS_MESSAGE_H_

#include <string>
#include <string_view>

#include "tools/js_api.h"
#include "tools/nats_client.h"

namespace shortbus::tools {

std::string DeliveredText(const ClientMessage& m);
std::string DeliveredJson(const ClientMessage& m, const DeliveryInfo& d, bool with_delivered);
// `s` with control bytes, invalid UTF-8 and backslashes escaped.
std::string EscapeForLine(std::string_view s);

}  // namespace shortbus::tools

#endif  // SHORTBUS_TOOLS_JS_MESSAGE_H_
