// Process-crash torture of the real daemon: many cycles of
//   start shortbusd -> pipelined acknowledged publishes (libnats
//   js_PublishAsync, a window of N in flight) and two durable pull consumers
//   fetching and acknowledging with AckSync -> kill -9 at a random moment ->
//   `shortbus verify DIR` offline -> read the stream offline -> restart ->
//   check the stream and consumer state through the daemon,
// all on one data directory, so that what was acknowledged in any cycle
// must survive every later crash and recovery.
//
// Checked after every kill:
//   - every acknowledged publish is in the log, bit-identical (subject and
//     payload), under the sequence its acknowledgement gave;
//   - sequences are contiguous from 1 (nothing is deleted here), and every
//     stored message, acknowledged or not, is a whole payload this test made
//     (torture_message.h), never garbage;
//   - `shortbus verify DIR` exits 0 while the daemon is down;
//   - after the restart, the stream's state matches the log, and no
//     consumer's ack floor is below what AckSync confirmed or below what
//     the daemon reported before the crash.
// The summary line: torture: cycles=C acknowledged=A found=F lost=0
// consumer_regressions=0 verify_clean=C (then mode, seed and counts).
//
// Runs: TortureTest.SyncAlways / SyncInterval run for
// SHORTBUS_TORTURE_SECONDS (default 25) each in `make test`; with
// SHORTBUS_SOAK=1 (`make soak`) they run SHORTBUS_SOAK_CYCLES cycles (default
// 300) each, with a fresh data directory every 25 cycles. The kill schedule
// replays with SHORTBUS_TORTURE_SEED=N (printed); what the daemon manages to
// do before each kill still depends on timing.
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>
#include <nats/nats.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/reader.h"
#include "tests/e2e/cli_process.h"
#include "tests/e2e/nats_c_util.h"
#include "tests/e2e/server_launcher.h"
#include "tests/torture/torture_message.h"

namespace shortbus::torture {
namespace {

using e2e::Connect;
using e2e::Owned;
using e2e::Process;
using e2e::ServerOptions;
using e2e::ServerProcess;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr char kStream[] = "TORTURE";
constexpr int kConsumers = 2;
const char* const kConsumerNames[kConsumers] = {"all", "fam_a"};
// Messages one cycle publishes at most: bounds disk use and verify time.
constexpr uint64_t kMaxPerCycle = 4000;
constexpr int kSoakCyclesPerDir = 25;

bool SoakEnabled() {
  const char* s = std::getenv("SHORTBUS_SOAK");
  return s != nullptr && *s != '\0' && std::strcmp(s, "0") != 0;
}

uint64_t EnvU64(const char* name, uint64_t dflt) {
  const char* s = std::getenv(name);
  return s != nullptr && *s != '\0' ? std::strtoull(s, nullptr, 10) : dflt;
}

bool ConsumerWants(int consumer, bool family_a) { return consumer == 0 || family_a; }

// What the clients were told, for one data directory, across its cycles.
struct Ledger {
  std::mutex mu;
  std::map<uint64_t, MessageId> acked;            // stream sequence -> message
  std::set<uint64_t> confirmed[kConsumers];       // stream sequences AckSync confirmed
  uint64_t reported_floor[kConsumers] = {0, 0};   // highest ack floor the daemon reported
  uint64_t confirmed_floor[kConsumers] = {0, 0};  // derived from `confirmed`, see ConfirmedFloor
  uint64_t floor_next[kConsumers] = {1, 1};       // first sequence ConfirmedFloor has not passed
  uint64_t publish_errors = 0;                    // refusals before the kill
  uint64_t double_acks = 0;                       // a sequence acknowledged for two messages
  uint64_t bad_deliveries = 0;                    // a delivered payload that failed its check
  uint64_t acked_this_cycle = 0;
  std::atomic<bool> killed{false};
};

// What the log held at the last offline read, per sequence (index = seq).
struct LogImage {
  std::vector<MessageId> ids{MessageId{}};
  std::vector<uint64_t> hashes{0};
  std::vector<bool> family_a{false};
  uint64_t last() const { return ids.size() - 1; }
};

struct Totals {
  int cycles = 0;
  int verify_clean = 0;
  int early_kills = 0;
  uint64_t acknowledged = 0;
  uint64_t found = 0;
  uint64_t lost = 0;
  uint64_t consumer_regressions = 0;
  uint64_t confirmed_acks = 0;
};

void OnPubAck(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  auto* ledger = static_cast<Ledger*>(closure);
  std::lock_guard<std::mutex> l(ledger->mu);
  if (pa != nullptr) {
    MessageId id;
    std::string why;
    const std::string payload = e2e::Data(msg);
    if (!CheckPayload(payload, &id, &why)) {
      ++ledger->bad_deliveries;  // the client's own message came back changed
    } else {
      auto [it, inserted] = ledger->acked.emplace(pa->Sequence, id);
      if (!inserted && (it->second.cycle != id.cycle || it->second.counter != id.counter)) ++ledger->double_acks;
      ++ledger->acked_this_cycle;
    }
  } else if (pae != nullptr && pae->ErrCode != 0 && !ledger->killed.load()) {
    // A refusal by the daemon (a JetStream error code). A client-side
    // timeout or a closed connection is not a lie and not counted.
    ++ledger->publish_errors;
  }
  natsMsg_Destroy(msg);
}

// One cycle's clients: the publisher and the consumers, each on its own
// connection without reconnection (the daemon's death ends them).
class Clients {
 public:
  Clients(Ledger* ledger, uint64_t cycle, uint64_t first_counter, int window, int batch)
      : ledger_(ledger), cycle_(cycle), counter_(first_counter), window_(window), batch_(batch) {}
  ~Clients() { Stop(); }

