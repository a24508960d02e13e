#include "tools/stream_verbs.h"

#include <cstdio>
#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/js_api.h"
#include "tools/js_verb.h"
#include "server/time_text.h"
#include "tools/verb_common.h"
#include "server/json_text.h"

namespace shortbus::tools {

using server::ParseDurationArg;
using server::FormatDurationArg;

const char kStreamUsage[] =
    "usage: shortbus stream add NAME SUBJECT... [LIMITS] [--json]\n"
    "       shortbus stream ls [--json]\n"
    "       shortbus stream info NAME [--json]\n"
    "       shortbus stream rm NAME\n"
    "       shortbus stream purge NAME [--subject FILTER] [--keep N | --seq SEQ] [--json]\n"
    "(all take --server URL)\n"
    "\n"
    "add     creates stream NAME storing every message published on the SUBJECTs (wildcards\n"
    "        * and > allowed; two streams may not capture the same subject). LIMITS:\n"
    "  --max-msgs N              keep at most N messages\n"
    "  --max-bytes SIZE          keep at most SIZE bytes (512, 64K, 10M, 1G)\n"
    "  --max-age DURATION        drop messages older than this (30s, 10m, 2h, 1d)\n"
    "  --max-msg-size SIZE       refuse larger messages\n"
    "  --max-msgs-per-subject N  keep at most N messages of each subject\n"
    "  --discard old|new         at a limit, drop the oldest (default) or refuse new ones\n"
    "  --retention limits|workqueue|interest\n"
    "                            limits: keep until a limit (default); workqueue: remove a\n"
    "                            message once a consumer acknowledged it; interest: once\n"
    "                            every consumer did\n"
    "  --duplicate-window DURATION  how long a Nats-Msg-Id is remembered (default 2m)\n"
    "  --sync always|interval|never  shortbus: when an acknowledged publish is on disk\n"
    "                            (default: the daemon's --sync); other servers ignore it\n"
    "        A limit given as `unlimited` or -1 is no limit (the default for each).\n"
    "ls      one line a stream: NAME, messages, bytes, first..last sequence, subjects\n"
    "info    a stream's configuration and state\n"
    "rm      deletes a stream, its messages and its consumers\n"
    "purge   removes messages: all, those matching --subject, all but the last --keep N,\n"
    "        or those below sequence --seq SEQ; prints how many\n"
    "--json  add, info: the stream's info object; ls: one such object a line;\n"
    "        purge: {\"purged\":N}\n"
    "Exit 0 done, 1 error (the server's description on stderr).\n";

namespace {

using json = Json;

std::string Limit(const json& config, const char* key, bool bytes) {
  if (!config.contains(key) || !config[key].is_number_integer()) return "unlimited";
  const int64_t v = config[key].get<int64_t>();
  if (v < 0) return "unlimited";
  return bytes ? absl::StrCat(v, " B") : absl::StrCat(v);
}

std::string Duration(const json& config, const char* key) {
  if (!config.contains(key) || !config[key].is_number_integer() || config[key].get<int64_t>() <= 0) return "unlimited";
  return FormatDurationArg(absl::Nanoseconds(config[key].get<int64_t>()));
}

std::string Subjects(const json& config) {
  std::vector<std::string> s;
  if (config.contains("subjects") && config["subjects"].is_array()) {
    for (const json& x : config["subjects"]) {
      if (x.is_string()) s.push_back(x.get<std::string>());
    }
  }
  return absl::StrJoin(s, ", ");
}

void PrintInfo(const json& info) {
  const json config = info.value("config", json::object());
  const json state = info.value("state", json::object());
  std::printf("stream      %s\n", Str(config, "name").c_str());
  std::printf("subjects    %s\n", Subjects(config).c_str());
  std::printf("retention   %s, discard %s, storage %s\n", Str(config, "retention", "limits").c_str(),
              Str(config, "discard", "old").c_str(), Str(config, "storage", "file").c_str());
  std::printf("limits      max msgs %s, max bytes %s, max age %s, max msg size %s, max msgs per subject %s\n",
              Limit(config, "max_msgs", false).c_str(), Limit(config, "max_bytes", true).c_str(),
              Duration(config, "max_age").c_str(), Limit(config, "max_msg_size", true).c_str(),
              Limit(config, "max_msgs_per_subject", false).c_str());
  std::printf("duplicates  window %s\n", Duration(config, "duplicate_window").c_str());
  if (config.contains("sync")) std::printf("sync        %s\n", Str(config, "sync").c_str());
  std::printf("created     %s\n", Str(info, "created").c_str());
  const uint64_t messages = state.value("messages", uint64_t{0});
  std::printf("messages    %llu (%llu B)\n", static_cast<unsigned long long>(messages),
              static_cast<unsigned long long>(state.value("bytes", uint64_t{0})));
  if (messages > 0) {
    std::printf("first       seq %llu at %s\n", static_cast<unsigned long long>(state.value("first_seq", uint64_t{0})),
                Str(state, "first_ts").c_str());
    std::printf("last        seq %llu at %s\n", static_cast<unsigned long long>(state.value("last_seq", uint64_t{0})),
                Str(state, "last_ts").c_str());
  } else {
    std::printf("last        seq %llu\n", static_cast<unsigned long long>(state.value("last_seq", uint64_t{0})));
  }
  std::printf("consumers   %llu\n", static_cast<unsigned long long>(state.value("consumer_count", uint64_t{0})));
}

// Flag value for a count or size limit: -1 for `unlimited` / -1.
absl::StatusOr<int64_t> LimitFlag(const VerbArgs& a, const std::string& flag, bool size) {
  const std::string v = a.Value(flag);
  if (v == "unlimited" || v == "-1") return -1;
  absl::StatusOr<uint64_t> n = size ? a.Size(flag, 0) : a.Count(flag, 0);
  if (!n.ok()) return n.status();
  if (*n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " ", v, ": too large"));
  }
  return static_cast<int64_t>(*n);
}

