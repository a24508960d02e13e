// router_bench: the subject router (server/sublist.h) alone.
//
//   BM_MatchCacheHit/<subs>     Match on one of 256 subjects matched once
//                               before, so every call is a cache hit
//   BM_MatchCacheMiss/<subs>    Match on 65,536 distinct subjects in turn;
//                               the cache holds at most 1,024, so every call
//                               walks the trie, caches, and now and then
//                               sweeps the cache
//   BM_MatchOnceInbox/<subs>    MatchOnce on a new reply inbox each call,
//                               "_INBOX.<22 chars>.<n>", which one more
//                               subscription "_INBOX.<22 chars>.*" matches:
//                               what routing a publish acknowledgement or a
//                               reply costs (never cached)
//   BM_InsertRemove/<subs>      Insert then Remove one wildcard queue
//                               subscription with the cache full (each
//                               patches or evicts the cached results)
//
// <subs> subscriptions over 4-token subjects "svc.<region>.<id>.<op>": one
// in ten with `*` in a random position, one in twenty ending in `>`, one in
// four in a queue group. Counters: `matched` is the mean number of
// subscriptions (plain + queue groups) per Match.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "server/sublist.h"
#include "server/subscription.h"

namespace shortbus::server {
namespace {

constexpr int kRegions = 8;
constexpr int kIds = 1000;
constexpr int kOps = 4;

std::string Subject(std::mt19937& rng) {
  std::uniform_int_distribution<int> region(0, kRegions - 1);
  std::uniform_int_distribution<int> id(0, kIds - 1);
  std::uniform_int_distribution<int> op(0, kOps - 1);
  return "svc.r" + std::to_string(region(rng)) + ".i" + std::to_string(id(rng)) +
         ".op" + std::to_string(op(rng));
}

// Replaces a token of `subject` (not the first) with `*` or cuts the
// subject after one with `>`.
std::string Wildcard(std::string subject, std::mt19937& rng) {
  const int kind = std::uniform_int_distribution<int>(0, 29)(rng);
  if (kind >= 3) return subject;
  std::vector<size_t> dots;
  for (size_t i = 0; i < subject.size(); ++i) {
    if (subject[i] == '.') dots.push_back(i);
  }
  const size_t at = dots[std::uniform_int_distribution<size_t>(0, dots.size() - 1)(rng)];
  if (kind == 0) return subject.substr(0, at) + ".>";
  const size_t end = subject.find('.', at + 1);
  return subject.substr(0, at) + ".*" +
         (end == std::string::npos ? "" : subject.substr(end));
}

class Router {
 public:
  explicit Router(size_t subs) {
    std::mt19937 rng(42);
    for (size_t i = 0; i < subs; ++i) {
      auto sub = std::make_unique<Subscription>();
      sub->subject = Wildcard(Subject(rng), rng);
      if (i % 4 == 0) sub->queue = "q" + std::to_string(i % 16);
      sub->sid = std::to_string(i);
      if (!list_.Insert(sub.get()).ok()) std::abort();
      subs_.push_back(std::move(sub));
    }
  }
  Sublist& list() { return list_; }

 private:
  Sublist list_;
  std::vector<std::unique_ptr<Subscription>> subs_;
};

std::vector<std::string> Subjects(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::string> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(Subject(rng));
  return out;
}

// Matches `subjects` in turn, one per iteration.
void MatchInTurn(benchmark::State& state, Sublist& list,
                 const std::vector<std::string>& subjects) {
  size_t i = 0;
  size_t total = 0;
  for (auto _ : state) {
    const MatchResult& r = list.Match(subjects[i++ % subjects.size()]);
    total += r.plain.size() + r.queues.size();
    benchmark::DoNotOptimize(r);
  }
  state.counters["matched"] = benchmark::Counter(
      static_cast<double>(total), benchmark::Counter::kAvgIterations);
  state.SetItemsProcessed(state.iterations());
}

void BM_MatchCacheHit(benchmark::State& state) {
  Router router(static_cast<size_t>(state.range(0)));
  const std::vector<std::string> subjects = Subjects(256, 7);
  for (const std::string& s : subjects) router.list().Match(s);
  MatchInTurn(state, router.list(), subjects);
}
BENCHMARK(BM_MatchCacheHit)->Arg(1)->Arg(100)->Arg(10000);

void BM_MatchCacheMiss(benchmark::State& state) {
  Router router(static_cast<size_t>(state.range(0)));
  MatchInTurn(state, router.list(), Subjects(65536, 9));
}
BENCHMARK(BM_MatchCacheMiss)->Arg(1)->Arg(100)->Arg(10000);

void BM_MatchOnceInbox(benchmark::State& state) {
  Router router(static_cast<size_t>(state.range(0)));
  const std::string prefix = "_INBOX.k3Hq9ZcX0pLr7WmT2vBn4e.";
  Subscription inbox;
  inbox.subject = prefix + "*";
  inbox.sid = "inbox";
  if (!router.list().Insert(&inbox).ok()) std::abort();
  std::string subject = prefix;
  uint64_t n = 0;
  size_t total = 0;
  for (auto _ : state) {
    subject.resize(prefix.size());
    subject += std::to_string(++n);
    const MatchResult& r = router.list().MatchOnce(subject);
    total += r.plain.size();
    benchmark::DoNotOptimize(r);
  }
  if (total != static_cast<size_t>(state.iterations())) state.SkipWithError("the inbox was not matched once per call");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MatchOnceInbox)->Arg(1)->Arg(10000);

void BM_InsertRemove(benchmark::State& state) {
  Router router(static_cast<size_t>(state.range(0)));
  for (const std::string& s : Subjects(1024, 11)) router.list().Match(s);
  Subscription sub;
  sub.subject = "svc.r1.*.op2";
  sub.queue = "churn";
  for (auto _ : state) {
    if (!router.list().Insert(&sub).ok() || !router.list().Remove(&sub).ok()) {
      state.SkipWithError("insert/remove failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_InsertRemove)->Arg(100)->Arg(10000);

}  // namespace
}  // namespace shortbus::server

BENCHMARK_MAIN();