  // Connects everything and starts the threads; "" on success.
  std::string Start(const std::string& url) {
    auto no_reconnect = [](natsOptions* o) { natsOptions_SetAllowReconnect(o, false); };
    if (Connect(&pub_nc_, url, no_reconnect) != NATS_OK) return "publisher connect";
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.AckHandler = OnPubAck;
    jo.PublishAsync.AckHandlerClosure = ledger_;
    jo.PublishAsync.MaxPending = window_;
    jo.PublishAsync.StallWait = 50;
    jsCtx* js = nullptr;
    if (natsConnection_JetStream(&js, pub_nc_.get(), &jo) != NATS_OK) return "publisher context";
    pub_js_.reset(js);
    for (int c = 0; c < kConsumers; ++c) {
      if (Connect(&sub_nc_[c], url, no_reconnect) != NATS_OK) return "consumer connect";
      jsCtx* cjs = nullptr;
      if (natsConnection_JetStream(&cjs, sub_nc_[c].get(), nullptr) != NATS_OK) return "consumer context";
      sub_js_[c].reset(cjs);
      jsSubOptions so;
      jsSubOptions_Init(&so);
      so.Stream = kStream;
      so.Consumer = kConsumerNames[c];
      natsSubscription* sub = nullptr;
      jsErrCode err = static_cast<jsErrCode>(0);
      const char* filter = c == 0 ? "tort.>" : "tort.a.>";
      if (js_PullSubscribe(&sub, sub_js_[c].get(), filter, kConsumerNames[c], nullptr, &so, &err) != NATS_OK) {
        return "pull subscribe " + std::string(kConsumerNames[c]) + ": js error " + std::to_string(err) + " " +
               nats_GetLastError(nullptr);
      }
      subs_[c].reset(sub);
    }
    threads_.emplace_back([this] { Publish(); });
    for (int c = 0; c < kConsumers; ++c) threads_.emplace_back([this, c] { Consume(c); });
    return "";
  }

  // Joins the threads (the caller killed the daemon first, or they run on).
  void Stop() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    threads_.clear();
    for (int c = 0; c < kConsumers; ++c) {
      subs_[c].reset();
      sub_js_[c].reset();
      sub_nc_[c].reset();
    }
    pub_js_.reset();
    pub_nc_.reset();
  }

  uint64_t next_counter() const { return counter_; }

