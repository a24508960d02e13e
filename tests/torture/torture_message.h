// Messages of the daemon torture tests: each payload names the cycle and
// counter that made it and carries its own checksum, so that any message
// read back can be checked on its own (not garbage) and, when its
// publication was acknowledged, compared byte for byte with what was sent.
//
// Payload format (text, then filler, then the checksum):
//   "c=<cycle> n=<counter> " <filler> "#" <16 lowercase hex digits>
// where the filler is derived from (cycle, counter) and the hex digits are
// XXH3-64 of every byte before the '#'. Filler: 94% 1-400 bytes, 5% 2-8 KiB
// (more than a page), 1% 40-100 KiB (so that 1 MiB segments roll often).
#ifndef SHORTBUS_TESTS_TORTURE_TORTURE_MESSAGE_H_
#define SHORTBUS_TESTS_TORTURE_TORTURE_MESSAGE_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace shortbus::torture {

struct MessageId {
  uint64_t cycle = 0;
  uint64_t counter = 0;
};

// The payload of message (cycle, counter).
std::string PayloadFor(MessageId id);
// Its subject: "tort.a.<k>" for one message in three, else "tort.b.<k>".
std::string SubjectFor(MessageId id);
// True for subjects of the "tort.a.>" family.
bool IsFamilyA(std::string_view subject);

// Parses and checks a payload read back: false (and *why) when it is not
// exactly a payload this file makes.
bool CheckPayload(std::string_view payload, MessageId* id, std::string* why);

}  // namespace shortbus::torture

#endif  // SHORTBUS_TESTS_TORTURE_TORTURE_MESSAGE_H_
