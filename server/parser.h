// The NATS client protocol parser: a resumable, zero-copy state machine.
//
// Wire format (client → server), one frame at a time:
//   VERB [args] CRLF                      control line (LF alone accepted)
//   PUB subject [reply] size CRLF payload CRLF
//   HPUB subject [reply] hdr_size total_size CRLF headers+payload CRLF
// Verbs are case-insensitive and looked up in a table (kCoreVerbs plus the
// extra verbs given to the constructor), so new verbs are table rows, not
// new states. The state is named for what the bytes seen so far are.
//
// Zero copy: views handed to the handler point into the buffer given to
// Feed when the whole frame is in it. Only a frame torn across Feed calls
// is copied, into a scratch buffer owned by the parser and reused for the
// next torn frame (a capacity up to kKeepScratch is kept, so torn frames of
// a steady size allocate nothing; a larger one is given back after its
// frame). The scratch grows with the bytes that arrive, never ahead of
// them: a torn frame holds at most what was sent of it (a control line up
// to max_control_line, a payload up to max_payload). Views are valid only
// during the OnFrame call.
//
// Limits are checked as bytes arrive: a verb longer than kMaxVerbLength or
// an unknown verb fails at its delimiter; argument bytes beyond
// max_control_line fail at once; a declared size above max_payload fails
// before any payload byte is buffered. After an error the parser is dead
// and ignores further input.
//
// Not thread-safe; one parser per connection.
#ifndef SHORTBUS_SERVER_PARSER_H_
#define SHORTBUS_SERVER_PARSER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/types/span.h"

namespace shortbus::server {

// Verb identifiers. Extensions (issue 6: human verbs) use ids from
// kFirstExtensionVerb up.
enum CoreVerb : uint16_t {
  kVerbConnect = 1,
  kVerbPub,
  kVerbHpub,
  kVerbSub,
  kVerbUnsub,
  kVerbPing,
  kVerbPong,
  kVerbInfo,  // server→client; ignored from a client, as nats-server does
  kVerbOk,    // +OK: ignored from a client
  kVerbErr,   // -ERR: a client sending it is closed (nats-server)
  kFirstExtensionVerb = 64,
};

// How the bytes after a verb are framed.
enum class VerbShape : uint8_t {
  kLine,           // args split on spaces/tabs into Frame::args
  kRawLine,        // args kept whole in Frame::line (CONNECT's JSON)
  kPayload,        // split args, last = payload size; payload follows
  kHeaderPayload,  // split args, last two = header size, total size
  kRejected,       // known verb a client may not send (MSG, HMSG)
};

struct VerbSpec {
  std::string_view name;  // upper case; matched case-insensitively
  uint16_t id;
  VerbShape shape;
  // Split shapes: allowed argument counts, size arguments included
  // (PUB: 2..3, HPUB: 3..4). Otherwise kBadArguments.
  uint8_t min_args = 0;
  uint8_t max_args = 0;
};

// The client protocol of nats-server 2.9.
extern const std::array<VerbSpec, 12> kCoreVerbs;

inline constexpr size_t kMaxVerbLength = 16;
inline constexpr size_t kMaxArgs = 8;

// One parsed frame. Every view is valid only during Handler::OnFrame.
struct Frame {
  uint16_t verb = 0;
  std::string_view line;  // argument text after the verb, CR LF stripped
  std::array<std::string_view, kMaxArgs> args{};
  size_t argc = 0;        // for payload shapes: without the size args
  std::string_view headers;  // kHeaderPayload: the header block
  std::string_view payload;  // payload shapes: the body (after headers)
};

enum class ParseError : uint8_t {
  kUnknownOperation,    // unknown verb, rejected verb, empty line, no CRLF
                        // after the payload
  kMaxControlLine,      // argument bytes > max_control_line
  kMaxPayload,          // declared size > max_payload
  kBadArguments,        // wrong argument count or malformed size
};

class ParserHandler {
 public:
  virtual ~ParserHandler() = default;
  // Returns false to stop parsing (the connection is closing); the parser
  // then ignores the rest of the input.
  virtual bool OnFrame(const Frame& frame) = 0;
  virtual void OnParseError(ParseError error) = 0;
};

// Parses a size or count as the protocol writes it: decimal digits only,
// no sign, at most 18 of them. False on anything else.
bool ParseDecimal(std::string_view digits, uint64_t* out);

struct ParserLimits {
  size_t max_control_line = 4096;
  size_t max_payload = 1 << 20;
};

class Parser {
 public:
  // `extra_verbs` must outlive the parser (normally a static table); a name
  // in it shadows none of kCoreVerbs (core verbs are looked up first).
  Parser(ParserHandler* handler, ParserLimits limits,
         absl::Span<const VerbSpec> extra_verbs = {});

  // Parses data[0..n). May stop early when the handler says stop or on an
  // error; the rest is ignored, as is everything fed after.
  void Feed(const char* data, size_t n);

  bool dead() const { return state_ == State::kDead; }
  // True between frames: nothing of a frame is pending.
  bool idle() const { return state_ == State::kOpStart; }
  size_t scratch_capacity() const { return scratch_.capacity(); }
  static constexpr size_t kKeepScratch = 64 * 1024;

 private:
  enum class State : uint8_t {
    kOpStart,     // nothing of the frame seen
    kOpVerb,      // inside the verb
    kOpArgs,      // verb seen, inside the control line until LF
    kPayload,     // control line done, payload bytes remaining
    kPayloadEnd,  // payload done; expecting CR
    kPayloadEndN, // CR seen; expecting LF
    kDead,        // error or handler stop
  };

  const VerbSpec* LookUp(std::string_view verb) const;
  // The start of the current frame, whose bytes end at data[i): in `data`
  // from *seg, or in scratch_ once data[*seg, i) is appended to it.
  const char* FrameBase(const char* data, size_t i, size_t* seg);
  // Control line complete (LF at `lf`, relative to the frame start). Returns
  // false on error (already reported).
  bool EndControlLine(const char* base);
  // Hands the finished frame to the handler; false when it says stop.
  bool Dispatch(const char* base);
  void Fail(ParseError error);
  // Empties scratch_ (giving back a capacity above kKeepScratch).
  void EndScratch();

  ParserHandler* handler_;
  ParserLimits limits_;
  absl::Span<const VerbSpec> extra_verbs_;

  State state_ = State::kOpStart;
  const VerbSpec* verb_ = nullptr;
  // Offsets relative to the start of the current frame.
  size_t frame_len_ = 0;    // bytes of the frame seen so far
  size_t args_start_ = 0;   // first byte after the verb's delimiter
  size_t line_end_ = 0;     // the LF ending the control line
  size_t payload_left_ = 0; // payload bytes still to come
  size_t payload_len_ = 0;
  size_t header_len_ = 0;
  // Split arguments, as offsets from the frame start (the frame may move
  // into scratch_ before it is dispatched).
  std::array<uint32_t, kMaxArgs> arg_off_{};
  std::array<uint32_t, kMaxArgs> arg_len_{};
  size_t argc_ = 0;
  std::array<char, kMaxVerbLength> verb_buf_{};  // upper-cased
  size_t verb_len_ = 0;
  // Bytes of a frame torn across Feed calls; empty otherwise.
  std::string scratch_;
  bool in_scratch_ = false;
};

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_PARSER_H_
