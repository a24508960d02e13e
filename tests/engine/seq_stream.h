// Streams whose every message is derived from its sequence number, for the
// tests that crash or cut the power of a writer and then check what is left
// (crash_test, power_loss_test): subject, headers and payload follow from
// the sequence alone, so whatever is read back can be compared byte for
// byte without remembering what was sent.
#ifndef SHORTBUS_TESTS_ENGINE_SEQ_STREAM_H_
#define SHORTBUS_TESTS_ENGINE_SEQ_STREAM_H_

#include <cstdint>
#include <string>
#include <vector>

#include "engine/record.h"

namespace shortbus::engine::testing {

// A length drawn from hash `h`: `big_pct`% in [big_min, big_min + big_span),
// `mid_pct`% in [mid_min, mid_min + mid_span), the rest in [1, 1 + small_span).
struct LengthMix {
  uint64_t big_pct, big_min, big_span;
  uint64_t mid_pct, mid_min, mid_span;
  uint64_t small_span;
};
size_t PickLength(uint64_t h, const LengthMix& mix);

// Payload length of `seq`: mostly small; 12% between 4 and 12 KiB (more than
// a page); 3% between 20 and 200 KiB, so that 1 MiB segments roll every few
// hundred messages.
size_t LenFor(uint64_t seq);
std::string SubjectFor(uint64_t seq);  // "crash.s<seq % 7>"
std::string HeadersFor(uint64_t seq);  // a header block for one in five, else empty

struct OwnedMessage {
  std::string subject, headers, payload;
  Message view() const { return Message{subject, headers, payload, 0}; }
};
OwnedMessage MessageFor(uint64_t seq);

// Reads the whole stream in `dir` with a Reader from sequence 1: every
// record must carry the next sequence, starting at 1, and exactly the
// subject, headers and payload derived from it (gtest assertions). Stores
// the last sequence. `may_be_absent`: the stream may not have been created
// yet (then *last_out is 0). `payload_hashes[seq]` caches the XXH3 of
// payloads compared byte for byte once already, so that each cycle's full
// read stays cheap as the stream grows.
void VerifyStream(const std::string& dir, bool may_be_absent, std::vector<uint64_t>* payload_hashes,
                  uint64_t* last_out);

}  // namespace shortbus::engine::testing

#endif  // SHORTBUS_TESTS_ENGINE_SEQ_STREAM_H_
