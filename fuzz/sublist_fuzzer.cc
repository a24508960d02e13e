// The subject router (server/sublist.h) against a reference written here:
// a plain list of live subscriptions and a token-by-token matcher, with
// nothing shared with the trie, its cache or server/subject.cc.
//
// The input is a program of operations, one byte of opcode each:
//   insert SUBJECT QUEUE   OK exactly when the reference says the subject
//                          (and queue name) is valid
//   remove live #k         OK; remove of a removed one: NotFound
//   match / match-once SUBJECT
//                          a literal subject: the reference's answer, in
//                          subscription order, queue groups by oldest
//                          member; asked twice, so the cached answer is
//                          checked too; a subject with an empty token
//                          matches nothing
//   clear the cache, or flood it with 1,100 distinct subjects (eviction)
// and after every operation: count, generation (bumped by every successful
// insert and remove only), the cache bound, and no trie node left once
// every subscription is gone. Subjects are built from a table of tokens
// chosen to collide (a, b, *, >, empty, blanks, "*x", form feed) and can
// run past the router's 64-token stack array.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/sublist.h"
#include "server/subscription.h"
#include "tests/server/sublist_reference.h"

namespace {

using shortbus::server::MatchResult;
using shortbus::server::Sublist;
using shortbus::server::Subscription;

constexpr size_t kCacheBound = 1024;  // sublist.cc's kMaxCacheEntries

[[noreturn]] void Fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "sublist_fuzzer: %s: '%.*s'\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

// ---- the reference ----

std::vector<std::string_view> Split(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t dot = s.find('.', start);
    if (dot == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, dot - start));
    start = dot + 1;
  }
}

bool HasSpace(std::string_view s) {
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') return true;
  }
  return false;
}

// nats-server's rules: tokens non-empty, no whitespace, `>` only last.
bool RefValidSubscribe(std::string_view s) {
  if (s.empty() || HasSpace(s)) return false;
  const std::vector<std::string_view> t = Split(s);
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i].empty()) return false;
    if (t[i] == ">" && i + 1 != t.size()) return false;
  }
  return true;
}

bool RefLiteral(std::string_view s) {
  for (std::string_view tok : Split(s)) {
    if (tok == "*" || tok == ">") return false;
  }
  return true;
}

bool RefMatches(std::string_view pattern, std::string_view subject) {
  const std::vector<std::string_view> p = Split(pattern);
  const std::vector<std::string_view> s = Split(subject);
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == ">") return s.size() > i;
    if (i >= s.size()) return false;
    if (p[i] != "*" && p[i] != s[i]) return false;
  }
  return p.size() == s.size();
}

// ---- decoding the program ----

class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  bool empty() const { return p_ == end_; }
  uint8_t Byte() { return p_ == end_ ? 0 : *p_++; }

  std::string Subject() {
    static constexpr std::string_view kTokens[] = {
        "a", "b", "c", "foo", "bar", "*", ">", "*", ">", "a",
        "", "x y", "*x", ">>", "\f", "$JS", "_INBOX", "b",
    };
    const uint8_t shape = Byte();
    size_t n = 1 + shape % 5;
    if (shape == 255) n = 70;  // past the 64-token stack array
    std::string s;
    for (size_t i = 0; i < n; ++i) {
      if (i > 0) s += '.';
      const uint8_t t = Byte();
      if (shape == 255) {
        s += "t";  // long but literal: t.t.t....
        if (t % 7 == 0) s += std::to_string(t);
        continue;
      }
      s += kTokens[t % std::size(kTokens)];
    }
    return s;
  }

  std::string Queue() {
    static constexpr std::string_view kQueues[] = {"", "", "q1", "q2", "q 3", "q1"};
    return std::string(kQueues[Byte() % std::size(kQueues)]);
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

void ExpectResult(const MatchResult& got, const MatchResult& want, std::string_view subject, const char* how) {
  if (got.plain != want.plain) Fail(how, subject);
  if (got.queues != want.queues) Fail(how, subject);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  Sublist list;
  std::vector<std::unique_ptr<Subscription>> owned;
  std::vector<Subscription*> live;     // subscription order
  std::vector<Subscription*> removed;  // once inserted, now out
  uint64_t generation = list.generation();
  int ops = 0;

  auto check_match = [&](const std::string& subject, bool once) {
    if (!RefValidSubscribe(subject) || !RefLiteral(subject)) {
      // Outside the contract (the core matches only valid literal subjects)
      // except for empty tokens, which match nothing; must not crash.
      const MatchResult& r = once ? list.MatchOnce(subject) : list.Match(subject);
      bool empty_token = subject.empty();
      for (std::string_view tok : Split(subject)) empty_token = empty_token || tok.empty();
      if (empty_token && (!r.plain.empty() || !r.queues.empty())) Fail("empty token matched", subject);
      return;
    }
    const MatchResult want = shortbus::server::ReferenceMatch(live, subject, RefMatches);
    ExpectResult(once ? list.MatchOnce(subject) : list.Match(subject), want, subject, "first match");
    ExpectResult(list.Match(subject), want, subject, "second match (cached)");
  };

  while (!in.empty() && ++ops < 2000) {
    switch (in.Byte() % 9) {
      case 0:
      case 1:
      case 2: {
        auto sub = std::make_unique<Subscription>();
        sub->subject = in.Subject();
        sub->queue = in.Queue();
        sub->sid = std::to_string(owned.size() + 1);
        const bool valid = RefValidSubscribe(sub->subject) && (sub->queue.empty() || !HasSpace(sub->queue));
        const absl::Status s = list.Insert(sub.get());
        if (s.ok() != valid) Fail(valid ? "valid subject refused" : "invalid subject accepted", sub->subject);
        if (s.ok()) {
          ++generation;
          live.push_back(sub.get());
        }
        owned.push_back(std::move(sub));
        break;
      }
      case 3: {
        if (live.empty()) break;
        const size_t k = in.Byte() % live.size();
        Subscription* sub = live[k];
        if (!list.Remove(sub).ok()) Fail("remove of a live subscription failed", sub->subject);
        ++generation;
        live.erase(live.begin() + static_cast<ptrdiff_t>(k));
        removed.push_back(sub);
        break;
      }
      case 4: {
        if (removed.empty()) break;
        Subscription* sub = removed[in.Byte() % removed.size()];
        if (!absl::IsNotFound(list.Remove(sub))) Fail("remove of a removed subscription did not say NotFound", sub->subject);
        break;
      }
      case 5:
      case 6:
        check_match(in.Subject(), false);
        break;
      case 7:
        check_match(in.Subject(), true);
        break;
      case 8:
        if (in.Byte() % 2 == 0) {
          list.ClearCache();
          if (list.cache_size() != 0) Fail("cache not empty after ClearCache", "");
        } else {
          for (int i = 0; i < 1100; ++i) list.Match("a.f" + std::to_string(i));
          check_match("a.b", false);
          check_match("a.f7", false);
        }
        break;
    }
    if (list.count() != live.size()) Fail("count differs", std::to_string(list.count()));
    if (list.generation() != generation) Fail("generation differs", std::to_string(list.generation()));
    if (list.cache_size() > kCacheBound) Fail("cache over its bound", std::to_string(list.cache_size()));
    if (live.empty() && list.node_count() != 0) Fail("trie nodes left with no subscription", "");
  }
  for (Subscription* sub : live) {
    if (!list.Remove(sub).ok()) Fail("final remove failed", sub->subject);
  }
  if (list.node_count() != 0) Fail("trie nodes left at the end", "");
  return 0;
}
