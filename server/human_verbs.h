// Verbs for a person on the socket (`nc -U data/shortbus.sock`): list and
// show streams, create one, replay stored messages into one of your own
// subscriptions, show a consumer. No NATS client sends them, so they are
// harmless to clients. Each is answered with one line, "+<VERB> ..." on
// success or "-ERR '...'" (the connection stays open); REPLAY sends the
// messages first, as MSG/HMSG on the named subscription. docs/protocol.md
// ("Human verbs") specifies them with a transcript.
//
//   HELP
//   STREAMS
//   STREAM <name>
//   ADDSTREAM <name> <subject>[,<subject>...] [max_msgs=N] [max_bytes=N]
//             [max_age=DURATION] [retention=limits|workqueue|interest]
//             [sync=always|interval|never] [discard=old|new]
//   REPLAY <stream> <sid> [from=SEQ | since=TIME | last=N] [subject=FILTER]
//          [max=N]
//   CONSUMER <stream> <name>
//
// TIME is RFC 3339 or a duration back from now ("10m", "2h"). REPLAY sends
// at most max (default 1000, at most 100000) messages and says where to
// continue.
//
// Permissions: each verb but HELP needs publish permission on the
// JetStream API subject it stands for (STREAMS: $JS.API.STREAM.LIST,
// STREAM: $JS.API.STREAM.INFO.<name>, ADDSTREAM: $JS.API.STREAM.CREATE.<name>,
// REPLAY: $JS.API.STREAM.MSG.GET.<stream>, CONSUMER:
// $JS.API.CONSUMER.INFO.<stream>.<name>), so a client cannot do through a
// verb what the API would refuse it.
#ifndef SHORTBUS_SERVER_HUMAN_VERBS_H_
#define SHORTBUS_SERVER_HUMAN_VERBS_H_

#include "server/jetstream.h"
#include "server/server_core.h"

namespace shortbus::server {

class HumanVerbs : public VerbExtension {
 public:
  HumanVerbs() = default;
  // Set once the JetStream layer exists (it needs the core, which needs
  // this); until then every verb answers that streams are not available.
  void set_jetstream(JetStream* js) { js_ = js; }

  absl::Span<const VerbSpec> Verbs() const override;
  bool OnVerb(Session& session, const Frame& frame) override;

 private:
  void Streams(Session& session);
  void Stream(Session& session, const Frame& frame);
  void AddStream(Session& session, const Frame& frame);
  void Replay(Session& session, const Frame& frame);
  void Consumer(Session& session, const Frame& frame);

  JetStream* js_ = nullptr;
};

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_HUMAN_VERBS_H_
