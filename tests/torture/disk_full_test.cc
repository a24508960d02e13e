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
//     and a restart serves every acknowledged message.
#include <sys/mount.h>
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

TEST(DiskFull, DaemonRefusesPublishesThenResumesWhenSpaceReturns) {
  engine::testing::TempDir tmp;
  const std::string mnt = tmp.Sub("tmpfs");
  Mount mount(mnt);
  if (!mount.ok()) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << mount.error()
                 << "): the daemon-level disk-full test needs root or CAP_SYS_ADMIN";
  }
  {
    std::ofstream ballast(mnt + "/ballast", std::ios::binary);
    const std::string mb(1 << 20, 'b');
    for (size_t n = 0; n < kBallast; n += mb.size()) ballast << mb;
    ASSERT_TRUE(ballast.good());
  }
  ServerOptions options;
  options.jetstream = true;
  options.shortbusd_args = {"--sync=always"};
  options.data_dir = mnt + "/data";
  ServerProcess server(e2e::TargetFromEnv(), options);
  ASSERT_EQ(server.Start(), "");

  Owned<natsConnection> nc;
  ASSERT_EQ(Connect(&nc, server.url()), NATS_OK) << nats_GetLastError(nullptr);
  const std::string cfg =
      std::string("{\"name\":\"") + kStream + "\",\"subjects\":[\"tort.>\"],\"segment_size\":1048576}";
  natsMsg* reply = nullptr;
  ASSERT_EQ(natsConnection_Request(&reply, nc.get(), (std::string("$JS.API.STREAM.CREATE.") + kStream).c_str(),
                                   cfg.data(), static_cast<int>(cfg.size()), 10'000),
            NATS_OK);
  Owned<natsMsg> owned_reply(reply);
  ASSERT_EQ(e2e::Data(reply).find("\"error\""), std::string::npos) << e2e::Data(reply);
  jsCtx* raw = nullptr;
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 10'000;  // a refusal must come long before this
  ASSERT_EQ(natsConnection_JetStream(&raw, nc.get(), &jo), NATS_OK);
  Owned<jsCtx> js(raw);

  // Fill: acknowledged publishes until the disk is full. A message that
  // needs a new segment is refused while smaller ones may still fit the
  // active (preallocated) segment and are acknowledged: fill until 20 in a
  // row are refused. Every refusal must be a prompt 10077 "disk full".
  std::vector<std::pair<uint64_t, MessageId>> acked;
  PubResult first_refusal;
  int refusals = 0, in_a_row = 0;
  double slowest_refusal_ms = 0;
  uint64_t counter = 0;
  for (int i = 0; i < kMaxPublishes && in_a_row < 20; ++i) {
    const MessageId id{0, counter++};
    PubResult r = Publish(js.get(), id);
    if (r.status == NATS_OK) {
      ASSERT_EQ(r.seq, acked.size() + 1) << "acknowledged out of sequence";
      acked.emplace_back(r.seq, id);
      in_a_row = 0;
      continue;
    }
    if (refusals++ == 0) first_refusal = r;
    ++in_a_row;
    slowest_refusal_ms = std::max(slowest_refusal_ms, r.ms);
    ASSERT_NE(r.status, NATS_TIMEOUT) << "a full disk must be an error, not a hang";
    ASSERT_EQ(r.code, 10077) << r.error;
    ASSERT_NE(r.error.find("disk full"), std::string::npos) << r.error;
  }
  ASSERT_EQ(in_a_row, 20) << "never full: " << acked.size() << " publishes acknowledged, " << refusals
                          << " refused on a " << kTmpfsSize << " tmpfs";
  std::printf("disk full: %zu publishes acknowledged, %d refused (slowest refusal %.1f ms); the first: %s\n",
              acked.size(), refusals, slowest_refusal_ms, first_refusal.error.c_str());
  EXPECT_LT(slowest_refusal_ms, 5000);
  ASSERT_NO_FATAL_FAILURE(ExpectStored(js.get(), acked));

  // Space returns: the same daemon acknowledges again, with the next sequences.
  fs::remove(mnt + "/ballast");
  for (int i = 0; i < 100; ++i) {
    const MessageId id{1, counter++};
    PubResult r = Publish(js.get(), id);
    ASSERT_EQ(r.status, NATS_OK) << "publish " << i << " after space returned: js error " << r.code << " "
                                 << r.error << "\n"
                                 << server.LogTail();
    ASSERT_EQ(r.seq, acked.size() + 1);
    acked.emplace_back(r.seq, id);
  }
  ASSERT_NO_FATAL_FAILURE(ExpectStored(js.get(), acked));
  js.reset();
  nc.reset();

  // A clean stop, a clean verify, and a restart that serves it all.
  const int status = server.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << "\n" << server.LogTail();
  e2e::Process verify(e2e::ShortbusBin(), {"verify", server.data_dir()});
  EXPECT_EQ(verify.Wait(std::chrono::seconds(60)), 0) << verify.out() << verify.err();
  ASSERT_EQ(server.Start(), "");
  ASSERT_EQ(Connect(&nc, server.url()), NATS_OK);
  ASSERT_EQ(natsConnection_JetStream(&raw, nc.get(), nullptr), NATS_OK);
  js.reset(raw);
  ASSERT_NO_FATAL_FAILURE(ExpectStored(js.get(), acked));
}

}  // namespace
}  // namespace shortbus::torture
