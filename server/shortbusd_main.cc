// shortbusd: the shortbus daemon. Flags: server/daemon_flags.h (--help).
#include <cstdio>
#include <memory>
#include <string>

#include "server/daemon.h"
#include "server/daemon_flags.h"
#include "server/server_info.h"
#include "server/signal_watcher.h"

int main(int argc, char** argv) {
  using namespace shortbus::server;
  BlockStopSignals();  // before any thread starts
  absl::StatusOr<DaemonFlags> flags = ParseDaemonFlags(argc, argv);
  if (!flags.ok()) {
    std::fprintf(stderr, "shortbusd: %s (see shortbusd --help)\n",
                 std::string(flags.status().message()).c_str());
    return kUsageExit;
  }
  if (flags->help) {
    std::fputs(DaemonHelpText().c_str(), stdout);
    return 0;
  }
  if (flags->version) {
    std::printf("shortbusd %s (NATS client protocol of nats-server %s)\n",
                std::string(kShortbusVersion.substr(kShortbusVersion.find(' ') + 1)).c_str(),
                std::string(kNatsProtocolVersion).c_str());
    return 0;
  }
  absl::StatusOr<std::unique_ptr<Daemon>> daemon = Daemon::Create(*flags);
  if (!daemon.ok()) {
    std::fprintf(stderr, "shortbusd: %s\n", std::string(daemon.status().message()).c_str());
    return 1;
  }
  Daemon* d = daemon->get();
  absl::Status status;
  {
    SignalWatcher signals([d](int) { d->Shutdown(); });
    status = d->Run();
  }
  if (!status.ok()) {
    std::fprintf(stderr, "shortbusd: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