absl::StatusOr<int64_t> DurationFlag(const VerbArgs& a, const std::string& flag) {
  const std::string v = a.Value(flag);
  if (v == "unlimited" || v == "-1") return 0;
  absl::StatusOr<absl::Duration> d = ParseDurationArg(v);
  if (!d.ok()) return absl::InvalidArgumentError(absl::StrCat(flag, " ", d.status().message()));
  return absl::ToInt64Nanoseconds(*d);
}

absl::StatusOr<json> AddConfig(const VerbArgs& a) {
  json config = {{"name", a.positional[0]}};
  config["subjects"] = std::vector<std::string>(a.positional.begin() + 1, a.positional.end());
  for (const char* flag : {"--max-msgs", "--max-msgs-per-subject", "--max-bytes", "--max-msg-size"}) {
    if (!a.Has(flag)) continue;
    const std::string f(flag);
    absl::StatusOr<int64_t> v = LimitFlag(a, f, f == "--max-bytes" || f == "--max-msg-size");
    if (!v.ok()) return v.status();
    std::string key = f.substr(2);
    for (char& c : key) c = c == '-' ? '_' : c;
    config[key] = *v;
  }
  if (a.Has("--max-age")) {
    absl::StatusOr<int64_t> ns = DurationFlag(a, "--max-age");
    if (!ns.ok()) return ns.status();
    config["max_age"] = *ns;
  }
  if (a.Has("--duplicate-window")) {
    absl::StatusOr<int64_t> ns = DurationFlag(a, "--duplicate-window");
    if (!ns.ok()) return ns.status();
    config["duplicate_window"] = *ns;
  }
  if (a.Has("--discard")) {
    if (absl::Status s = OneOf(a, "--discard", {"old", "new"}); !s.ok()) return s;
    config["discard"] = a.Value("--discard");
  }
  if (a.Has("--retention")) {
    if (absl::Status s = OneOf(a, "--retention", {"limits", "workqueue", "interest"}); !s.ok()) return s;
    config["retention"] = a.Value("--retention");
  }
  // Not a JetStream field: shortbusd reads it, nats-server ignores it.
  if (a.Has("--sync")) {
    if (absl::Status s = OneOf(a, "--sync", {"always", "interval", "never"}); !s.ok()) return s;
    config["sync"] = a.Value("--sync");
  }
  return config;
}

