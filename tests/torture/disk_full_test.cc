// Disk full at the daemon level: shortbusd with its data directory on a
// small tmpfs (skipped where this machine does not let us mount one), beside
// a ballast file of ours. Acknowledged publishes (sync=always) fill it until
// the daemon refuses one; then:
//   - a refusal is a JetStream error acknowledgement (503, error code
//     10077, "disk full"), promptly, never a timeout and never an
//     acknowledgement of a message that was not stored (a message that
//     still fits the active, preallocated segment is stored and
//     acknowledged; one that needs a new segment is refused);
//   - everything acknowledged before is stored, bit-identical, in order;
//   - once the ballast is deleted, publishes are acknowledged again with the
//     next sequences, without restarting the daemon;
//   - after a clean stop, `shortbus verify` finds the data directory clean,
//     and a restart serves every acknowledged message;
//   - with the disk full to the last byte, a consumer's acknowledgements
//     that the daemon confirmed (AckSync) survive kill -9.
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nats/nats.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <signal.h>
#include <string>
#include <vector>

#include "tests/e2e/cli_process.h"
#include "tests/e2e/nats_c_util.h"
#include "tests/e2e/server_launcher.h"
#include "tests/engine/test_util.h"
#include "tests/torture/torture_message.h"

namespace shortbus::torture {
namespace {

using e2e::Connect;
using e2e::Owned;
using e2e::ServerOptions;
using e2e::ServerProcess;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr char kStream[] = "FULL";
// The tmpfs: room for the index, a few 1 MiB segments and the ballast.
constexpr char kTmpfsSize[] = "size=8m";
constexpr size_t kBallast = size_t{3} << 20;
// Payloads average under 1 KiB (torture_message.h): the first refusal comes
// within about 5,000 publishes; this bounds the loop should it not.
constexpr int kMaxPublishes = 20000;

class Mount {
 public:
  explicit Mount(std::string path) : path_(std::move(path)) {
    fs::create_directories(path_);
    ok_ = ::mount("tmpfs", path_.c_str(), "tmpfs", 0, kTmpfsSize) == 0;
    error_ = ok_ ? "" : std::strerror(errno);
  }
  ~Mount() {
    if (ok_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }

 private:
  std::string path_;
  bool ok_ = false;
  std::string error_;
};

struct PubResult {
  natsStatus status = NATS_OK;
  jsErrCode code = static_cast<jsErrCode>(0);
  uint64_t seq = 0;
  std::string error;
  double ms = 0;
};

PubResult Publish(jsCtx* js, MessageId id) {
  const std::string subject = SubjectFor(id);
  const std::string payload = PayloadFor(id);
  jsPubAck* pa = nullptr;
  PubResult r;
  const auto t0 = Clock::now();
  r.status = js_Publish(&pa, js, subject.c_str(), payload.data(), static_cast<int>(payload.size()), nullptr, &r.code);
  r.ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (pa != nullptr) r.seq = pa->Sequence;
  if (r.status != NATS_OK) r.error = nats_GetLastError(nullptr);
  jsPubAck_Destroy(pa);
  return r;
}

// Every acknowledged (sequence, message) is served by the daemon as sent.
void ExpectStored(jsCtx* js, const std::vector<std::pair<uint64_t, MessageId>>& acked) {
  jsStreamInfo* si = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  ASSERT_EQ(js_GetStreamInfo(&si, js, kStream, nullptr, &err), NATS_OK) << "js error " << err;
  Owned<jsStreamInfo> owned_si(si);
  EXPECT_EQ(si->State.Msgs, acked.size());
  EXPECT_EQ(si->State.FirstSeq, 1u);
  EXPECT_EQ(si->State.LastSeq, acked.empty() ? 0 : acked.back().first);
  int bad = 0;
  for (const auto& [seq, id] : acked) {
    natsMsg* m = nullptr;
    const natsStatus s = js_GetMsg(&m, js, kStream, seq, nullptr, &err);
    Owned<natsMsg> owned(m);
    if (s != NATS_OK || e2e::Data(m) != PayloadFor(id) || SubjectFor(id) != natsMsg_GetSubject(m)) {
      if (bad++ < 5) ADD_FAILURE() << "acknowledged sequence " << seq << " not served as published";
    }
  }
  EXPECT_EQ(bad, 0) << "of " << acked.size();
}

// A daemon (sync=always) with its data directory on a small tmpfs beside a
// ballast file, a stream with 1 MiB segments, filled by acknowledged
// publishes until the disk is full.
class DiskFull : public ::testing::Test {
 protected:
  void SetUp() override {
    mount_ = std::make_unique<Mount>(mnt_);
    if (!mount_->ok()) {
      GTEST_SKIP() << "cannot mount a tmpfs here (" << mount_->error()
                   << "): the daemon-level disk-full test needs root or CAP_SYS_ADMIN";
    }
    {
      std::ofstream ballast(mnt_ + "/ballast", std::ios::binary);
      const std::string mb(1 << 20, 'b');
      for (size_t n = 0; n < kBallast; n += mb.size()) ballast << mb;
      ASSERT_TRUE(ballast.good());
    }
    ServerOptions options;
    options.jetstream = true;
    options.shortbusd_args = {"--sync=always"};
    options.data_dir = mnt_ + "/data";
    server_ = std::make_unique<ServerProcess>(e2e::TargetFromEnv(), options);
    ASSERT_EQ(server_->Start(), "");
    ASSERT_NO_FATAL_FAILURE(Open());
    const std::string cfg =
        std::string("{\"name\":\"") + kStream + "\",\"subjects\":[\"tort.>\"],\"segment_size\":1048576}";
    natsMsg* reply = nullptr;
    ASSERT_EQ(natsConnection_Request(&reply, nc_.get(), (std::string("$JS.API.STREAM.CREATE.") + kStream).c_str(),
                                     cfg.data(), static_cast<int>(cfg.size()), 10'000),
              NATS_OK);
    Owned<natsMsg> owned_reply(reply);
    ASSERT_EQ(e2e::Data(reply).find("\"error\""), std::string::npos) << e2e::Data(reply);
    ASSERT_NO_FATAL_FAILURE(Fill());
  }

  void Open() {
    js_.reset();
    ASSERT_EQ(Connect(&nc_, server_->url()), NATS_OK) << nats_GetLastError(nullptr);
    jsCtx* raw = nullptr;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 10'000;  // a refusal must come long before this
    ASSERT_EQ(natsConnection_JetStream(&raw, nc_.get(), &jo), NATS_OK);
    js_.reset(raw);
  }
  void Close() {
    js_.reset();
    nc_.reset();
  }

  // Acknowledged publishes until the disk is full. A message that needs a
  // new segment is refused while smaller ones may still fit the active
  // (preallocated) segment and are acknowledged: fill until 20 in a row are
  // refused. Every refusal must be a prompt 10077 "disk full".
  void Fill() {
    PubResult first_refusal;
    int refusals = 0, in_a_row = 0;
    double slowest_refusal_ms = 0;
    for (int i = 0; i < kMaxPublishes && in_a_row < 20; ++i) {
      const MessageId id{0, counter_++};
      PubResult r = Publish(js_.get(), id);
      if (r.status == NATS_OK) {
        ASSERT_EQ(r.seq, acked_.size() + 1) << "acknowledged out of sequence";
        acked_.emplace_back(r.seq, id);
        in_a_row = 0;
        continue;
      }
      if (refusals++ == 0) first_refusal = r;
      ++in_a_row;
      slowest_refusal_ms = std::max(slowest_refusal_ms, r.ms);
      ASSERT_NE(r.status, NATS_TIMEOUT) << "a full disk must be an error, not a hang";
      ASSERT_EQ(r.code, 10077) << r.error;
      ASSERT_NE(r.error.find("disk full"), std::string::npos) << r.error;
      // Files are named relative to the data directory: a client learns
      // what failed, not where the daemon keeps its data.
      ASSERT_EQ(r.error.find(mnt_), std::string::npos) << r.error;
    }
    ASSERT_EQ(in_a_row, 20) << "never full: " << acked_.size() << " publishes acknowledged, " << refusals
                            << " refused on a " << kTmpfsSize << " tmpfs";
    std::printf("disk full: %zu publishes acknowledged, %d refused (slowest refusal %.1f ms); the first: %s\n",
                acked_.size(), refusals, slowest_refusal_ms, first_refusal.error.c_str());
    EXPECT_LT(slowest_refusal_ms, 5000);
    ASSERT_NO_FATAL_FAILURE(ExpectStored(js_.get(), acked_));
  }

  const engine::testing::TempDir tmp_;
  const std::string mnt_ = tmp_.Sub("tmpfs");
  std::unique_ptr<Mount> mount_;
  std::unique_ptr<ServerProcess> server_;  // stopped before the tmpfs goes
  Owned<natsConnection> nc_;
  Owned<jsCtx> js_;  // after nc_: destroyed first
  std::vector<std::pair<uint64_t, MessageId>> acked_;
  uint64_t counter_ = 0;
};

TEST_F(DiskFull, DaemonRefusesPublishesThenResumesWhenSpaceReturns) {
  // Space returns: the same daemon acknowledges again, with the next sequences.
  fs::remove(mnt_ + "/ballast");
  for (int i = 0; i < 100; ++i) {
    const MessageId id{1, counter_++};
    PubResult r = Publish(js_.get(), id);
    ASSERT_EQ(r.status, NATS_OK) << "publish " << i << " after space returned: js error " << r.code << " "
                                 << r.error << "\n"
                                 << server_->LogTail();
    ASSERT_EQ(r.seq, acked_.size() + 1);
    acked_.emplace_back(r.seq, id);
  }
  ASSERT_NO_FATAL_FAILURE(ExpectStored(js_.get(), acked_));
  Close();

  // A clean stop, a clean verify, and a restart that serves it all.
  const int status = server_->Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << "\n" << server_->LogTail();
  e2e::Process verify(e2e::ShortbusBin(), {"verify", server_->data_dir()});
  EXPECT_EQ(verify.Wait(std::chrono::seconds(60)), 0) << verify.out() << verify.err();
  ASSERT_EQ(server_->Start(), "");
  ASSERT_NO_FATAL_FAILURE(Open());
  ASSERT_NO_FATAL_FAILURE(ExpectStored(js_.get(), acked_));
}

// The disk full to the last byte (a second ballast written until ENOSPC):
// a durable pull consumer reads the stored messages and acknowledges each
// with AckSync. Whatever the index manages to commit, an acknowledgement
// the daemon confirmed survives kill -9: the ack floor after the restart is
// at least the highest sequence confirmed with all before it.
TEST_F(DiskFull, ConfirmedConsumerAcknowledgementsSurviveAFullDisk) {
  {
    std::ofstream rest(mnt_ + "/ballast2", std::ios::binary);
    const std::string kb(4096, 'r');
    for (int i = 0; i < 1 << 20 && rest.write(kb.data(), kb.size()); ++i) {
    }
  }
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = "reader";
  cc.AckPolicy = js_AckExplicit;
  jsConsumerInfo* ci = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  const natsStatus created = js_AddConsumer(&ci, js_.get(), kStream, &cc, nullptr, &err);
  jsConsumerInfo_Destroy(ci);
  std::printf("disk full: consumer creation on a full disk: %s (js error %d)\n", natsStatus_GetText(created),
              static_cast<int>(err));
  if (created != NATS_OK) {
    // Refused with an error (the index could not take it): nothing more
    // to acknowledge; the stream must still be whole.
    EXPECT_NE(created, NATS_TIMEOUT);
    ASSERT_NO_FATAL_FAILURE(ExpectStored(js_.get(), acked_));
    return;
  }
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = kStream;
  so.Consumer = "reader";
  natsSubscription* raw_sub = nullptr;
  ASSERT_EQ(js_PullSubscribe(&raw_sub, js_.get(), "tort.>", "reader", nullptr, &so, &err), NATS_OK);
  Owned<natsSubscription> sub(raw_sub);
  uint64_t confirmed_floor = 0;  // every sequence up to it confirmed
  int confirmed = 0, unconfirmed = 0;
  for (int round = 0; round < 20 && unconfirmed == 0; ++round) {
    natsMsgList list{};
    if (natsSubscription_Fetch(&list, sub.get(), 50, 5000, &err) != NATS_OK) break;
    for (int i = 0; i < list.Count; ++i) {
      jsOptions wait;
      jsOptions_Init(&wait);
      wait.Wait = 2000;
      jsMsgMetaData* meta = nullptr;
      ASSERT_EQ(natsMsg_GetMetaData(&meta, list.Msgs[i]), NATS_OK);
      const uint64_t seq = meta->Sequence.Stream;
      jsMsgMetaData_Destroy(meta);
      if (unconfirmed == 0 && natsMsg_AckSync(list.Msgs[i], &wait, &err) == NATS_OK) {
        ++confirmed;
        if (seq == confirmed_floor + 1) confirmed_floor = seq;
      } else {
        ++unconfirmed;
      }
    }
    natsMsgList_Destroy(&list);
  }
  struct statvfs vfs{};
  ::statvfs(mnt_.c_str(), &vfs);
  std::printf("disk full: %d acknowledgements confirmed, %d not, with %llu bytes free\n", confirmed, unconfirmed,
              static_cast<unsigned long long>(vfs.f_bavail) * vfs.f_frsize);
  sub.reset();
  Close();
  ASSERT_EQ(WTERMSIG(server_->Kill()), SIGKILL);
  fs::remove(mnt_ + "/ballast");
  fs::remove(mnt_ + "/ballast2");
  ASSERT_EQ(server_->Start(), "");
  ASSERT_NO_FATAL_FAILURE(Open());
  ASSERT_EQ(js_GetConsumerInfo(&ci, js_.get(), kStream, "reader", nullptr, &err), NATS_OK) << "js error " << err;
  Owned<jsConsumerInfo> info(ci);
  EXPECT_GE(info->AckFloor.Stream, confirmed_floor) << "a confirmed acknowledgement was lost";
  ASSERT_NO_FATAL_FAILURE(ExpectStored(js_.get(), acked_));
}

}  // namespace
}  // namespace shortbus::torture
