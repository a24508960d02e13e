// The narrow file interface the engine uses for everything but loads and
// stores into a mapping. Production code uses DefaultFileSystem(); tests
// subclass FileSystem to inject faults (disk full, permission denied, failed
// syncs) one call at a time.
//
// Errors: every call returns absl::Status carrying the errno's meaning:
//   ENOSPC, EDQUOT       -> ResourceExhausted ("disk full: ...")
//   EACCES, EPERM, EROFS -> PermissionDenied
//   ENOENT               -> NotFound
//   EEXIST               -> AlreadyExists
//   EAGAIN, EBUSY        -> Unavailable
//   anything else        -> Internal
// and a message naming the operation, the path and strerror.
//
// Threading: DefaultFileSystem() is stateless and safe from any thread.
#ifndef SHORTBUS_ENGINE_FILE_SYSTEM_H_
#define SHORTBUS_ENGINE_FILE_SYSTEM_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shortbus::engine {

// Builds the Status for a failed system call: code from `err` (an errno),
// message "<what> <path>: <strerror>" ("<what>: <strerror>" without a path).
absl::Status ErrnoStatus(int err, absl::string_view what, absl::string_view path);

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // open(2). Returns the descriptor; the caller closes it with Close().
  virtual absl::StatusOr<int> Open(const std::string& path, int flags, mode_t mode);
  virtual void Close(int fd);
  // flock(LOCK_EX | LOCK_NB). Unavailable (the lock is held through another
  // open file description, in this process or another) when already held.
  virtual absl::Status LockExclusive(int fd, const std::string& path);
  // Reserves [0, size) so that stores into a mapping of it never meet ENOSPC
  // (posix_fallocate). The file then reads as zeros where nothing was written.
  virtual absl::Status Allocate(int fd, uint64_t size, const std::string& path);
  // fdatasync(2): every store into any shared mapping of `fd` made before the
  // call is on stable storage when it returns OK.
  virtual absl::Status SyncData(int fd, const std::string& path);
  // fsync(2) of a directory: makes created, renamed and removed names durable.
  virtual absl::Status SyncDir(const std::string& dir);
  virtual absl::Status Rename(const std::string& from, const std::string& to);
  virtual absl::Status Remove(const std::string& path);
  virtual absl::Status CreateDir(const std::string& path);
  // Creates `path` and any missing parents, mode 0700. OK if it exists.
  // Names (not paths) of the entries of `dir`, without "." and "..".
  virtual absl::StatusOr<std::vector<std::string>> List(const std::string& dir);
  // Returns [offset, offset+len) of the file to zeros, keeping the space
  // reserved (punch a hole, then reallocate; falls back to writing zeros).
  virtual absl::Status Zero(int fd, uint64_t offset, uint64_t len, const std::string& path);
  // pread/pwrite of the whole range (short transfers are retried).
  virtual absl::Status ReadAt(int fd, uint64_t offset, char* dst, size_t len, const std::string& path);
  virtual absl::Status WriteAt(int fd, uint64_t offset, const char* src, size_t len,
                               const std::string& path);
  virtual absl::StatusOr<uint64_t> Size(int fd, const std::string& path);
  // lseek(SEEK_DATA) / lseek(SEEK_HOLE) from `offset`: the start of the next
  // region that may hold data, or of the next hole. Preallocated space never
  // written reads as a hole. Returns `size` when there is none; where the
  // file system cannot tell, everything counts as data.
  virtual uint64_t NextData(int fd, uint64_t offset, uint64_t size);
  virtual uint64_t NextHole(int fd, uint64_t offset, uint64_t size);
  // mmap(MAP_SHARED) of [0, len). PROT_READ, plus PROT_WRITE when `writable`.
  virtual absl::StatusOr<char*> Map(int fd, uint64_t len, bool writable, const std::string& path);
  virtual void Unmap(char* addr, uint64_t len);
  // Faults in [addr, addr+len) ahead of the writer. `for_write` maps the
  // pages writable and dirty (MADV_POPULATE_WRITE): no fault left for the
  // writer, but every page is written back, zeros included. Otherwise the
  // pages are allocated and mapped read-only and stay clean
  // (MADV_POPULATE_READ): the writer's first store per page takes a cheap
  // write-protect fault, and syncs write only what was appended. Kernels
  // without these advices get a read touch of each page.
  virtual void Prefault(char* addr, uint64_t len, bool for_write);
};

// The process-wide POSIX implementation. Never null, never freed.
FileSystem* DefaultFileSystem();

}  // namespace shortbus::engine

#endif  // SHORTBUS_ENGINE_FILE_SYSTEM_H_
