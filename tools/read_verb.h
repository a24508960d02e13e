// `shortbus read STREAM [--from SEQ | --since TIME | --last N]
// [--subject FILTER] [--follow] [--json]`: prints a stream's messages from a
// point, then (with --follow) the ones stored after, as one sequence.
//
// How: ONE ephemeral push consumer on a fresh inbox (ack none, flow control,
// idle heartbeats, the filter, a deliver policy by_start_sequence /
// by_start_time / all), so the replay and the live tail come from the same
// cursor: no gap, no duplicate. Every delivery's reply subject carries its
// consumer sequence; a jump (a delivery the server dropped) or a heartbeat
// naming a later consumer sequence than the last seen starts a fresh
// consumer just after the last stream sequence printed, as the NATS
// clients' ordered consumers do.
// --last N: the start is found from STREAM.INFO's first/last sequence and
// the consumer's num_pending (widening the window while it holds fewer than
// N, which a filter or deleted messages can make), and the extra leading
// messages are skipped.
// Without --follow the read ends with the delivery whose pending count is 0
// (or when the consumer, idle, has nothing pending).
//
// Exit codes: 0 printed (or the reader of the output went away: `| head`),
// 1 error, 2 nothing to read (without --follow).
#ifndef SHORTBUS_TOOLS_READ_VERB_H_
#define SHORTBUS_TOOLS_READ_VERB_H_

#include <string>
#include <vector>

namespace shortbus::tools {

int RunRead(const std::vector<std::string>& args);

extern const char kReadUsage[];

}  // namespace shortbus::tools

#endif  // SHORTBUS_TOOLS_READ_VERB_H_
