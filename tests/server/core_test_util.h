// A ServerCore over a RecordingTransport, with helpers that type protocol
// text into a connection and read what came back.
#ifndef SHORTBUS_TESTS_SERVER_CORE_TEST_UTIL_H_
#define SHORTBUS_TESTS_SERVER_CORE_TEST_UTIL_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "server/server_core.h"
#include "tests/server/recording_transport.h"

namespace shortbus::server {

class CoreHarness {
 public:
  explicit CoreHarness(ServerOptions options = {}, VerbExtension* extension = nullptr);

  // Accepts `id` over TCP from 127.0.0.1 and drops its INFO line.
  void Accept(ClientId id);
  // Accepts, then sends CONNECT `json` and drops the answer.
  void Connect(ClientId id, std::string_view json = R"({"verbose":false})");
  void Type(ClientId id, std::string_view text);
  std::string Out(ClientId id) { return transport.Take(id); }
  void Tick(absl::Duration since_start) { core->OnTimer(start + since_start); }

  RecordingTransport transport;
  const absl::Time start = absl::FromUnixSeconds(1'000'000);
  std::unique_ptr<ServerCore> core;
};

}  // namespace shortbus::server

#endif  // SHORTBUS_TESTS_SERVER_CORE_TEST_UTIL_H_
