// A FileSystem that knows what a power cut may leave on the disk.
//
// Model (what the kernel and a journaling file system such as ext4 may do
// with the files of a writer that uses shared mappings):
//   - File data: the durable image of a file is its whole content as of the
//     last SyncData (fdatasync) on it; stores into the mapping, WriteAt and
//     Zero after that are dirty pages. At a power cut each 4 KiB page that
//     differs from the durable image is, independently and so in any order,
//     lost (the durable page stays), written whole, or torn: a random prefix
//     of 512-byte sectors written, the rest of the durable page left.
//   - Names and sizes: creations, renames, removals and preallocations are
//     metadata operations applied in order; SyncDir commits every one made
//     so far (a journal commit). A cut keeps the committed ones plus a random
//     prefix of the rest. A file's size is at least what its last SyncData
//     saw. Directories (CreateDir) are taken as durable at once.
//   - Files that exist when first opened count as wholly durable.
//
// SyncData records the durable image and does not call fdatasync (the model
// is the oracle; the test does not need the device's cooperation).
//
// Use: give it as LogOptions::fs, run, CutPower() (every later call that
// would change or sync a file fails with EIO, so the Log fails as on a dead
// disk; reads still work), close the Log, then LoseUnsynced() rewrites the
// files in place to one image the cut could have left. Reopen with a fresh
// PowerLossFileSystem (or the default one).
//
// SHORTBUS_POWER_TRACE=1 in the environment prints, at each LoseUnsynced,
// every metadata operation and whether the cut kept it.
//
// Threading: every method may be called from any thread.
#ifndef SHORTBUS_TESTS_ENGINE_POWER_LOSS_FS_H_
#define SHORTBUS_TESTS_ENGINE_POWER_LOSS_FS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "engine/file_system.h"

namespace shortbus::engine::testing {

// What LoseUnsynced chose.
struct PowerLossStats {
  uint64_t dirty_pages = 0;    // pages that differed from their durable image
  uint64_t pages_lost = 0;     // of those: the durable page stayed
  uint64_t pages_written = 0;  // written whole
  uint64_t pages_torn = 0;     // a prefix of sectors written
  uint64_t metadata_ops = 0;   // uncommitted creations, renames, removals, sizes
  uint64_t metadata_kept = 0;  // of those, kept (a prefix)
};

class PowerLossFileSystem : public FileSystem {
 public:
  PowerLossFileSystem() = default;
  ~PowerLossFileSystem() override;

  absl::StatusOr<int> Open(const std::string& path, int flags, mode_t mode) override;
  void Close(int fd) override;
  absl::Status Allocate(int fd, uint64_t size, const std::string& path) override;
  absl::Status SyncData(int fd, const std::string& path) override;
  absl::Status SyncDir(const std::string& dir) override;
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status Remove(const std::string& path) override;
  absl::Status Zero(int fd, uint64_t offset, uint64_t len, const std::string& path) override;
  absl::Status WriteAt(int fd, uint64_t offset, const char* src, size_t len, const std::string& path) override;

  // The power goes: the contents of every file as the page cache holds them
  // now are what LoseUnsynced works from.
  void CutPower();
  // REQUIRES: CutPower() was called and nothing uses the files any more.
  // Rewrites them (and their names) to one image the cut could leave.
  PowerLossStats LoseUnsynced(std::mt19937_64& rng);

  uint64_t syncs() const;

 private:
  struct Inode {
    int keep_fd = -1;         // a descriptor of our own, to read it after renames
    std::string durable;      // content as of the last SyncData (its length: the durable size)
    std::string at_cut;       // content when the power went (or when it was removed)
    bool removed = false;
  };
  enum class OpKind { kCreate, kRename, kRemove, kResize };
  struct Op {
    OpKind kind;
    std::string path, to;
    std::shared_ptr<Inode> inode;
    uint64_t size = 0;
  };
  absl::Status Dead(const char* what, const std::string& path) const;
  std::shared_ptr<Inode> InodeOf(int fd);
  static std::string ReadAll(int fd);

  mutable std::mutex mu_;
  bool power_off_ = false;
  uint64_t syncs_ = 0;
  std::map<std::string, std::shared_ptr<Inode>> names_;    // the names now
  std::map<std::string, std::shared_ptr<Inode>> initial_;  // names before the first op
  std::map<int, std::shared_ptr<Inode>> fds_;
  std::vector<Op> ops_;
  size_t committed_ = 0;  // ops_[0, committed_) are durable
};

}  // namespace shortbus::engine::testing

#endif  // SHORTBUS_TESTS_ENGINE_POWER_LOSS_FS_H_
