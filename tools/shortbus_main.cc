// shortbus: the command line. Offline verbs (verify, dump, reindex) open a
// data directory directly; pub, sub, req, reply and status talk to a server
// (tools/client_verbs.h); stream, consumer and read use the JetStream API
// (tools/stream_verbs.h, tools/consumer_verbs.h, tools/read_verb.h).
//
// Exit codes: 0 success, 1 error (or problems found), 2 nothing to read.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "index/reindex.h"
#include "tools/client_verbs.h"
#include "tools/consumer_verbs.h"
#include "tools/dump.h"
#include "tools/read_verb.h"
#include "tools/stream_verbs.h"
#include "tools/verify.h"

namespace {

constexpr char kUsage[] =
    "usage: shortbus VERB [ARGS]\n"
    "\n"
    "Offline verbs (on a data directory, with or without a running server):\n"
    "  verify DIR                          check every frame of every stream; exit 0 clean, 1 problems\n"
    "  dump DIR STREAM [--from SEQ] [--json]  print a stream's records; exit 2 when there are none\n"
    "  reindex DIR                         rebuild DIR's index from its logs (no server running)\n"
    "\n"
    "%s"
    "\n"
    "Streams and consumers (JetStream API; shortbusd, or nats-server -js):\n"
    "  stream add|ls|info|rm|purge           create, list, show, delete, empty streams\n"
    "  consumer add|ls|info|next|rm          durable consumers; next fetches, prints and acknowledges\n"
    "  read STREAM [--from SEQ | --since TIME | --last N] [--subject FILTER] [--follow] [--json]\n"
    "                                        replay a stream, then (--follow) print new messages\n"
    "\n"
    "Exit codes: 0 success, 1 error (or problems found), 2 nothing to read.\n"
    "`shortbus VERB --help` describes a verb.\n";

void PrintUsage(FILE* to) { std::fprintf(to, kUsage, shortbus::tools::kClientVerbsHelp); }

constexpr char kVerifyUsage[] =
    "usage: shortbus verify DIR\n"
    "\n"
    "Reads every segment of every stream under DIR/streams/ (or of the stream DIR itself),\n"
    "checking each frame's checksum, that sequences run on without a gap, and that nothing\n"
    "recorded as durable is damaged. Then checks the index against the logs: every stream\n"
    "in the catalogue and back, nothing indexed past a log's end, every sequence entry and\n"
    "every subject's last sequence pointing at the right frame. Changes nothing; safe\n"
    "beside a running server. Draws a progress bar on a terminal.\n"
    "Problems: damaged durable data, gaps, bad headers, a wrong index.\n"
    "Notes (not problems): an unrecovered tail a crashed writer left (the next open cuts\n"
    "it), an index behind its log, files kept by an earlier recovery.\n"
    "Exit 0 clean, 1 problems found.\n";

constexpr char kDumpUsage[] =
    "usage: shortbus dump DIR STREAM [--from SEQ] [--json]\n"
    "\n"
    "Prints the records of STREAM (DIR/streams/STREAM), one a line:\n"
    "  SEQ  TIME  SUBJECT  [headers H]  N B  PAYLOAD   (non-printable bytes as \\xNN)\n"
    "  --from SEQ  start at sequence SEQ (default: the first retained)\n"
    "  --json      one JSON object a line: seq, time, subject, headers, size, and data\n"
    "              (or data_base64 when the payload is not UTF-8)\n"
    "Exit 0 printed, 1 error, 2 nothing to print.\n";

constexpr char kReindexUsage[] =
    "usage: shortbus reindex DIR\n"
    "\n"
    "Rebuilds the index of the data directory DIR from its logs: the stream catalogue from\n"
    "each stream's CONFIG, then every log indexed from its start. The old index is moved\n"
    "aside (DIR/index.old-<time>), never deleted. Needs the data directory to itself: it\n"
    "refuses while a server has it open. Consumers and deleted messages live only in the\n"
    "index: they are carried over from the old index when it can still be read, and a\n"
    "WARNING says when they could not be.\n"
    "Exit 0 rebuilt, 1 error or a stream that could not be restored.\n";

bool WantsHelp(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") return true;
  }
  return false;
}

