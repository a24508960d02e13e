#include "index/env_syncer.h"

#include <algorithm>
#include <utility>

#include "engine/thread_name.h"

namespace shortbus::index {

EnvSyncer::EnvSyncer(std::function<absl::Status()> sync, std::chrono::milliseconds retry)
    : sync_(std::move(sync)), retry_(retry) {
  thread_ = std::thread([this] {
    engine::NameThisThread("sb-env-sync");
    Loop();
  });
}

EnvSyncer::~EnvSyncer() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void EnvSyncer::Request(EnvSyncClient* client) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (std::find(pending_.begin(), pending_.end(), client) != pending_.end()) return;
    pending_.push_back(client);
  }
  cv_.notify_one();
}

void EnvSyncer::Forget(EnvSyncClient* client) {
  std::unique_lock<std::mutex> l(mu_);
  pending_.erase(std::remove(pending_.begin(), pending_.end(), client), pending_.end());
  idle_cv_.wait(l, [&] { return std::find(in_flight_.begin(), in_flight_.end(), client) == in_flight_.end(); });
  // A failed sync puts its requests back before it empties in_flight_.
  pending_.erase(std::remove(pending_.begin(), pending_.end(), client), pending_.end());
}

void EnvSyncer::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  std::vector<uint64_t> snapshots;
  while (true) {
    cv_.wait(l, [&] { return stop_ || !pending_.empty(); });
    if (stop_) return;
    in_flight_.swap(pending_);
    l.unlock();
    snapshots.clear();
    for (EnvSyncClient* c : in_flight_) snapshots.push_back(c->SyncSnapshot());
    const absl::Status s = sync_();
    for (size_t i = 0; i < in_flight_.size(); ++i) in_flight_[i]->SyncDone(snapshots[i], s);
    l.lock();
    if (!s.ok()) {
      // Retried: the failed requests go back, ahead of any new ones.
      for (EnvSyncClient* c : in_flight_) {
        if (std::find(pending_.begin(), pending_.end(), c) == pending_.end()) pending_.push_back(c);
      }
    }
    in_flight_.clear();
    idle_cv_.notify_all();
    if (!s.ok()) cv_.wait_for(l, retry_, [&] { return stop_; });
  }
}

}  // namespace shortbus::index