 private:
  void Publish() {
    for (uint64_t sent = 0; !stop_ && sent < kMaxPerCycle;) {
      const MessageId id{cycle_, counter_};
      const std::string subject = SubjectFor(id);
      const std::string payload = PayloadFor(id);
      const natsStatus s = js_PublishAsync(pub_js_.get(), subject.c_str(), payload.data(),
                                           static_cast<int>(payload.size()), nullptr);
      if (s == NATS_TIMEOUT) continue;  // the window is full: try again
      if (s != NATS_OK) return;         // the connection is gone
      ++counter_;
      ++sent;
    }
  }

  void Consume(int c) {
    while (!stop_) {
      natsMsgList list{};
      jsErrCode err = static_cast<jsErrCode>(0);
      const natsStatus s = natsSubscription_Fetch(&list, subs_[c].get(), batch_, 300, &err);
      bool gone = s != NATS_OK && s != NATS_TIMEOUT;
      for (int i = 0; i < list.Count && !gone; ++i) {
        natsMsg* m = list.Msgs[i];
        jsMsgMetaData* meta = nullptr;
        MessageId id;
        std::string why;
        const bool good = CheckPayload(e2e::Data(m), &id, &why) && SubjectFor(id) == natsMsg_GetSubject(m) &&
                          ConsumerWants(c, IsFamilyA(natsMsg_GetSubject(m)));
        if (!good) {
          std::lock_guard<std::mutex> l(ledger_->mu);
          ++ledger_->bad_deliveries;
        }
        if (natsMsg_GetMetaData(&meta, m) != NATS_OK) {
          std::lock_guard<std::mutex> l(ledger_->mu);
          ++ledger_->bad_deliveries;
          continue;
        }
        const uint64_t seq = meta->Sequence.Stream;
        jsMsgMetaData_Destroy(meta);
        if (natsMsg_AckSync(m, nullptr, &err) == NATS_OK) {
          std::lock_guard<std::mutex> l(ledger_->mu);
          ledger_->confirmed[c].insert(seq);
        } else {
          gone = true;
        }
      }
      natsMsgList_Destroy(&list);
      if (gone) return;
    }
  }

