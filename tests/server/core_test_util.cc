#include "tests/server/core_test_util.h"

namespace shortbus::server {

CoreHarness::CoreHarness(ServerOptions options, VerbExtension* extension)
    : core(std::make_unique<ServerCore>(std::move(options), &transport, extension)) {
  core->OnTimer(start);
}

void CoreHarness::Accept(ClientId id) {
  core->OnAccept(id, ConnKind::kTcp, "127.0.0.1");
  transport.Take(id);
}

void CoreHarness::Connect(ClientId id, std::string_view json) {
  Accept(id);
  Type(id, "CONNECT " + std::string(json) + "\r\n");
  transport.Take(id);
}

void CoreHarness::Type(ClientId id, std::string_view text) {
  std::string copy(text);  // overwritten below: nothing may point into it
  core->OnData(id, copy.data(), copy.size());
  std::fill(copy.begin(), copy.end(), '#');
}

}  // namespace shortbus::server