int RunAdd(JsApi* api, const VerbArgs& a) {
  absl::StatusOr<json> config = AddConfig(a);
  if (!config.ok()) return Fail("stream add", config.status());
  absl::StatusOr<json> r = api->Request(absl::StrCat("STREAM.CREATE.", a.positional[0]), *config);
  if (!r.ok()) return Fail("stream add", r.status());
  if (a.Has("--json")) {
    std::printf("%s\n", server::DumpJson(InfoOnly(*r)).c_str());
    return 0;
  }
  const bool existed = r->contains("did_create") && !r->value("did_create", true);
  std::printf("%s stream %s\n", existed ? "unchanged (same configuration):" : "created", a.positional[0].c_str());
  PrintInfo(*r);
  return 0;
}

int RunLs(JsApi* api, const VerbArgs& a) {
  absl::StatusOr<std::vector<json>> streams = api->List("STREAM.LIST", "streams");
  if (!streams.ok()) return Fail("stream ls", streams.status());
  for (const json& info : *streams) {
    if (a.Has("--json")) {
      std::printf("%s\n", server::DumpJson(info).c_str());
      continue;
    }
    const json config = info.value("config", json::object());
    const json state = info.value("state", json::object());
    std::printf("%-20s %10llu msgs %12llu B  seq %llu..%llu  %s\n", Str(config, "name").c_str(),
                static_cast<unsigned long long>(state.value("messages", uint64_t{0})),
                static_cast<unsigned long long>(state.value("bytes", uint64_t{0})),
                static_cast<unsigned long long>(state.value("first_seq", uint64_t{0})),
                static_cast<unsigned long long>(state.value("last_seq", uint64_t{0})), Subjects(config).c_str());
  }
  return 0;
}

int RunInfo(JsApi* api, const VerbArgs& a) {
  return PrintInfoResponse("stream info", api->Request(absl::StrCat("STREAM.INFO.", a.positional[0])), a, PrintInfo);
}

int RunRm(JsApi* api, const VerbArgs& a) {
  absl::Status s = Deleted(api->Request(absl::StrCat("STREAM.DELETE.", a.positional[0])));
  if (!s.ok()) return Fail("stream rm", s);
  std::printf("deleted stream %s\n", a.positional[0].c_str());
  return 0;
}

int RunPurge(JsApi* api, const VerbArgs& a) {
  if (a.Has("--keep") && a.Has("--seq")) {
    return Fail("stream purge", absl::InvalidArgumentError("--keep and --seq exclude each other"));
  }
  json body = json::object();
  if (a.Has("--subject")) body["filter"] = a.Value("--subject");
  for (const char* flag : {"--keep", "--seq"}) {
    if (!a.Has(flag)) continue;
    absl::StatusOr<uint64_t> n = a.Count(flag, 0);
    if (!n.ok()) return Fail("stream purge", n.status());
    body[std::string(flag).substr(2)] = *n;
  }
  absl::StatusOr<json> r = api->Request(absl::StrCat("STREAM.PURGE.", a.positional[0]), body.empty() ? json() : body);
  if (!r.ok()) return Fail("stream purge", r.status());
  const uint64_t purged = r->value("purged", uint64_t{0});
  if (a.Has("--json")) {
    std::printf("{\"purged\":%llu}\n", static_cast<unsigned long long>(purged));
  } else {
    std::printf("purged %llu messages from %s\n", static_cast<unsigned long long>(purged), a.positional[0].c_str());
  }
  return 0;
}

}  // namespace

int RunStreamVerb(const std::vector<std::string>& args) {
  static const std::vector<JsSubVerb> kSubs = {
      {"add",
       {"--server", "--max-msgs", "--max-bytes", "--max-age", "--max-msg-size", "--max-msgs-per-subject", "--discard",
        "--retention", "--duplicate-window", "--sync"},
       {"--json"},
       2,
       SIZE_MAX,
       RunAdd},
      {"ls", {"--server"}, {"--json"}, 0, 0, RunLs},
      {"info", {"--server"}, {"--json"}, 1, 1, RunInfo},
      {"rm", {"--server"}, {}, 1, 1, RunRm},
      {"purge", {"--server", "--subject", "--keep", "--seq"}, {"--json"}, 1, 1, RunPurge},
  };
  return RunJsSubVerb("stream", args, kSubs, kStreamUsage);
}

}  // namespace shortbus::tools
