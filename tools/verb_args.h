// Flags and positional arguments of one CLI verb: `--name value`,
// `--name=value`, switches (`--json`), `--` ends the flags, and a lone `-`
// is positional (stdin).
#ifndef SHORTBUS_TOOLS_VERB_ARGS_H_
#define SHORTBUS_TOOLS_VERB_ARGS_H_

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace shortbus::tools {

struct VerbArgs {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> values;  // "--server" -> each value given
  std::set<std::string> switches;                           // "--json", ...

  bool Has(const std::string& flag) const { return switches.count(flag) > 0 || values.count(flag) > 0; }
  // The last value of `flag`, or `fallback`.
  std::string Value(const std::string& flag, const std::string& fallback = "") const;
  // Parsed values; InvalidArgument naming the flag.
  absl::StatusOr<absl::Duration> Duration(const std::string& flag, absl::Duration fallback) const;
  absl::StatusOr<uint64_t> Count(const std::string& flag, uint64_t fallback) const;
  // A byte size: a number with an optional K, M, G or T (powers of 1024),
  // optionally followed by B or iB: 512, 64K, 10MiB, 1G.
  absl::StatusOr<uint64_t> Size(const std::string& flag, uint64_t fallback) const;
};

// InvalidArgument for an unknown flag or a flag without its value.
absl::StatusOr<VerbArgs> ParseVerbArgs(const std::vector<std::string>& args,
                                       const std::set<std::string_view>& value_flags,
                                       const std::set<std::string_view>& switch_flags);

}  // namespace shortbus::tools

#endif  // SHORTBUS_TOOLS_VERB_ARGS_H_
