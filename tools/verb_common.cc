#include "tools/verb_common.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace shortbus::tools {

int Fail(std::string_view verb, const absl::Status& s) {
  std::fprintf(stderr, "shortbus %.*s: %s\n", static_cast<int>(verb.size()), verb.data(),
               std::string(s.message()).c_str());
  return 1;
}

bool WantsHelp(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "--") break;
    if (a == "--help" || a == "-h") return true;
  }
  return false;
}

std::optional<VerbArgs> ParseOrUsage(std::string_view verb, const std::vector<std::string>& args,
                                     const std::set<std::string_view>& value_flags,
                                     const std::set<std::string_view>& switch_flags, size_t min_positional,
                                     size_t max_positional, const char* usage) {
  absl::StatusOr<VerbArgs> a = ParseVerbArgs(args, value_flags, switch_flags);
  if (a.ok() && a->positional.size() >= min_positional && a->positional.size() <= max_positional) return *a;
  if (!a.ok()) Fail(verb, a.status());
  std::fputs(usage, stderr);
  return std::nullopt;
}

absl::StatusOr<std::unique_ptr<NatsClient>> DialServer(const VerbArgs& a, ServerAddress* resolved) {
  absl::StatusOr<ServerAddress> address = ResolveServerAddress(a.Value("--server"), std::getenv("SHORTBUS_URL"));
  if (!address.ok()) return address.status();
  AddCredentialsFromEnv(&*address, std::getenv("SHORTBUS_USER"), std::getenv("SHORTBUS_PASSWORD"),
                        std::getenv("SHORTBUS_TOKEN"));
  if (resolved != nullptr) *resolved = *address;
  absl::StatusOr<std::unique_ptr<NatsClient>> c = NatsClient::Connect(*address);
  if (!c.ok()) {
    return absl::Status(c.status().code(), absl::StrCat(address->ToString(), ": ", c.status().message()));
  }
  return c;
}

LineOutput::LineOutput() { ::signal(SIGPIPE, SIG_IGN); }

bool LineOutput::Write(std::string_view line, bool flush) {
  if (failed_) return false;
  if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size() || std::fputc('\n', stdout) == EOF) {
    failed_ = true;
    error_ = errno == EPIPE ? 0 : errno;
    return false;
  }
  return flush ? Flush() : true;
}

bool LineOutput::Flush() {
  if (failed_) return false;
  if (std::fflush(stdout) != 0) {
    failed_ = true;
    error_ = errno == EPIPE ? 0 : errno;
  }
  return !failed_;
}

bool LineOutput::ReaderGone() {
  if (failed_) return true;
  pollfd p{STDOUT_FILENO, 0, 0};
  if (::poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)) != 0) failed_ = true;
  return failed_;
}

}  // namespace shortbus::tools
