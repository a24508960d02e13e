#include "tools/js_verb.h"

#include <cstdio>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/verb_common.h"
#include "server/json_text.h"

namespace shortbus::tools {

int RunJsSubVerb(std::string_view group, const std::vector<std::string>& args, const std::vector<JsSubVerb>& subs,
                 const char* usage) {
  if (args.empty() || WantsHelp(args)) {
    std::fputs(usage, args.empty() ? stderr : stdout);
    return args.empty() ? 1 : 0;
  }
  const std::string& sub = args[0];
  const JsSubVerb* found = nullptr;
  for (const JsSubVerb& s : subs) {
    if (s.name == sub) found = &s;
  }
  if (found == nullptr) {
    std::fprintf(stderr, "shortbus %.*s: unknown verb `%s`\n", static_cast<int>(group.size()), group.data(),
                 sub.c_str());
    std::fputs(usage, stderr);
    return 1;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  const std::string verb = std::string(group) + " " + sub;
  std::optional<VerbArgs> a = ParseOrUsage(verb, rest, found->value_flags, found->switch_flags,
                                           found->min_positional, found->max_positional, usage);
  if (!a) return 1;
  auto client = DialServer(*a);
  if (!client.ok()) return Fail(verb, client.status());
  JsApi api(client->get());
  return found->run(&api, *a);
}

std::string Str(const Json& o, const char* key, const char* fallback) {
  return o.contains(key) && o[key].is_string() ? o[key].get<std::string>() : fallback;
}

Json InfoOnly(Json response) {
  for (const char* k : {"type", "did_create", "total", "offset", "limit"}) response.erase(k);
  return response;
}

int PrintInfoResponse(std::string_view verb, const absl::StatusOr<Json>& r, const VerbArgs& a,
                      void (*print)(const Json& info)) {
  if (!r.ok()) return Fail(verb, r.status());
  if (a.Has("--json")) {
    std::printf("%s\n", server::DumpJson(InfoOnly(*r)).c_str());
  } else {
    print(*r);
  }
  return 0;
}

absl::Status Deleted(const absl::StatusOr<Json>& r) {
  if (!r.ok()) return r.status();
  if (!r->value("success", false)) return absl::UnknownError("the server did not delete it");
  return absl::OkStatus();
}

absl::Status OneOf(const VerbArgs& a, const std::string& flag, std::initializer_list<const char*> allowed) {
  const std::string v = a.Value(flag);
  for (const char* x : allowed) {
    if (v == x) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(flag, " ", v, ": not one of ", absl::StrJoin(allowed, ", ")));
}

}  // namespace shortbus::tools
