// The NATS protocol parser (server/parser.h) on arbitrary bytes, fed whole,
// in pieces whose sizes the input chooses, and one byte at a time: the
// three must report the same frames and errors, and end in the same state
// (a differential check: how reads cut the stream never changes what it
// means). Every piece is overwritten once fed, so a view kept into the
// caller's buffer shows up as a difference.
//
// Input: [flags][n][n piece sizes][protocol bytes]
//   flags bit 0-1: limits (default 4096/1 MiB, or small ones that the
//                  input can exceed: 16/8, 64/64, 300/1000)
//   flags bit 2:   the human verbs (server/human_verbs.h) as extra verbs
//   flags bit 3-5: the handler stops after that many frames (0: never)
//   piece sizes:   each 0..255 (0 = a Feed of nothing), used in a cycle
// Per frame the record also checks what the parser promises: a known verb,
// argument counts within the verb's spec, no blank inside an argument,
// header and payload sizes as declared (re-read from the control line).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "server/human_verbs.h"
#include "server/parser.h"

namespace shortbus::server {
namespace {

constexpr ParserLimits kLimits[] = {
    {.max_control_line = 4096, .max_payload = 1 << 20},
    {.max_control_line = 16, .max_payload = 8},
    {.max_control_line = 64, .max_payload = 64},
    {.max_control_line = 300, .max_payload = 1000},
};

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "parser_fuzzer: %s: %s\n", what, detail.c_str());
  std::abort();
}

const VerbSpec* FindSpec(uint16_t id, absl::Span<const VerbSpec> extra) {
  for (const VerbSpec& v : kCoreVerbs) {
    if (v.id == id && v.shape != VerbShape::kRejected) return &v;
  }
  for (const VerbSpec& v : extra) {
    if (v.id == id) return &v;
  }
  return nullptr;
}

// Records every event as text and checks each frame's own invariants.
class Recorder : public ParserHandler {
 public:
  Recorder(absl::Span<const VerbSpec> extra, size_t stop_after)
      : extra_(extra), stop_after_(stop_after) {}

  bool OnFrame(const Frame& f) override {
    Check(f);
    std::string s = std::to_string(f.verb);
    s += "|line=";
    s += f.line;
    for (size_t a = 0; a < f.argc; ++a) {
      s += "|arg=";
      s += f.args[a];
    }
    s += "|h=";
    s += f.headers;
    s += "|p=";
    s += f.payload;
    events.push_back(std::move(s));
    ++frames_;
    return stop_after_ == 0 || frames_ < stop_after_;
  }

  void OnParseError(ParseError e) override {
    events.push_back("error " + std::to_string(static_cast<int>(e)));
  }

  std::vector<std::string> events;

 private:
  void Check(const Frame& f) const {
    const VerbSpec* spec = FindSpec(f.verb, extra_);
    if (spec == nullptr) Fail("unknown verb dispatched", std::to_string(f.verb));
    size_t size_args = 0;
    if (spec->shape == VerbShape::kPayload) size_args = 1;
    if (spec->shape == VerbShape::kHeaderPayload) size_args = 2;
    if (spec->shape == VerbShape::kRawLine) {
      if (f.argc != 0) Fail("raw line with split arguments", std::string(f.line));
    } else if (f.argc + size_args < spec->min_args || f.argc + size_args > spec->max_args) {
      Fail("argument count outside the verb's spec", std::string(f.line));
    }
    for (size_t a = 0; a < f.argc; ++a) {
      if (f.args[a].empty()) Fail("empty argument", std::string(f.line));
      for (char c : f.args[a]) {
        if (c == ' ' || c == '\t') Fail("blank inside an argument", std::string(f.line));
      }
    }
    if (size_args == 0) {
      if (!f.headers.empty() || !f.payload.empty()) Fail("payload on a line verb", std::string(f.line));
      return;
    }
    // The declared sizes are the last arguments of the control line.
    std::vector<std::string_view> words;
    std::string_view line = f.line;
    for (size_t i = 0; i < line.size();) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
      const size_t start = i;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
      if (i > start) words.push_back(line.substr(start, i - start));
    }
    if (words.size() != f.argc + size_args) Fail("control line words differ from the arguments", std::string(line));
    uint64_t total = 0, hdr = 0;
    if (!ParseDecimal(words.back(), &total)) Fail("payload size unreadable", std::string(line));
    if (size_args == 2 && !ParseDecimal(words[words.size() - 2], &hdr)) Fail("header size unreadable", std::string(line));
    if (f.headers.size() != hdr || f.headers.size() + f.payload.size() != total) {
      Fail("payload sizes differ from the control line", std::string(line));
    }
  }

  absl::Span<const VerbSpec> extra_;
  size_t stop_after_;
  size_t frames_ = 0;
};

struct Outcome {
  std::vector<std::string> events;
  bool dead = false;
  bool idle = false;
};

// Feeds `data` in pieces of the given sizes (cycled), overwriting each piece
// after Feed returns. Empty `sizes`: one Feed of everything.
Outcome Run(std::string_view data, const std::vector<size_t>& sizes, const ParserLimits& limits,
            absl::Span<const VerbSpec> extra, size_t stop_after) {
  Recorder r(extra, stop_after);
  Parser p(&r, limits, extra);
  std::string piece;
  size_t k = 0;
  for (size_t from = 0; from < data.size();) {
    const size_t n = sizes.empty() ? data.size() : std::min(sizes[k++ % sizes.size()], data.size() - from);
    piece.assign(data.substr(from, n));
    p.Feed(piece.data(), piece.size());
    piece.assign(piece.size(), '\xAA');
    from += n;
  }
  return {std::move(r.events), p.dead(), p.idle()};
}

void ExpectSame(const Outcome& whole, const Outcome& cut, const char* how) {
  if (whole.events != cut.events) {
    std::string detail;
    for (size_t i = 0; i < std::max(whole.events.size(), cut.events.size()); ++i) {
      const std::string w = i < whole.events.size() ? whole.events[i] : "<none>";
      const std::string c = i < cut.events.size() ? cut.events[i] : "<none>";
      if (w != c) {
        detail = "event " + std::to_string(i) + ": whole [" + w + "] vs [" + c + "]";
        break;
      }
    }
    Fail(how, detail);
  }
  if (whole.dead != cut.dead || whole.idle != cut.idle) Fail(how, "final parser state differs");
}

}  // namespace
}  // namespace shortbus::server

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shortbus::server;
  if (size < 2) return 0;
  static const HumanVerbs* human = new HumanVerbs();
  const uint8_t flags = data[0];
  const size_t n_sizes = data[1];
  if (size < 2 + n_sizes) return 0;
  std::vector<size_t> sizes(data + 2, data + 2 + n_sizes);
  const std::string_view stream(reinterpret_cast<const char*>(data) + 2 + n_sizes, size - 2 - n_sizes);
  const ParserLimits& limits = kLimits[flags & 3];
  const absl::Span<const VerbSpec> extra =
      (flags & 4) ? human->Verbs() : absl::Span<const VerbSpec>();
  const size_t stop_after = (flags >> 3) & 7;

  const Outcome whole = Run(stream, {}, limits, extra, stop_after);
  bool any_piece = false;
  for (size_t s : sizes) any_piece = any_piece || s != 0;
  if (any_piece) ExpectSame(whole, Run(stream, sizes, limits, extra, stop_after), "pieces differ from whole");
  if (stream.size() <= 4096) {
    ExpectSame(whole, Run(stream, {1}, limits, extra, stop_after), "byte at a time differs from whole");
  }
  return 0;
}
