#include "index/lmdb_env.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

#include <filesystem>
#include <string>

#include "engine/coding.h"
#include "tests/engine/test_util.h"

namespace shortbus::index {
namespace {

using ::testing::HasSubstr;
using engine::testing::TempDir;

absl::Status Put(MDB_txn* txn, MDB_dbi db, const std::string& k, const std::string& v) {
  MDB_val key{k.size(), const_cast<char*>(k.data())};
  MDB_val val{v.size(), const_cast<char*>(v.data())};
  return LmdbStatus(mdb_put(txn, db, &key, &val, 0), "put");
}

std::string Get(const LmdbEnv& env, MDB_dbi db, const std::string& k) {
  std::string out;
  absl::Status s = env.Read([&](MDB_txn* txn) {
    MDB_val key{k.size(), const_cast<char*>(k.data())};
    MDB_val val;
    int rc = mdb_get(txn, db, &key, &val);
    if (rc == 0) out.assign(static_cast<const char*>(val.mv_data), val.mv_size);
    return rc == MDB_NOTFOUND ? absl::OkStatus() : LmdbStatus(rc, "get");
  });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

TEST(LmdbEnv, CreatesDatabasesAndPersists) {
  TempDir tmp;
  const std::string dir = tmp.Sub("index");
  {
    auto env = LmdbEnv::Open(dir, {}, {"streams", "segments"});
    ASSERT_TRUE(env.ok()) << env.status();
    MDB_dbi streams = (*env)->db("streams");
    EXPECT_NE(streams, (*env)->db("segments"));
    EXPECT_EQ((*env)->db("nope"), 0u);
    ASSERT_TRUE((*env)->Write([&](MDB_txn* txn) { return Put(txn, streams, "orders", "config"); }).ok());
    ASSERT_TRUE((*env)->Sync().ok());
  }
  auto env = LmdbEnv::Open(dir, {}, {"streams", "segments"});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(Get(**env, (*env)->db("streams"), "orders"), "config");
}

TEST(LmdbEnv, AFailedWriteFunctionCommitsNothing) {
  TempDir tmp;
  auto env = *LmdbEnv::Open(tmp.Sub("index"), {}, {"kv"});
  absl::Status s = env->Write([&](MDB_txn* txn) -> absl::Status {
    if (absl::Status p = Put(txn, env->db("kv"), "a", "1"); !p.ok()) return p;
    return absl::InvalidArgumentError("changed my mind");
  });
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_EQ(Get(*env, env->db("kv"), "a"), "");
}

// The map starts tiny and grows as writes need it: no MDB_MAP_FULL reaches
// the caller, and the transaction that met it is run again whole.
TEST(LmdbEnv, MapGrowsInsteadOfFailing) {
  TempDir tmp;
  EnvOptions o;
  o.initial_map_size = 256 * 1024;
  auto env = *LmdbEnv::Open(tmp.Sub("index"), o, {"kv"});
  const uint64_t start = env->map_size();
  const std::string value(1000, 'v');
  int runs = 0;
  for (int batch = 0; batch < 20; ++batch) {
    absl::Status s = env->Write([&](MDB_txn* txn) -> absl::Status {
      ++runs;
      for (int i = 0; i < 500; ++i) {
        std::string key(8, '\0');
        engine::EncodeFixed64(key.data(), static_cast<uint64_t>(batch * 500 + i));
        if (absl::Status p = Put(txn, env->db("kv"), key, value); !p.ok()) return p;
      }
      return absl::OkStatus();
    });
    ASSERT_TRUE(s.ok()) << s;
  }
  EXPECT_GT(env->map_size(), start * 8);  // ~10 MB of values in a 256 KiB map
  EXPECT_GT(runs, 20);                    // some transactions ran again after growing
  std::string key(8, '\0');
  engine::EncodeFixed64(key.data(), 9999);
  EXPECT_EQ(Get(*env, env->db("kv"), key), value);
}

TEST(LmdbEnv, OtherFormatVersionIsAClearError) {
  TempDir tmp;
  const std::string dir = tmp.Sub("index");
  {
    auto env = *LmdbEnv::Open(dir, {}, {"kv"});
    ASSERT_TRUE(env->Write([&](MDB_txn* txn) {
                  char v[4];
                  engine::EncodeFixed32(v, kIndexFormatVersion + 1);
                  return Put(txn, env->db("meta"), "format_version", std::string(v, 4));
                }).ok());
  }
  auto env = LmdbEnv::Open(dir, {}, {"kv"});
  ASSERT_FALSE(env.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(env.status())) << env.status();
  EXPECT_THAT(std::string(env.status().message()),
              HasSubstr(absl::StrCat("format version ", kIndexFormatVersion + 1, "; this build reads version ",
                                     kIndexFormatVersion)));
  EXPECT_THAT(std::string(env.status().message()), HasSubstr("shortbus reindex"));
}

TEST(LmdbEnv, CorruptDataFileIsAClearError) {
  TempDir tmp;
  const std::string dir = tmp.Sub("index");
  { auto env = *LmdbEnv::Open(dir, {}, {"kv"}); }
  // Garbage over both meta pages of data.mdb.
  {
    int fd = ::open((dir + "/data.mdb").c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    std::string junk(8192, '\x5a');
    ASSERT_EQ(::pwrite(fd, junk.data(), junk.size(), 0), static_cast<ssize_t>(junk.size()));
    ::close(fd);
  }
  auto env = LmdbEnv::Open(dir, {}, {"kv"});
  ASSERT_FALSE(env.ok());
  EXPECT_TRUE(absl::IsDataLoss(env.status())) << env.status();
  EXPECT_THAT(std::string(env.status().message()), HasSubstr("reindex"));
}

// LMDB resets the reader table when the first process opens an
// environment, so a stale slot exists only while another process keeps it
// open: child A holds the environment, child B takes a reader slot and dies.
TEST(LmdbEnv, StaleReaderOfADeadProcessIsCleared) {
  TempDir tmp;
  const std::string dir = tmp.Sub("index");
  { auto env = *LmdbEnv::Open(dir, {}, {"kv"}); }
  auto open_raw = [&](MDB_env** e) {
    mdb_env_create(e);
    mdb_env_set_maxdbs(*e, 16);
    return mdb_env_open(*e, dir.c_str(), MDB_NOTLS, 0600);
  };
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t holder = ::fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {
    MDB_env* e = nullptr;
    if (open_raw(&e) != 0) ::_exit(2);
    char b = 'r';
    if (::write(ready[1], &b, 1) != 1) ::_exit(3);
    ::pause();  // until killed
    ::_exit(0);
  }
  struct KillHolder {
    pid_t pid;
    ~KillHolder() {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } kill_holder{holder};
  char b;
  ASSERT_EQ(::read(ready[0], &b, 1), 1);
  ::close(ready[0]);
  ::close(ready[1]);
  pid_t reader = ::fork();
  ASSERT_GE(reader, 0);
  if (reader == 0) {
    MDB_env* e = nullptr;
    if (open_raw(&e) != 0) ::_exit(2);
    MDB_txn* txn = nullptr;
    if (mdb_txn_begin(e, nullptr, MDB_RDONLY, &txn) != 0) ::_exit(3);
    ::_exit(0);  // no abort, no close: the slot stays taken
  }
  int status = 0;
  ASSERT_EQ(::waitpid(reader, &status, 0), reader);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto env = LmdbEnv::Open(dir, {}, {"kv"});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ((*env)->stale_readers_cleared(), 1);
}

}  // namespace
}  // namespace shortbus::index
