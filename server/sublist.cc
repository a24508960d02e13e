#include "server/sublist.h"

#include <algorithm>
#include <functional>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "index/subject_hash.h"
#include "server/subject.h"
#include "server/sublist_tokens.h"

namespace shortbus::server {
namespace {

// The cache holds at most kMaxCacheEntries results; a miss that finds it
// full first drops entries until kCacheSweepTo remain.
constexpr size_t kMaxCacheEntries = 1024;
constexpr size_t kCacheSweepTo = 256;
// Evicted results kept (cleared, capacity intact) for the next misses.
constexpr size_t kResultPoolSize = 64;

using Tokens = std::span<const std::string_view>;

// A map keyed by owned strings and looked up by std::string_view without
// building a string, hashed with the inline, per-process seeded subject hash
// (index/subject_hash.h): a reply inbox misses the cache on every
// acknowledgement sent to it, and std::hash over the subject and each token
// of the walk showed in a profile of pipelined acknowledged publishes.
template <typename V>
using StringMap = std::unordered_map<std::string, V, index::SubjectHash, index::SubjectEq>;

// `seq` is the subscription's insertion number: results list members in
// ascending seq, which is subscription order.
struct Entry {
  uint64_t seq;
  Subscription* sub;
};

struct NodeGroup {
  std::string name;
  std::vector<Entry> members;  // ascending seq; never empty
};

// One trie node: the subscriptions whose subject ends here, and the next
// level. Invariant: a node other than the root is never Empty() (Remove
// prunes), and `fwc` has no children (`>` is always a last token).
struct Node {
  StringMap<std::unique_ptr<Node>> literal;
  std::unique_ptr<Node> pwc;  // child for a `*` token
  std::unique_ptr<Node> fwc;  // child for a `>` token
  std::vector<Entry> plain;       // ascending seq
  std::vector<NodeGroup> groups;  // each with at least one member

  bool Empty() const {
    return literal.empty() && pwc == nullptr && fwc == nullptr &&
           plain.empty() && groups.empty();
  }
};

bool IsWildcard(std::string_view token) { return token == "*" || token == ">"; }

// The child slot for `token` (created when `create`), or nullptr.
std::unique_ptr<Node>* ChildSlot(Node& n, std::string_view token, bool create) {
  if (token == "*") return &n.pwc;
  if (token == ">") return &n.fwc;
  if (create) return &n.literal.try_emplace(std::string(token)).first->second;
  auto it = n.literal.find(token);
  return it == n.literal.end() ? nullptr : &it->second;
}

// The bytes of `pattern` before its first wildcard token ("a.b." for
// "a.b.*.c"): every subject it matches starts with them.
std::string_view LiteralPrefix(std::string_view pattern) {
  size_t end = 0;
  while (end < pattern.size()) {
    const size_t dot = std::min(pattern.find('.', end), pattern.size());
    if (IsWildcard(pattern.substr(end, dot - end))) break;
    end = dot + 1;
  }
  return pattern.substr(0, end);
}

// Whether wildcard `pattern` (with its LiteralPrefix) matches cached key
// `subject`; most keys are rejected by the prefix compare alone.
bool CachedKeyMatches(std::string_view pattern, std::string_view prefix,
                      std::string_view subject) {
  return subject.starts_with(prefix) && SubjectMatches(pattern, subject);
}

// Erases `sub` from `entries`, keeping the order. False when absent.
bool EraseEntry(std::vector<Entry>& entries, const Subscription* sub) {
  auto it = std::find_if(entries.begin(), entries.end(),
                         [sub](const Entry& e) { return e.sub == sub; });
  if (it == entries.end()) return false;
  entries.erase(it);
  return true;
}

bool RemoveFromNode(Node& n, const Subscription* sub) {
  if (sub->queue.empty()) return EraseEntry(n.plain, sub);
  auto g = std::find_if(n.groups.begin(), n.groups.end(),
                        [sub](const NodeGroup& x) { return x.name == sub->queue; });
  if (g == n.groups.end() || !EraseEntry(g->members, sub)) return false;
  if (g->members.empty()) n.groups.erase(g);
  return true;
}

// Removes `sub` from the node reached by tokens[i..] below `n`, pruning
// every node the removal leaves empty.
bool RemoveBelow(Node& n, Tokens tokens, size_t i, const Subscription* sub) {
  if (i == tokens.size()) return RemoveFromNode(n, sub);
  std::unique_ptr<Node>* slot = ChildSlot(n, tokens[i], /*create=*/false);
  if (slot == nullptr || *slot == nullptr) return false;
  if (!RemoveBelow(**slot, tokens, i + 1, sub)) return false;
  if ((*slot)->Empty()) {
    if (IsWildcard(tokens[i])) {
      slot->reset();
    } else {
      n.literal.erase(n.literal.find(tokens[i]));
    }
  }
  return true;
}

size_t CountBelow(const Node& n) {
  size_t count = 0;
  for (const auto& [token, child] : n.literal) count += 1 + CountBelow(*child);
  if (n.pwc != nullptr) count += 1 + CountBelow(*n.pwc);
  if (n.fwc != nullptr) count += 1 + CountBelow(*n.fwc);
  return count;
}

// Appends `sub` to a result as Insert's cache patch: it is the newest
// subscription, so the end of its list is its place in subscription order.
void AppendToResult(MatchResult& r, Subscription* sub) {
  if (sub->queue.empty()) {
    r.plain.push_back(sub);
    return;
  }
  for (std::vector<Subscription*>& group : r.queues) {
    if (group.front()->queue == sub->queue) {
      group.push_back(sub);
      return;
    }
  }
  r.queues.emplace_back(1, sub);
}

// What a trie walk gathers before it is ordered into a MatchResult. Its
// vectors keep their capacity from one miss to the next.
class Collector {
 public:
  void Reset() {
    plain_.clear();
    for (size_t i = 0; i < groups_used_; ++i) groups_[i].members.clear();
    groups_used_ = 0;
  }

