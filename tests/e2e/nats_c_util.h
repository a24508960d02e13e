// Small helpers for the end-to-end tests with the official NATS C client
// (libnats): owning pointers (core and JetStream objects), connecting,
// reading a message, waiting for a callback.
#ifndef SHORTBUS_TESTS_E2E_NATS_C_UTIL_H_
#define SHORTBUS_TESTS_E2E_NATS_C_UTIL_H_

#include <nats/nats.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace shortbus::e2e {

struct NatsDeleter {
  void operator()(natsConnection* p) const { natsConnection_Destroy(p); }
  void operator()(natsSubscription* p) const { natsSubscription_Destroy(p); }
  void operator()(natsMsg* p) const { natsMsg_Destroy(p); }
  void operator()(natsOptions* p) const { natsOptions_Destroy(p); }
  void operator()(jsCtx* p) const { jsCtx_Destroy(p); }
  void operator()(jsPubAck* p) const { jsPubAck_Destroy(p); }
  void operator()(jsStreamInfo* p) const { jsStreamInfo_Destroy(p); }
  void operator()(jsStreamInfoList* p) const { jsStreamInfoList_Destroy(p); }
  void operator()(jsStreamNamesList* p) const { jsStreamNamesList_Destroy(p); }
  void operator()(jsConsumerInfo* p) const { jsConsumerInfo_Destroy(p); }
  void operator()(jsConsumerNamesList* p) const { jsConsumerNamesList_Destroy(p); }
  void operator()(jsMsgMetaData* p) const { jsMsgMetaData_Destroy(p); }
};
// A jsCtx must be destroyed before the natsConnection it came from: declare
// the Owned<jsCtx> after the Owned<natsConnection>.
template <class T>
using Owned = std::unique_ptr<T, NatsDeleter>;

// Connects to url, after `setup` (if any) has adjusted the options.
inline natsStatus Connect(Owned<natsConnection>* out, const std::string& url,
                          const std::function<void(natsOptions*)>& setup = nullptr) {
  natsOptions* raw = nullptr;
  natsStatus s = natsOptions_Create(&raw);
  if (s != NATS_OK) return s;
  Owned<natsOptions> opts(raw);
  s = natsOptions_SetURL(opts.get(), url.c_str());
  if (s != NATS_OK) return s;
  // Fail fast rather than after the 2 s default.
  natsOptions_SetTimeout(opts.get(), 5000);
  if (setup) setup(opts.get());
  natsConnection* nc = nullptr;
  s = natsConnection_Connect(&nc, opts.get());
  out->reset(nc);
  return s;
}

inline std::string Data(natsMsg* m) {
  return std::string(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
}

// The next message of a synchronous subscription, or null after timeout_ms.
inline Owned<natsMsg> Next(natsSubscription* sub, int64_t timeout_ms = 2000) {
  natsMsg* m = nullptr;
  if (natsSubscription_NextMsg(&m, sub, timeout_ms) != NATS_OK) return nullptr;
  return Owned<natsMsg>(m);
}

// Messages queued in a subscription, not yet taken.
inline int Pending(natsSubscription* sub) {
  int msgs = -1, bytes = -1;
  natsSubscription_GetPending(sub, &msgs, &bytes);
  return msgs;
}

// A counter that callbacks (on the client's threads) raise and the test
// waits on, bounded.
class Event {
 public:
  void Notify() {
    std::lock_guard<std::mutex> l(mu_);
    ++count_;
    cv_.notify_all();
  }
  // True when count reaches n within `limit`.
  bool WaitFor(int n, std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, limit, [&] { return count_ >= n; });
  }
 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;
};

// libnats calls a connection's callbacks on a thread of its own, and still
// does after natsConnection_Destroy returns: the close queues a disconnected
// callback. A test whose callbacks point at its locals registers
// ClosedFirst::OnClosed as the closed callback and declares a ClosedFirst
// after the connection, so that it goes out of scope first: it closes the
// connection and waits (bounded) for the closed callback, the last one
// libnats makes for a connection.
class ClosedFirst {
 public:
  static void OnClosed(natsConnection*, void* closed) { static_cast<Event*>(closed)->Notify(); }
  ClosedFirst(natsConnection* nc, Event* closed) : nc_(nc), closed_(closed) {}
  ClosedFirst(const ClosedFirst&) = delete;
  ClosedFirst& operator=(const ClosedFirst&) = delete;
  ~ClosedFirst() {
    natsConnection_Close(nc_);
    closed_->WaitFor(1, std::chrono::seconds(10));
  }
 private:
  natsConnection* nc_;
  Event* closed_;
};

}  // namespace shortbus::e2e

#endif  // SHORTBUS_TESTS_E2E_NATS_C_UTIL_H_
