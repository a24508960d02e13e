// `shortbus consumer add|ls|info|next|rm`: durable consumers through the
// JetStream API (CONSUMER.DURABLE.CREATE, LIST, INFO, MSG.NEXT, DELETE).
#ifndef SHORTBUS_TOOLS_CONSUMER_VERBS_H_
#define SHORTBUS_TOOLS_CONSUMER_VERBS_H_

#include <string>
#include <vector>

namespace shortbus::tools {

// `args` follow the word `consumer`. Exit codes: 0 done, 1 error, 2 (next)
// nothing to read.
int RunConsumerVerb(const std::vector<std::string>& args);

extern const char kConsumerUsage[];

}  // namespace shortbus::tools

#endif  // SHORTBUS_TOOLS_CONSUMER_VERBS_H_