  Ledger* const ledger_;
  const uint64_t cycle_;
  std::atomic<uint64_t> counter_;
  const int window_, batch_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  Owned<natsConnection> pub_nc_;
  Owned<jsCtx> pub_js_;
  Owned<natsConnection> sub_nc_[kConsumers];
  Owned<jsCtx> sub_js_[kConsumers];
  Owned<natsSubscription> subs_[kConsumers];
};

// Creates the stream (1 MiB segments, so that rolls happen every cycle)
// through the JetStream API, and the two durable pull consumers.
void CreateStreamAndConsumers(const std::string& url) {
  Owned<natsConnection> nc;
  ASSERT_EQ(Connect(&nc, url), NATS_OK) << nats_GetLastError(nullptr);
  const std::string cfg = std::string("{\"name\":\"") + kStream +
                          "\",\"subjects\":[\"tort.>\"],\"storage\":\"file\",\"segment_size\":1048576}";
  natsMsg* reply = nullptr;
  ASSERT_EQ(natsConnection_Request(&reply, nc.get(), (std::string("$JS.API.STREAM.CREATE.") + kStream).c_str(),
                                   cfg.data(), static_cast<int>(cfg.size()), 10'000),
            NATS_OK)
      << nats_GetLastError(nullptr);
  Owned<natsMsg> owned(reply);
  ASSERT_EQ(e2e::Data(reply).find("\"error\""), std::string::npos) << e2e::Data(reply);
  jsCtx* raw = nullptr;
  ASSERT_EQ(natsConnection_JetStream(&raw, nc.get(), nullptr), NATS_OK);
  Owned<jsCtx> js(raw);
  for (int c = 0; c < kConsumers; ++c) {
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = kConsumerNames[c];
    cc.AckPolicy = js_AckExplicit;
    cc.AckWait = 2'000'000'000;  // unacknowledged deliveries come back within the run
    cc.FilterSubject = c == 0 ? nullptr : "tort.a.>";
    jsConsumerInfo* ci = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    ASSERT_EQ(js_AddConsumer(&ci, js.get(), kStream, &cc, nullptr, &err), NATS_OK)
        << "js error " << err << " " << nats_GetLastError(nullptr);
    jsConsumerInfo_Destroy(ci);
  }
}

// Reads the whole stream offline (the daemon is down): contiguous from 1,
// every payload whole and of its subject; sequences read in an earlier
// cycle must still hash the same. Extends `image`.
void ReadLogOffline(const std::string& stream_dir, LogImage* image) {
  absl::StatusOr<std::unique_ptr<engine::Reader>> opened = engine::Reader::Open(stream_dir);
  ASSERT_TRUE(opened.ok()) << opened.status();
  engine::Reader& r = **opened;
  ASSERT_EQ(r.first_seq(), 1u) << "nothing is deleted in this test";
  ASSERT_TRUE(r.SeekToSequence(1).ok());
  uint64_t expected = 1;
  engine::Record rec;
  while (true) {
    absl::Status s = r.Next(&rec);
    if (engine::IsEndOfData(s)) break;
    ASSERT_TRUE(s.ok()) << "after sequence " << expected - 1 << ": " << s;
    ASSERT_EQ(rec.sequence, expected) << "sequences not contiguous";
    const uint64_t hash = XXH3_64bits(rec.payload.data(), rec.payload.size());
    if (rec.sequence <= image->last()) {
      ASSERT_EQ(hash, image->hashes[rec.sequence]) << "sequence " << rec.sequence << " changed since the last cycle";
    } else {
      MessageId id;
      std::string why;
      ASSERT_TRUE(CheckPayload(rec.payload, &id, &why)) << "sequence " << rec.sequence << ": " << why;
      ASSERT_EQ(std::string(rec.subject), SubjectFor(id)) << "sequence " << rec.sequence;
      image->ids.push_back(id);
      image->hashes.push_back(hash);
      image->family_a.push_back(IsFamilyA(rec.subject));
    }
    ++expected;
  }
  ASSERT_GE(expected - 1, image->last()) << "committed messages of an earlier cycle are gone";
}

// The highest stream sequence s of consumer c's messages such that AckSync
// confirmed s and every earlier message of c: the daemon's ack floor may
// never be below it.
uint64_t ConfirmedFloor(Ledger* ledger, const LogImage& image, int c) {
  uint64_t& next = ledger->floor_next[c];
  while (next <= image.last()) {
    if (ConsumerWants(c, image.family_a[next])) {
      if (ledger->confirmed[c].count(next) == 0) break;
      ledger->confirmed_floor[c] = next;
    }
    ++next;
  }
  return ledger->confirmed_floor[c];
}

class TortureTest : public ::testing::Test {
 protected:
  void Run(const char* mode, const std::vector<std::string>& daemon_args) {
    const bool soak = SoakEnabled();
    const uint64_t max_cycles = soak ? EnvU64("SHORTBUS_SOAK_CYCLES", 300) : UINT64_MAX;
    const auto budget = std::chrono::seconds(EnvU64("SHORTBUS_TORTURE_SECONDS", soak ? 0 : 25));
    const uint64_t min_cycles = 4;
    const uint64_t seed =
        EnvU64("SHORTBUS_TORTURE_SEED", std::random_device{}() ^ (uint64_t{std::random_device{}()} << 32));
    std::printf("torture mode=%s seed=%llu (SHORTBUS_TORTURE_SEED to replay)\n", mode,
                static_cast<unsigned long long>(seed));
    std::fflush(stdout);
    RecordProperty("seed", std::to_string(seed));
    std::mt19937_64 rng(seed);
    const e2e::Target target = e2e::TargetFromEnv();
    ASSERT_EQ(target.kind, "shortbusd") << "runs against shortbusd (E2E_SERVER_KIND, E2E_SERVER_BIN)";
    ASSERT_NE(e2e::ShortbusBin(), "") << "SHORTBUS_BIN names the CLI";
    ServerOptions options;
    options.jetstream = true;
    options.shortbusd_args = daemon_args;

    Totals t;
    const auto start = Clock::now();
    std::unique_ptr<ServerProcess> server;
    std::unique_ptr<Ledger> ledger;
    LogImage image;
    uint64_t counter = 0;
    for (uint64_t cycle = 0; cycle < max_cycles; ++cycle) {
      if (budget.count() > 0 && cycle >= min_cycles && Clock::now() - start >= budget) break;
      SCOPED_TRACE("cycle " + std::to_string(cycle) + " seed " + std::to_string(seed));
      const bool fresh = server == nullptr || (soak && cycle % kSoakCyclesPerDir == 0);
      if (fresh) {
        if (ledger != nullptr) Account(*ledger, image, &t);
        server = std::make_unique<ServerProcess>(target, options);
        ledger = std::make_unique<Ledger>();
        image = LogImage();
      }
      if (fresh) {
        ASSERT_EQ(server->Start(), "");
        ASSERT_NO_FATAL_FAILURE(CreateStreamAndConsumers(server->url()));
      }
      ledger->killed = false;
      {
        std::lock_guard<std::mutex> l(ledger->mu);
        ledger->acked_this_cycle = 0;
      }
      const int window = 16 << (rng() % 6);  // 16 .. 512 in flight
      const int batch = 1 + static_cast<int>(rng() % 64);
      Clients clients(ledger.get(), cycle, counter, window, batch);
      ASSERT_EQ(clients.Start(server->url()), "");

      // When to kill: one cycle in eight within 30 ms of the clients
      // starting; otherwise after a random number of acknowledgements or a
      // random time, whichever comes first, plus up to 2 ms.
      const bool early = rng() % 8 == 0;
      const uint64_t want = 1 + rng() % 3000;
      const auto until = Clock::now() + milliseconds(early ? rng() % 30 : 50 + rng() % 1200);
      const auto extra = std::chrono::microseconds(rng() % 2000);
      t.early_kills += early ? 1 : 0;
      while (Clock::now() < until) {
        {
          std::lock_guard<std::mutex> l(ledger->mu);
          if (!early && ledger->acked_this_cycle >= want) break;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      std::this_thread::sleep_for(extra);
      ledger->killed = true;
      const int status = server->Kill();
      ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
          << "the daemon stopped by itself (status " << status << "):\n"
          << server->LogTail();
      clients.Stop();
      counter = clients.next_counter();

      // Offline, the daemon down: verify, then read the log.
      const std::string data = server->data_dir();
      Process verify(e2e::ShortbusBin(), {"verify", data});
      const int vcode = verify.Wait(std::chrono::seconds(120));
      EXPECT_EQ(vcode, 0) << "shortbus verify " << data << ":\n" << verify.out() << verify.err();
      t.verify_clean += vcode == 0 ? 1 : 0;
      ASSERT_NO_FATAL_FAILURE(ReadLogOffline(data + "/streams/" + kStream, &image));

      // Restart: the daemon recovers; its view must match the log. The next
      // cycle's clients use this daemon.
      ASSERT_EQ(server->Start(), "");
      ASSERT_NO_FATAL_FAILURE(CheckThroughDaemon(server->url(), ledger.get(), image, &t));
      ++t.cycles;
      std::lock_guard<std::mutex> l(ledger->mu);
      EXPECT_EQ(ledger->publish_errors, 0u) << "publishes refused before the kill";
      EXPECT_EQ(ledger->double_acks, 0u) << "one sequence acknowledged for two messages";
      EXPECT_EQ(ledger->bad_deliveries, 0u) << "deliveries that were not a message this test published";
      if (HasFatalFailure()) return;
    }
    if (ledger != nullptr) Account(*ledger, image, &t);
    std::printf(
        "torture: cycles=%d acknowledged=%llu found=%llu lost=%llu consumer_regressions=%llu verify_clean=%d "
        "mode=%s seed=%llu confirmed_acks=%llu early_kills=%d seconds=%lld\n",
        t.cycles, static_cast<unsigned long long>(t.acknowledged), static_cast<unsigned long long>(t.found),
        static_cast<unsigned long long>(t.lost), static_cast<unsigned long long>(t.consumer_regressions),
        t.verify_clean, mode, static_cast<unsigned long long>(seed),
        static_cast<unsigned long long>(t.confirmed_acks), t.early_kills,
        static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start).count()));
    std::fflush(stdout);
    EXPECT_EQ(t.lost, 0u);
    EXPECT_EQ(t.consumer_regressions, 0u);
    EXPECT_EQ(t.verify_clean, t.cycles);
    EXPECT_GT(t.acknowledged, 0u);
    EXPECT_GT(t.confirmed_acks, 0u);
  }

  // After a restart: the stream's state is the log's (first 1, nothing
  // deleted, at least what the offline read saw), and every consumer's ack
  // floor is at least the confirmed one and never below one reported before.
  void CheckThroughDaemon(const std::string& url, Ledger* ledger, const LogImage& image, Totals* t) {
    Owned<natsConnection> nc;
    ASSERT_EQ(Connect(&nc, url), NATS_OK) << nats_GetLastError(nullptr);
    jsCtx* raw = nullptr;
    ASSERT_EQ(natsConnection_JetStream(&raw, nc.get(), nullptr), NATS_OK);
    Owned<jsCtx> js(raw);
    jsStreamInfo* si = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    ASSERT_EQ(js_GetStreamInfo(&si, js.get(), kStream, nullptr, &err), NATS_OK) << "js error " << err;
    Owned<jsStreamInfo> owned_si(si);
    EXPECT_GE(si->State.LastSeq, image.last()) << "the daemon serves less than the log holds";
    if (image.last() > 0) {
      EXPECT_EQ(si->State.FirstSeq, 1u);
    }
    EXPECT_EQ(si->State.Msgs, si->State.LastSeq) << "a gap or a deletion";
    std::lock_guard<std::mutex> l(ledger->mu);
    for (int c = 0; c < kConsumers; ++c) {
      jsConsumerInfo* ci = nullptr;
      ASSERT_EQ(js_GetConsumerInfo(&ci, js.get(), kStream, kConsumerNames[c], nullptr, &err), NATS_OK)
          << "consumer " << kConsumerNames[c] << " lost: js error " << err;
      Owned<jsConsumerInfo> owned_ci(ci);
      const uint64_t floor = ci->AckFloor.Stream;
      const uint64_t confirmed = ConfirmedFloor(ledger, image, c);
      if (floor < confirmed || floor < ledger->reported_floor[c]) {
        ++t->consumer_regressions;
        ADD_FAILURE() << "consumer " << kConsumerNames[c] << ": ack floor " << floor << ", confirmed "
                      << confirmed << ", reported before " << ledger->reported_floor[c];
      }
      EXPECT_LE(ci->Delivered.Stream, si->State.LastSeq);
      ledger->reported_floor[c] = std::max(ledger->reported_floor[c], floor);
    }
  }

  // Adds one data directory's ledger to the totals: every acknowledged
  // sequence must be in the last offline image, holding its message.
  void Account(Ledger& ledger, const LogImage& image, Totals* t) {
    std::lock_guard<std::mutex> l(ledger.mu);
    uint64_t reported = 0;
    for (const auto& [seq, id] : ledger.acked) {
      ++t->acknowledged;
      if (seq <= image.last() && image.ids[seq].cycle == id.cycle && image.ids[seq].counter == id.counter) {
        ++t->found;
      } else {
        ++t->lost;
        if (reported++ < 5) {
          ADD_FAILURE() << "acknowledged sequence " << seq << " (c=" << id.cycle << " n=" << id.counter << ") "
                        << (seq <= image.last() ? "holds another message" : "is missing");
        }
      }
    }
    for (int c = 0; c < kConsumers; ++c) t->confirmed_acks += ledger.confirmed[c].size();
  }
};

TEST_F(TortureTest, SyncAlways) { Run("always", {"--sync=always"}); }

TEST_F(TortureTest, SyncInterval) { Run("interval", {"--sync=interval", "--sync-interval=50ms"}); }

}  // namespace
}  // namespace shortbus::torture
