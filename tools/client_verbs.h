// The CLI verbs that talk to a server over the NATS protocol: pub, sub, req,
// reply, status. Exit codes: 0 success, 1 error, 2 nothing to read (no
// message before --timeout, no responders).
#ifndef SHORTBUS_TOOLS_CLIENT_VERBS_H_
#define SHORTBUS_TOOLS_CLIENT_VERBS_H_

#include <string>
#include <vector>

namespace shortbus::tools {

bool IsClientVerb(const std::string& verb);
int RunClientVerb(const std::string& verb, const std::vector<std::string>& args);

// The lines of `shortbus --help` about these verbs and how the server is found.
extern const char kClientVerbsHelp[];

}  // namespace shortbus::tools

#endif  // SHORTBUS_TOOLS_CLIENT_VERBS_H_