  // Every subscription at `n` and below matching tokens[i..]; `n` has
  // consumed tokens[0..i).
  void Walk(const Node& n, Tokens tokens, size_t i) {
    if (i == tokens.size()) {
      Add(n);
      return;
    }
    if (n.fwc != nullptr) Add(*n.fwc);
    if (n.pwc != nullptr) Walk(*n.pwc, tokens, i + 1);
    auto it = n.literal.find(tokens[i]);
    if (it != n.literal.end()) Walk(*it->second, tokens, i + 1);
  }

  // Writes the gathered subscriptions in subscription order: plain ones
  // by seq; groups by their oldest member, members by seq.
  void Emit(MatchResult& out) {
    std::sort(plain_.begin(), plain_.end(), BySeq);
    out.plain.clear();
    for (const Entry& e : plain_) out.plain.push_back(e.sub);

    order_.clear();
    for (size_t i = 0; i < groups_used_; ++i) {
      std::sort(groups_[i].members.begin(), groups_[i].members.end(), BySeq);
      order_.push_back(&groups_[i]);
    }
    std::sort(order_.begin(), order_.end(), [](const Group* a, const Group* b) {
      return a->members.front().seq < b->members.front().seq;
    });
    out.queues.resize(order_.size());
    for (size_t i = 0; i < order_.size(); ++i) {
      out.queues[i].clear();
      for (const Entry& e : order_[i]->members) out.queues[i].push_back(e.sub);
    }
  }

 private:
  struct Group {
    std::string_view name;
    std::vector<Entry> members;
  };

  static bool BySeq(const Entry& a, const Entry& b) { return a.seq < b.seq; }

  void Add(const Node& n) {
    plain_.insert(plain_.end(), n.plain.begin(), n.plain.end());
    for (const NodeGroup& g : n.groups) {
      Group& into = GroupNamed(g.name);
      into.members.insert(into.members.end(), g.members.begin(), g.members.end());
    }
  }

  Group& GroupNamed(std::string_view name) {
    for (size_t i = 0; i < groups_used_; ++i) {
      if (groups_[i].name == name) return groups_[i];
    }
    if (groups_used_ == groups_.size()) groups_.emplace_back();
    Group& g = groups_[groups_used_++];
    g.name = name;
    return g;
  }

  std::vector<Entry> plain_;
  // Invariant: groups_[0..groups_used_) are this walk's groups; the rest
  // are empty and kept for their capacity.
  std::vector<Group> groups_;
  size_t groups_used_ = 0;
  std::vector<const Group*> order_;
};

}  // namespace

struct Sublist::Impl {
  Node root;  // never pruned; holds no subscriptions (subjects are non-empty)
  size_t count = 0;
  uint64_t generation = 0;
  uint64_t next_seq = 0;

  // Literal subject -> its match. Invariant: every entry equals what a
  // fresh trie walk would give (Insert patches, Remove evicts).
  StringMap<std::unique_ptr<MatchResult>> cache;
  std::vector<std::unique_ptr<MatchResult>> pool;
  const MatchResult empty;
  MatchResult once;  // MatchOnce's answer for a subject not in the cache
  Collector collector;

  Impl() { pool.reserve(kResultPoolSize); }

  void Recycle(std::unique_ptr<MatchResult> r) {
    if (pool.size() == kResultPoolSize) return;
    r->plain.clear();
    r->queues.clear();
    pool.push_back(std::move(r));
  }

  std::unique_ptr<MatchResult> TakeResult() {
    if (pool.empty()) return std::make_unique<MatchResult>();
    std::unique_ptr<MatchResult> r = std::move(pool.back());
    pool.pop_back();
    return r;
  }

