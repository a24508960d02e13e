#include "server/subject.h"

#include <vector>

#include <string_view>

namespace shortbus::server {
namespace {

// The bytes nats-server refuses anywhere in a subject or queue name. Form
// feed is among them although the header's summary does not list it.
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

// Scans `subject` once. Valid: non-empty, no empty token, no whitespace, and
// nothing after a `>` token. Sets `*literal` to false when a token is exactly
// `*` or `>` (`a*`, `>b` are plain characters).
bool Scan(std::string_view subject, bool* literal) {
  *literal = true;
  if (subject.empty()) return false;
  bool after_fwc = false;
  size_t start = 0;
  for (size_t i = 0; i <= subject.size(); ++i) {
    if (i < subject.size() && subject[i] != '.') {
      if (IsSpace(subject[i])) return false;
      continue;
    }
    const std::string_view token = subject.substr(start, i - start);
    if (token.empty() || after_fwc) return false;
    if (token == ">") {
      after_fwc = true;
      *literal = false;
    } else if (token == "*") {
      *literal = false;
    }
    start = i + 1;
  }
  return true;
}

// The token of `s` starting at `pos`, and the position after its separator.
std::string_view TokenAt(std::string_view s, size_t pos, size_t* end) {
  size_t dot = s.find('.', pos);
  if (dot == std::string_view::npos) dot = s.size();
  *end = dot;
  return s.substr(pos, dot - pos);
}

}  // namespace

bool IsValidPublishSubject(std::string_view subject) {
  bool literal = false;
  return Scan(subject, &literal) && literal;
}

bool IsValidSubscribeSubject(std::string_view subject) {
  bool literal = false;
  return Scan(subject, &literal);
}

bool IsValidQueueName(std::string_view queue) {
  if (queue.empty()) return false;
  for (char c : queue) {
    if (IsSpace(c)) return false;
  }
  return true;
}

bool SubjectMatches(std::string_view pattern, std::string_view subject) {
  size_t p = 0;
  size_t s = 0;
  while (true) {
    size_t p_end = 0;
    size_t s_end = 0;
    const std::string_view pt = TokenAt(pattern, p, &p_end);
    const std::string_view st = TokenAt(subject, s, &s_end);
    // `>` takes this subject token and every one after it.
    if (pt == ">") return true;
    if (pt != "*" && pt != st) return false;
    const bool pattern_done = p_end == pattern.size();
    const bool subject_done = s_end == subject.size();
    if (pattern_done || subject_done) return pattern_done && subject_done;
    p = p_end + 1;
    s = s_end + 1;
  }
}

namespace {

std::vector<std::string_view> Tokens(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t dot = s.find('.', start);
    out.push_back(s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) return out;
    start = dot + 1;
  }
}

}  // namespace

bool SubjectsIntersect(std::string_view a, std::string_view b) {
  const std::vector<std::string_view> x = Tokens(a), y = Tokens(b);
  for (size_t i = 0;; ++i) {
    const bool x_end = i == x.size(), y_end = i == y.size();
    if (x_end || y_end) return x_end && y_end;
    if (x[i] == ">" || y[i] == ">") return true;  // each has a token here: '>' takes the rest
    if (x[i] != "*" && y[i] != "*" && x[i] != y[i]) return false;
  }
}

bool SubjectIsSubsetOf(std::string_view sub, std::string_view super) {
  const std::vector<std::string_view> x = Tokens(sub), y = Tokens(super);
  for (size_t i = 0;; ++i) {
    if (i == y.size()) return i == x.size();
    if (y[i] == ">") return i < x.size();
    if (i == x.size()) return false;
    if (x[i] == ">") return false;  // sub goes on where super does not
    if (y[i] == "*") continue;
    if (x[i] == "*" || x[i] != y[i]) return false;
  }
}

}  // namespace shortbus::server