int RunVerify(const std::vector<std::string>& args) {
  if (WantsHelp(args)) {
    std::fputs(kVerifyUsage, stdout);
    return 0;
  }
  if (args.size() != 1) {
    std::fputs(kVerifyUsage, stderr);
    return 1;
  }
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  int last_pct = -1;
  shortbus::tools::VerifyReport report = shortbus::tools::Verify(args[0], [&](uint64_t done, uint64_t total) {
    if (!tty || total == 0) return;
    const int pct = static_cast<int>(done * 100 / total);
    if (pct == last_pct) return;
    last_pct = pct;
    std::fprintf(stderr, "\r[%-40s] %3d%%", std::string(static_cast<size_t>(pct * 40 / 100), '#').c_str(), pct);
    std::fflush(stderr);
  });
  if (tty && last_pct >= 0) std::fputs("\n", stderr);
  for (const auto& f : report.findings) {
    std::printf("%s: %s: %s\n", f.problem ? "PROBLEM" : "note", f.where.c_str(), f.what.c_str());
  }
  size_t problems = 0;
  for (const auto& f : report.findings) problems += f.problem ? 1 : 0;
  std::printf("%llu streams, %llu segments, %llu frames (%llu bytes) checked: %s\n",
              static_cast<unsigned long long>(report.streams), static_cast<unsigned long long>(report.segments),
              static_cast<unsigned long long>(report.frames), static_cast<unsigned long long>(report.bytes),
              problems == 0 ? "clean" : (std::to_string(problems) + " problems").c_str());
  return problems == 0 ? 0 : 1;
}

int RunDump(const std::vector<std::string>& args) {
  if (WantsHelp(args)) {
    std::fputs(kDumpUsage, stdout);
    return 0;
  }
  std::vector<std::string> positional;
  shortbus::tools::DumpOptions options;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--json") {
      options.json = true;
    } else if (args[i] == "--from") {
      if (i + 1 == args.size()) {
        std::fputs("shortbus dump: --from needs a sequence number\n", stderr);
        return 1;
      }
      char* end = nullptr;
      options.from_seq = std::strtoull(args[++i].c_str(), &end, 10);
      if (end == nullptr || *end != '\0' || args[i].empty()) {
        std::fprintf(stderr, "shortbus dump: --from %s: not a sequence number\n", args[i].c_str());
        return 1;
      }
    } else if (!args[i].empty() && args[i][0] == '-') {
      std::fprintf(stderr, "shortbus dump: unknown flag %s\n%s", args[i].c_str(), kDumpUsage);
      return 1;
    } else {
      positional.push_back(args[i]);
    }
  }
  if (positional.size() != 2) {
    std::fputs(kDumpUsage, stderr);
    return 1;
  }
  return shortbus::tools::Dump(positional[0], positional[1], options, stdout, stderr);
}

int RunReindex(const std::vector<std::string>& args) {
  if (WantsHelp(args)) {
    std::fputs(kReindexUsage, stdout);
    return 0;
  }
  if (args.size() != 1) {
    std::fputs(kReindexUsage, stderr);
    return 1;
  }
  absl::StatusOr<shortbus::index::ReindexReport> report = shortbus::index::Reindex(args[0], {});
  if (!report.ok()) {
    std::fprintf(stderr, "shortbus reindex: %s\n", std::string(report.status().message()).c_str());
    return 1;
  }
  for (const auto& p : report->problems) std::printf("PROBLEM: %s\n", p.c_str());
  if (!report->old_index.empty()) std::printf("old index kept at %s\n", report->old_index.c_str());
  // Not a failure of the rebuild (exit code): the logs are whole; what may
  // be gone is state the logs never held, said loudly.
  if (!report->lost_index_only_state.empty()) std::printf("WARNING: %s\n", report->lost_index_only_state.c_str());
  std::printf("%zu streams restored, %llu messages indexed, %llu consumers and %llu deleted ranges carried over\n",
              report->streams.size(), static_cast<unsigned long long>(report->messages_indexed),
              static_cast<unsigned long long>(report->consumers_restored),
              static_cast<unsigned long long>(report->deleted_ranges_restored));
  return report->problems.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    PrintUsage(args.empty() ? stderr : stdout);
    return args.empty() ? 1 : 0;
  }
  const std::string verb = args[0];
  args.erase(args.begin());
  if (verb == "verify") return RunVerify(args);
  if (verb == "dump") return RunDump(args);
  if (verb == "reindex") return RunReindex(args);
  if (verb == "stream") return shortbus::tools::RunStreamVerb(args);
  if (verb == "consumer") return shortbus::tools::RunConsumerVerb(args);
  if (verb == "read") {
    if (WantsHelp(args)) {
      std::fputs(shortbus::tools::kReadUsage, stdout);
      return 0;
    }
    return shortbus::tools::RunRead(args);
  }
  if (shortbus::tools::IsClientVerb(verb)) return shortbus::tools::RunClientVerb(verb, args);
  std::fprintf(stderr, "shortbus: `%s` is not available in this build\n\n", verb.c_str());
  PrintUsage(stderr);
  return 1;
}
