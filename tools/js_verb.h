// What the JetStream verb groups (`shortbus stream ...`, `shortbus consumer
// ...`) share: running a sub-verb from a table (flags, positional count,
// usage, one JsApi on a dialled connection), and reading and checking the
// JSON and flags they print and send.
#ifndef SHORTBUS_TOOLS_JS_VERB_H_
#define SHORTBUS_TOOLS_JS_VERB_H_

#include <cstddef>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tools/js_api.h"
#include "tools/verb_args.h"

namespace shortbus::tools {

// One sub-verb of a group: its flags (--server among them), how many
// positional arguments it takes, and what runs it on a connected JsApi
// (returns the exit code).
struct JsSubVerb {
  std::string_view name;
  std::set<std::string_view> value_flags;
  std::set<std::string_view> switch_flags;
  size_t min_positional, max_positional;
  int (*run)(JsApi* api, const VerbArgs& a);
};

// Runs `shortbus GROUP SUB ARGS...` (`args` follow GROUP): no arguments
// prints `usage` on stderr and returns 1; --help or -h prints it on stdout
// and returns 0; an unknown SUB, bad flags or a server that cannot be
// reached print the problem ("shortbus GROUP SUB: ...") and return 1.
int RunJsSubVerb(std::string_view group, const std::vector<std::string>& args, const std::vector<JsSubVerb>& subs,
                 const char* usage);

// o[key] when it is a string, else `fallback`.
std::string Str(const Json& o, const char* key, const char* fallback = "-");

// A STREAM/CONSUMER info response without what belongs to the response
// around the info object: its "type", "did_create", and the paging fields
// some servers add.
Json InfoOnly(Json response);

// What `info` and `add` print of a STREAM/CONSUMER info response `r`: with
// --json the info object on one line (InfoOnly), else print(info). Returns
// the exit code: 0, or 1 after Fail(verb, ...) when the request failed.
int PrintInfoResponse(std::string_view verb, const absl::StatusOr<Json>& r, const VerbArgs& a,
                      void (*print)(const Json& info));

// OK when a STREAM/CONSUMER.DELETE response `r` says it deleted; else the
// request's error, or an error saying it did not.
absl::Status Deleted(const absl::StatusOr<Json>& r);

// OK when the value of `flag` is one of `allowed`, else an error naming them.
absl::Status OneOf(const VerbArgs& a, const std::string& flag, std::initializer_list<const char*> allowed);

}  // namespace shortbus::tools

#endif  // SHORTBUS_TOOLS_JS_VERB_H_
