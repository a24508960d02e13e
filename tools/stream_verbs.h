// `shortbus stream add|ls|info|rm|purge`: stream administration through the
// JetStream API (STREAM.CREATE, LIST, INFO, DELETE, PURGE).
#ifndef SHORTBUS_TOOLS_STREAM_VERBS_H_
#define SHORTBUS_TOOLS_STREAM_VERBS_H_

#include <string>
#include <vector>

namespace shortbus::tools {

// `args` follow the word `stream`. Exit codes: 0 done, 1 error.
int RunStreamVerb(const std::vector<std::string>& args);

extern const char kStreamUsage[];

}  // namespace shortbus::tools

#endif  // SHORTBUS_TOOLS_STREAM_VERBS_H_
