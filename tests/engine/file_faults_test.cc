// Faults from the file system: disk full, permission denied, failed syncs.
// Injected through the FileSystem interface, and (disk full) for real on a
// small tmpfs where this machine lets us mount one.
#include <sys/mount.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <filesystem>

#include "engine/file_system.h"
#include "engine/log.h"
#include "engine/reader.h"
#include "tests/engine/test_util.h"

namespace shortbus::engine {
namespace {

using ::testing::HasSubstr;
using testing::PayloadFor;
using testing::SmallOptions;
using testing::TempDir;

class FaultyFileSystem : public FileSystem {
 public:
  std::atomic<bool> disk_full{false};
  std::atomic<bool> sync_fails{false};
  std::atomic<bool> open_denied{false};

  absl::Status Allocate(int fd, uint64_t size, const std::string& path) override {
    if (disk_full) return ErrnoStatus(ENOSPC, "preallocate", path);
    return FileSystem::Allocate(fd, size, path);
  }
  absl::Status SyncData(int fd, const std::string& path) override {
    if (sync_fails) return ErrnoStatus(EIO, "fdatasync", path);
    return FileSystem::SyncData(fd, path);
  }
  absl::StatusOr<int> Open(const std::string& path, int flags, mode_t mode) override {
    if (open_denied) return ErrnoStatus(EACCES, "open", path);
    return FileSystem::Open(path, flags, mode);
  }
};

uint64_t CountReadable(const std::string& dir) { return testing::ReadSequences(dir, 1000).size(); }

TEST(FileFaults, DiskFullRefusesAppendThenRecovers) {
  TempDir tmp;
  FaultyFileSystem fs;
  LogOptions o = SmallOptions();
  o.fs = &fs;
  o.precreate_next_segment = false;
  auto log = *Log::Open(tmp.path(), o);
  uint64_t i = 1;
  for (; i <= 500; ++i) ASSERT_TRUE(log->Append({"f", "", PayloadFor(i, 1000), 0}).ok());
  fs.disk_full = true;
  absl::Status err;
  for (; i <= 5000; ++i) {
    absl::StatusOr<uint64_t> s = log->Append({"f", "", PayloadFor(i, 1000), 0});
    if (!s.ok()) {
      err = s.status();
      break;
    }
  }
  ASSERT_FALSE(err.ok()) << "the first segment never filled";
  EXPECT_TRUE(absl::IsResourceExhausted(err)) << err;
  EXPECT_THAT(std::string(err.message()), HasSubstr("disk full"));
  EXPECT_THAT(std::string(err.message()), HasSubstr("cannot start a new segment"));
  const uint64_t stored = i - 1;
  EXPECT_EQ(log->last_seq(), stored);
  // Refused again, nothing changes, nothing left behind.
  EXPECT_FALSE(log->Append({"f", "", PayloadFor(i, 1000), 0}).ok());
  EXPECT_EQ(CountReadable(tmp.path()), stored);
  for (const auto& n : testing::ListDir(tmp.path())) EXPECT_EQ(n.find(".tmp"), std::string::npos);
  // Space returns: the same append now succeeds with the next sequence.
  fs.disk_full = false;
  EXPECT_EQ(*log->Append({"f", "", PayloadFor(i, 1000), 0}), stored + 1);
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(CountReadable(tmp.path()), stored + 1);
}

TEST(FileFaults, FailedSyncFailsTheLogAndNeverClaimsDurability) {
  TempDir tmp;
  FaultyFileSystem fs;
  LogOptions o = SmallOptions();
  o.fs = &fs;
  o.sync = SyncMode::kAlways;
  auto log = *Log::Open(tmp.path(), o);
  ASSERT_TRUE(log->Append({"s", "", "one", 0}).ok());
  ASSERT_TRUE(log->WaitDurable(1, absl::Seconds(30)).ok());
  fs.sync_fails = true;
  ASSERT_TRUE(log->Append({"s", "", "two", 0}).ok());
  absl::Status s = log->WaitDurable(2, absl::Seconds(30));
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("fdatasync"));
  EXPECT_EQ(log->durable_seq(), 1u);
  // After a failed fdatasync the page cache may have dropped the data:
  // the log refuses to go on (no retry that could pretend success).
  absl::StatusOr<uint64_t> a = log->Append({"s", "", "three", 0});
  EXPECT_TRUE(absl::IsFailedPrecondition(a.status())) << a.status();
  EXPECT_THAT(std::string(a.status().message()), HasSubstr("must be reopened"));
  fs.sync_fails = false;
  EXPECT_FALSE(log->Close().ok());
  EXPECT_FALSE(log->Close().ok());  // a second Close does not pretend all is well
  log.reset();
  // Reopening recovers what is on disk.
  auto again = Log::Open(tmp.path(), o);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_GE((*again)->last_seq(), 1u);
}

TEST(FileFaults, PermissionDeniedIsClear) {
  TempDir tmp;
  FaultyFileSystem fs;
  fs.open_denied = true;
  LogOptions o = SmallOptions();
  o.fs = &fs;
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(tmp.Sub("s"), o);
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(log.status())) << log.status();
  EXPECT_THAT(std::string(log.status().message()), HasSubstr("Permission denied"));
}

TEST(FileFaults, ReadOnlyStreamDirectoryForNonRoot) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions; covered by injection";
  TempDir tmp;
  std::filesystem::create_directory(tmp.Sub("ro"));
  std::filesystem::permissions(tmp.Sub("ro"), std::filesystem::perms::owner_read |
                                                  std::filesystem::perms::owner_exec);
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(tmp.Sub("ro"), SmallOptions());
  EXPECT_TRUE(absl::IsPermissionDenied(log.status())) << log.status();
}

// The real thing: a 4 MiB tmpfs. Appends stop with a clear error when it is
// full, everything stored stays readable, and appends resume once space is
// freed.
TEST(FileFaults, RealDiskFullOnTmpfs) {
  TempDir tmp;
  const std::string mnt = tmp.Sub("mnt");
  std::filesystem::create_directory(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=4m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno) << ")";
  }
  struct Unmount {
    std::string p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{mnt};
  // Take some of the space with a file we can delete later.
  {
    FILE* f = std::fopen((mnt + "/ballast").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::string mb(1 << 20, 'b');
    ASSERT_EQ(std::fwrite(mb.data(), 1, mb.size(), f), mb.size());
    std::fclose(f);
  }
  LogOptions o = SmallOptions();
  o.precreate_next_segment = true;
  const std::string dir = mnt + "/stream";
  auto log = *Log::Open(dir, o);
  absl::Status err;
  uint64_t i = 1;
  for (; i <= 20000; ++i) {
    absl::StatusOr<uint64_t> s = log->Append({"f", "", PayloadFor(i, 1000), 0});
    if (!s.ok()) {
      err = s.status();
      break;
    }
  }
  ASSERT_TRUE(absl::IsResourceExhausted(err)) << err;
  EXPECT_THAT(std::string(err.message()), HasSubstr("No space left on device"));
  const uint64_t stored = i - 1;
  EXPECT_GT(stored, 1000u);
  EXPECT_EQ(CountReadable(dir), stored);
  std::filesystem::remove(mnt + "/ballast");
  absl::StatusOr<uint64_t> s = log->Append({"f", "", PayloadFor(i, 1000), 0});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*s, stored + 1);
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(CountReadable(dir), stored + 1);
}

}  // namespace
}  // namespace shortbus::engine
