// The JetStream scenarios of shortbus-load: acknowledged publish into a
// stream and pull-consumer fetch, spoken as plain NATS protocol (PUB with a
// reply inbox, MSG/HMSG back) to any server with the JetStream API
// (nats-server -js, shortbusd). Each run creates its own stream through
// $JS.API.STREAM.CREATE and deletes it at the end.
//
//   jspub    --msgs N publishes of --size bytes on the stream's subject, each
//            with a reply inbox, --inflight of them awaiting their
//            {"stream":..,"seq":..} acknowledgement (1 = synchronous); acks
//            are matched to requests by the inbox's last token and each must
//            carry the stream's name and the sequence id + 1 (one publisher
//            on a fresh stream). Reports acks/s and publish-to-ack latency.
//            With a second server (--server2, synchronous only): publishes
//            alternate between the two, one result per server, whose rate is
//            messages over the sum of that server's own round trips (the
//            second server's stream is named --stream with "_B" appended).
//            --max-seconds S ends either form early, with fewer messages.
//   jsfetch  fills a fresh stream with --msgs messages (--inflight acks in
//            flight, untimed for the result; --max-seconds S fills fewer),
//            creates a durable pull consumer (ack policy --ack
//            explicit|none) and drains it with
//            $JS.API.CONSUMER.MSG.NEXT requests {"batch":B,"expires":5s},
//            one request at a time; under explicit acks every message is
//            answered "+ACK" on its $JS.ACK reply subject. Reports messages
//            delivered per second, then checks through CONSUMER.INFO that
//            nothing is left pending.
// Any JetStream error response, status message, missing or wrong ack, or
// out-of-order delivery ends the run with the request and the response.
#ifndef SHORTBUS_BENCH_LOAD_JETSTREAM_H_
#define SHORTBUS_BENCH_LOAD_JETSTREAM_H_

#include <string>

#include "bench/load/conn.h"

namespace shortbus::load {

struct JsOptions {
  bool json = false;
  std::string scenario;   // jspub or jsfetch
  std::string label, label2;
  std::string stream;     // stream name; its one subject is "bench." + lower-case name
  long msgs = 100000;
  long size = 128;
  long inflight = 1;      // unacknowledged publishes allowed
  long warmup = 0;        // jspub: first publishes left out of the figures
  long batch = 500;       // jsfetch: messages per pull request
  bool ack_explicit = true;  // jsfetch
  double timeout = 30;    // seconds any single wait may take
  // Publish nothing new after this many seconds from the start (beyond the
  // warm-up); the figures then cover the messages published. 0 = no limit.
  double max_seconds = 0;
};

void RunJsPub(const JsOptions& o, const Address& a, const std::string& name);
void RunJsPubPaired(const JsOptions& o, const Address& a, const Address& b,
                    const std::string& name);
void RunJsFetch(const JsOptions& o, const Address& a, const std::string& name);

}  // namespace shortbus::load

#endif  // SHORTBUS_BENCH_LOAD_JETSTREAM_H_
