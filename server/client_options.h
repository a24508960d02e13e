// The CONNECT options of one client, as nats-server 2.9 reads them.
//
// CONNECT {json}: every field is optional; a field present replaces the
// current value, an absent one keeps it (a second CONNECT updates the
// first). Unknown fields are ignored, as nats-server does; a known field of
// the wrong JSON type, or text that is not a JSON object, is an error.
// Before any CONNECT, the defaults below apply (nats-server's: verbose and
// pedantic on).
#ifndef SHORTBUS_SERVER_CLIENT_OPTIONS_H_
#define SHORTBUS_SERVER_CLIENT_OPTIONS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace shortbus::server {

struct ClientOptions {
  bool verbose = true;        // +OK after every accepted PUB/HPUB/SUB/UNSUB/CONNECT
  bool pedantic = true;       // -ERR 'Invalid Publish Subject' for bad PUB subjects
  bool echo = true;           // deliver own publishes to own subscriptions
  bool headers = false;       // may send HPUB and receive HMSG
  bool no_responders = false; // wants a 503 HMSG when a request has no responder
  bool tls_required = false;
  int64_t protocol = 0;
  std::string name, lang, version;
  std::string auth_token, user, pass;
};

// Applies the CONNECT argument `json` over `options`. InvalidArgument when
// it is not a JSON object or a known field has the wrong type.
absl::Status ApplyConnectJson(std::string_view json, ClientOptions* options);

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_CLIENT_OPTIONS_H_
