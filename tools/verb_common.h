// What every server-talking verb of the CLI shares: finding and dialling the
// server (--server, $SHORTBUS_URL, ...: tools/server_address.h), parsing its
// flags with the usage on error, reporting a failure, and writing result
// lines to standard output so that a closed pipe (`| head`) ends the verb.
#ifndef SHORTBUS_TOOLS_VERB_COMMON_H_
#define SHORTBUS_TOOLS_VERB_COMMON_H_

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/nats_client.h"
#include "tools/verb_args.h"

namespace shortbus::tools {

// "shortbus VERB: message" on stderr; returns 1 (the error exit code).
int Fail(std::string_view verb, const absl::Status& s);

// True when args hold --help or -h.
bool WantsHelp(const std::vector<std::string>& args);

// The verb's arguments, or nullopt after printing the problem and `usage` on
// stderr (a bad flag, or not between min and max positional arguments).
std::optional<VerbArgs> ParseOrUsage(std::string_view verb, const std::vector<std::string>& args,
                                     const std::set<std::string_view>& value_flags,
                                     const std::set<std::string_view>& switch_flags, size_t min_positional,
                                     size_t max_positional, const char* usage);

// Connects to the server the flags and environment name; errors name it.
// *resolved (when given) receives its address.
absl::StatusOr<std::unique_ptr<NatsClient>> DialServer(const VerbArgs& a, ServerAddress* resolved = nullptr);

// Standard output for verbs that print messages until told to stop. The
// constructor ignores SIGPIPE for the process, so a reader that went away
// shows as a failed write (EPIPE) instead of killing the verb before it
// cleans up.
class LineOutput {
 public:
  LineOutput();
  // Writes `line` and a newline; flushes when `flush`. False once a write
  // failed (the reader is gone, or the disk is full): stop writing.
  bool Write(std::string_view line, bool flush);
  bool Flush();
  // True when nobody reads standard output any more (a pipe whose reader
  // closed, a terminal hung up): checked while waiting for messages.
  bool ReaderGone();
  // The write error (errno), 0 when none or the reader went away (EPIPE).
  int error() const { return error_; }

 private:
  bool failed_ = false;
  int error_ = 0;
};

}  // namespace shortbus::tools

#endif  // SHORTBUS_TOOLS_VERB_COMMON_H_