  // Drops cached entries whose key `pattern` matches, or all of them when
  // `pattern` is null, or arbitrary ones down to `keep` entries.
  void Evict(const std::string* pattern, size_t keep) {
    const std::string_view prefix =
        pattern == nullptr ? std::string_view() : LiteralPrefix(*pattern);
    for (auto it = cache.begin(); it != cache.end() && cache.size() > keep;) {
      if (pattern != nullptr && !CachedKeyMatches(*pattern, prefix, it->first)) {
        ++it;
        continue;
      }
      Recycle(std::move(it->second));
      it = cache.erase(it);
    }
  }
};

Sublist::Sublist() : impl_(std::make_unique<Impl>()) {}
Sublist::~Sublist() = default;

absl::Status Sublist::Insert(Subscription* sub) {
  if (!IsValidSubscribeSubject(sub->subject)) {
    return absl::InvalidArgumentError(
        absl::StrCat("sublist: invalid subject '", sub->subject, "'"));
  }
  if (!sub->queue.empty() && !IsValidQueueName(sub->queue)) {
    return absl::InvalidArgumentError(
        absl::StrCat("sublist: invalid queue name '", sub->queue, "'"));
  }
  Impl& s = *impl_;
  const SubjectTokens tokens(sub->subject);
  Node* n = &s.root;
  for (std::string_view token : tokens.tokens()) {
    std::unique_ptr<Node>& child = *ChildSlot(*n, token, /*create=*/true);
    if (child == nullptr) child = std::make_unique<Node>();
    n = child.get();
  }
  const Entry entry{s.next_seq++, sub};
  if (sub->queue.empty()) {
    n->plain.push_back(entry);
  } else {
    auto g = std::find_if(n->groups.begin(), n->groups.end(),
                          [sub](const NodeGroup& x) { return x.name == sub->queue; });
    if (g == n->groups.end()) {
      n->groups.push_back(NodeGroup{sub->queue, {}});
      g = n->groups.end() - 1;
    }
    g->members.push_back(entry);
  }
  ++s.count;
  ++s.generation;

  if (IsValidPublishSubject(sub->subject)) {
    auto it = s.cache.find(sub->subject);
    if (it != s.cache.end()) AppendToResult(*it->second, sub);
  } else {
    const std::string_view prefix = LiteralPrefix(sub->subject);
    for (auto& [key, result] : s.cache) {
      if (CachedKeyMatches(sub->subject, prefix, key)) AppendToResult(*result, sub);
    }
  }
  return absl::OkStatus();
}

absl::Status Sublist::Remove(Subscription* sub) {
  Impl& s = *impl_;
  const SubjectTokens tokens(sub->subject);
  if (tokens.has_empty() || !RemoveBelow(s.root, tokens.tokens(), 0, sub)) {
    return absl::NotFoundError(
        absl::StrCat("sublist: no subscription '", sub->sid, "' on '",
                     sub->subject, "'"));
  }
  --s.count;
  ++s.generation;
  if (IsValidPublishSubject(sub->subject)) {
    auto it = s.cache.find(sub->subject);
    if (it != s.cache.end()) {
      s.Recycle(std::move(it->second));
      s.cache.erase(it);
    }
  } else {
    s.Evict(&sub->subject, 0);
  }
  return absl::OkStatus();
}

const MatchResult& Sublist::Match(std::string_view subject) { return Lookup(subject, true); }

const MatchResult& Sublist::MatchOnce(std::string_view subject) { return Lookup(subject, false); }

const MatchResult& Sublist::Lookup(std::string_view subject, bool cache_it) {
  Impl& s = *impl_;
  auto hit = s.cache.find(subject);
  if (hit != s.cache.end()) return *hit->second;

  const SubjectTokens tokens(subject);
  if (tokens.has_empty()) return s.empty;
  s.collector.Reset();
  s.collector.Walk(s.root, tokens.tokens(), 0);
  if (!cache_it) {
    s.collector.Emit(s.once);  // keeps its vectors' capacity
    return s.once;
  }
  if (s.cache.size() >= kMaxCacheEntries) s.Evict(nullptr, kCacheSweepTo);
  std::unique_ptr<MatchResult> result = s.TakeResult();
  s.collector.Emit(*result);
  return *s.cache.emplace(std::string(subject), std::move(result)).first->second;
}

void Sublist::ClearCache() { impl_->Evict(nullptr, 0); }

size_t Sublist::count() const { return impl_->count; }
size_t Sublist::cache_size() const { return impl_->cache.size(); }
uint64_t Sublist::generation() const { return impl_->generation; }
size_t Sublist::node_count() const { return CountBelow(impl_->root); }

}  // namespace shortbus::server
