#include "server/parser.h"

#include <algorithm>
#include <cstring>

namespace shortbus::server {

const std::array<VerbSpec, 12> kCoreVerbs = {{
    {"PUB", kVerbPub, VerbShape::kPayload, 2, 3},
    {"HPUB", kVerbHpub, VerbShape::kHeaderPayload, 3, 4},
    {"SUB", kVerbSub, VerbShape::kLine, 2, 3},
    {"UNSUB", kVerbUnsub, VerbShape::kLine, 1, 2},
    {"PING", kVerbPing, VerbShape::kRawLine},
    {"PONG", kVerbPong, VerbShape::kRawLine},
    {"CONNECT", kVerbConnect, VerbShape::kRawLine},
    {"INFO", kVerbInfo, VerbShape::kRawLine},
    {"+OK", kVerbOk, VerbShape::kRawLine},
    {"-ERR", kVerbErr, VerbShape::kRawLine},
    {"MSG", 0, VerbShape::kRejected},
    {"HMSG", 0, VerbShape::kRejected},
}};

namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

char Upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }

}  // namespace

bool ParseDecimal(std::string_view digits, uint64_t* out) {
  if (digits.empty() || digits.size() > 18) return false;
  uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

Parser::Parser(ParserHandler* handler, ParserLimits limits,
               absl::Span<const VerbSpec> extra_verbs)
    : handler_(handler), limits_(limits), extra_verbs_(extra_verbs) {}

const VerbSpec* Parser::LookUp(std::string_view verb) const {
  for (const VerbSpec& v : kCoreVerbs) {
    if (v.name == verb) return &v;
  }
  for (const VerbSpec& v : extra_verbs_) {
    if (v.name == verb) return &v;
  }
  return nullptr;
}

void Parser::Fail(ParseError error) {
  state_ = State::kDead;
  EndScratch();
  handler_->OnParseError(error);
}

void Parser::EndScratch() {
  scratch_.clear();
  in_scratch_ = false;
  if (scratch_.capacity() > kKeepScratch) std::string().swap(scratch_);
}

const char* Parser::FrameBase(const char* data, size_t i, size_t* seg) {
  if (!in_scratch_) return data + *seg;
  scratch_.append(data + *seg, i - *seg);
  *seg = i;
  return scratch_.data();
}

void Parser::Feed(const char* data, size_t n) {
  size_t i = 0;
  // Start in `data` of the current frame's bytes not yet in scratch_.
  size_t seg = 0;
  while (i < n) {
    switch (state_) {
      case State::kDead:
        return;

      case State::kOpStart:
        seg = i;
        frame_len_ = 0;
        verb_len_ = 0;
        verb_ = nullptr;
        state_ = State::kOpVerb;
        [[fallthrough]];

      case State::kOpVerb: {
        const char c = data[i];
        if (!IsBlank(c) && c != '\r' && c != '\n') {
          if (verb_len_ == kMaxVerbLength) return Fail(ParseError::kUnknownOperation);
          verb_buf_[verb_len_++] = Upper(c);
          ++frame_len_;
          ++i;
          break;
        }
        verb_ = LookUp(std::string_view(verb_buf_.data(), verb_len_));
        if (verb_ == nullptr || verb_->shape == VerbShape::kRejected) {
          return Fail(ParseError::kUnknownOperation);
        }
        if (IsBlank(c)) {
          ++frame_len_;
          ++i;
        }
        // CR or LF: left for kOpArgs, so an empty argument line ends there.
        args_start_ = frame_len_;
        state_ = State::kOpArgs;
        break;
      }

      case State::kOpArgs: {
        const void* lf = std::memchr(data + i, '\n', n - i);
        if (lf == nullptr) {
          frame_len_ += n - i;
          i = n;
          // One byte of slack: a trailing CR is not an argument byte.
          if (frame_len_ - args_start_ > limits_.max_control_line + 1) {
            return Fail(ParseError::kMaxControlLine);
          }
          break;
        }
        const size_t j = static_cast<const char*>(lf) - data;
        frame_len_ += j - i;
        line_end_ = frame_len_;
        ++frame_len_;
        i = j + 1;
        if (!EndControlLine(FrameBase(data, i, &seg))) return;
        break;
      }

      case State::kPayload: {
        const size_t take = std::min(payload_left_, n - i);
        i += take;
        frame_len_ += take;
        payload_left_ -= take;
        if (payload_left_ == 0) state_ = State::kPayloadEnd;
        break;
      }

      case State::kPayloadEnd:
        if (data[i] != '\r') return Fail(ParseError::kUnknownOperation);
        ++i;
        ++frame_len_;
        state_ = State::kPayloadEndN;
        break;

      case State::kPayloadEndN: {
        if (data[i] != '\n') return Fail(ParseError::kUnknownOperation);
        ++i;
        ++frame_len_;
        if (!Dispatch(FrameBase(data, i, &seg))) return;
        break;
      }
    }
  }
  if (state_ == State::kOpStart || state_ == State::kDead) return;
  // A frame is torn at the end of this buffer: keep its bytes.
  if (!in_scratch_) {
    scratch_.clear();
    in_scratch_ = true;
  }
  if (state_ == State::kPayload || state_ == State::kPayloadEnd ||
      state_ == State::kPayloadEndN) {
    // Grown with the bytes that arrived (doubling), never past the whole
    // frame: a declared size alone reserves nothing, so a client that
    // declares max_payload and trickles holds only what it sent.
    const size_t frame = line_end_ + 1 + payload_len_ + 2;
    const size_t need = scratch_.size() + (n - seg);
    if (need > scratch_.capacity()) {
      scratch_.reserve(std::min(frame, std::max(need, 2 * scratch_.capacity())));
    }
  }
  scratch_.append(data + seg, n - seg);
}

bool Parser::EndControlLine(const char* base) {
  size_t end = line_end_;
  if (end > args_start_ && base[end - 1] == '\r') --end;
  if (end - args_start_ > limits_.max_control_line) {
    Fail(ParseError::kMaxControlLine);
    return false;
  }
  argc_ = 0;
  payload_len_ = 0;
  header_len_ = 0;
  if (verb_->shape != VerbShape::kRawLine) {
    size_t k = args_start_;
    while (true) {
      while (k < end && (IsBlank(base[k]) || base[k] == '\r')) ++k;
      if (k == end) break;
      const size_t start = k;
      while (k < end && !IsBlank(base[k])) ++k;
      if (argc_ == kMaxArgs) {
        Fail(ParseError::kBadArguments);
        return false;
      }
      arg_off_[argc_] = static_cast<uint32_t>(start);
      arg_len_[argc_] = static_cast<uint32_t>(k - start);
      ++argc_;
    }
    if (argc_ < verb_->min_args || argc_ > verb_->max_args) {
      Fail(ParseError::kBadArguments);
      return false;
    }
  }
  auto arg = [&](size_t a) {
    return std::string_view(base + arg_off_[a], arg_len_[a]);
  };
  switch (verb_->shape) {
    case VerbShape::kPayload:
      if (!ParseDecimal(arg(argc_ - 1), &payload_len_)) {
        Fail(ParseError::kBadArguments);
        return false;
      }
      --argc_;
      break;
    case VerbShape::kHeaderPayload:
      if (!ParseDecimal(arg(argc_ - 2), &header_len_) ||
          !ParseDecimal(arg(argc_ - 1), &payload_len_) ||
          header_len_ > payload_len_) {
        Fail(ParseError::kBadArguments);
        return false;
      }
      argc_ -= 2;
      break;
    default:
      return Dispatch(base);
  }
  if (payload_len_ > limits_.max_payload) {
    Fail(ParseError::kMaxPayload);
    return false;
  }
  payload_left_ = payload_len_;
  state_ = payload_len_ == 0 ? State::kPayloadEnd : State::kPayload;
  return true;
}

bool Parser::Dispatch(const char* base) {
  size_t end = line_end_;
  if (end > args_start_ && base[end - 1] == '\r') --end;
  // On the stack, not in the parser: an idle session does not carry it.
  Frame frame;
  frame.verb = verb_->id;
  frame.line = std::string_view(base + args_start_, end - args_start_);
  frame.argc = argc_;
  for (size_t a = 0; a < argc_; ++a) {
    frame.args[a] = std::string_view(base + arg_off_[a], arg_len_[a]);
  }
  const char* payload = base + line_end_ + 1;
  frame.headers = std::string_view(payload, header_len_);
  frame.payload = std::string_view(payload + header_len_, payload_len_ - header_len_);
  state_ = State::kOpStart;
  const bool go_on = handler_->OnFrame(frame);
  if (in_scratch_) EndScratch();
  if (!go_on) state_ = State::kDead;
  return go_on;
}

}  // namespace shortbus::server
