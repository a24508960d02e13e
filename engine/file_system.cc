#include "engine/file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace shortbus::engine {

absl::Status ErrnoStatus(int err, absl::string_view what, absl::string_view path) {
  std::string msg = path.empty() ? absl::StrCat(what, ": ", std::strerror(err))
                                 : absl::StrCat(what, " ", path, ": ", std::strerror(err));
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(absl::StrCat("disk full: ", msg));
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(msg);
    case ENOENT:
      return absl::NotFoundError(msg);
    case EEXIST:
      return absl::AlreadyExistsError(msg);
    case EAGAIN:
    case EBUSY:
      return absl::UnavailableError(msg);
    default:
      return absl::InternalError(msg);
  }
}

absl::StatusOr<int> FileSystem::Open(const std::string& path, int flags, mode_t mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus(errno, "open", path);
  return fd;
}

void FileSystem::Close(int fd) {
  if (fd >= 0) ::close(fd);
}

absl::Status FileSystem::LockExclusive(int fd, const std::string& path) {
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return absl::UnavailableError(absl::StrCat(path, " is locked"));
    return ErrnoStatus(errno, "lock", path);
  }
  return absl::OkStatus();
}

absl::Status FileSystem::Allocate(int fd, uint64_t size, const std::string& path) {
  int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(size));
  if (rc != 0) return ErrnoStatus(rc, "preallocate", path);
  return absl::OkStatus();
}

absl::Status FileSystem::SyncData(int fd, const std::string& path) {
  if (::fdatasync(fd) != 0) return ErrnoStatus(errno, "fdatasync", path);
  return absl::OkStatus();
}

absl::Status FileSystem::SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open directory", dir);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus(err, "fsync directory", dir);
  return absl::OkStatus();
}

absl::Status FileSystem::Rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return ErrnoStatus(errno, "rename", absl::StrCat(from, " -> ", to));
  }
  return absl::OkStatus();
}

absl::Status FileSystem::Remove(const std::string& path) {
  if (::unlink(path.c_str()) != 0) return ErrnoStatus(errno, "remove", path);
  return absl::OkStatus();
}

absl::Status FileSystem::CreateDir(const std::string& path) {
  // Parents first, like mkdir -p; every directory created is 0700.
  for (size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    const std::string parent = path.substr(0, slash);
    if (::mkdir(parent.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoStatus(errno, "create directory", parent);
    }
  }
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "create directory", path);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> FileSystem::List(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return ErrnoStatus(errno, "list directory", dir);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    names.emplace_back(n);
  }
  ::closedir(d);
  return names;
}

absl::Status FileSystem::Zero(int fd, uint64_t offset, uint64_t len, const std::string& path) {
  if (len == 0) return absl::OkStatus();
  if (::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                  static_cast<off_t>(len)) == 0) {
    // Reserve the space again so later stores into the mapping cannot fail.
    if (::fallocate(fd, 0, static_cast<off_t>(offset), static_cast<off_t>(len)) == 0) {
      return absl::OkStatus();
    }
  }
  static const char kZeros[64 * 1024] = {};
  for (uint64_t done = 0; done < len;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(sizeof kZeros, len - done));
    absl::Status s = WriteAt(fd, offset + done, kZeros, n, path);
    if (!s.ok()) return s;
    done += n;
  }
  return absl::OkStatus();
}

absl::Status FileSystem::ReadAt(int fd, uint64_t offset, char* dst, size_t len,
                                const std::string& path) {
  while (len > 0) {
    ssize_t n = ::pread(fd, dst, len, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "read", path);
    }
    if (n == 0) return absl::OutOfRangeError(absl::StrCat("read ", path, ": unexpected end of file"));
    dst += n;
    offset += static_cast<uint64_t>(n);
    len -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status FileSystem::WriteAt(int fd, uint64_t offset, const char* src, size_t len,
                                 const std::string& path) {
  while (len > 0) {
    ssize_t n = ::pwrite(fd, src, len, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write", path);
    }
    src += n;
    offset += static_cast<uint64_t>(n);
    len -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> FileSystem::Size(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus(errno, "stat", path);
  return static_cast<uint64_t>(st.st_size);
}

uint64_t FileSystem::NextData(int fd, uint64_t offset, uint64_t size) {
  if (offset >= size) return size;
  off_t r = ::lseek(fd, static_cast<off_t>(offset), SEEK_DATA);
  if (r < 0) return errno == ENXIO ? size : offset;
  return std::min(static_cast<uint64_t>(r), size);
}

uint64_t FileSystem::NextHole(int fd, uint64_t offset, uint64_t size) {
  if (offset >= size) return size;
  off_t r = ::lseek(fd, static_cast<off_t>(offset), SEEK_HOLE);
  if (r < 0) return size;
  return std::min(static_cast<uint64_t>(r), size);
}

absl::StatusOr<char*> FileSystem::Map(int fd, uint64_t len, bool writable, const std::string& path) {
  int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  void* p = ::mmap(nullptr, len, prot, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return ErrnoStatus(errno, "map", path);
  return static_cast<char*>(p);
}

void FileSystem::Unmap(char* addr, uint64_t len) {
  if (addr != nullptr) ::munmap(addr, len);
}

void FileSystem::Prefault(char* addr, uint64_t len, bool for_write) {
  if (len == 0) return;
  if (::madvise(addr, len, for_write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) == 0) return;
  // Older kernels: a read fault maps the page; the writer's store then only
  // upgrades it. Volatile keeps the loads.
  const long page = ::sysconf(_SC_PAGESIZE);
  for (uint64_t off = 0; off < len; off += static_cast<uint64_t>(page)) {
    (void)*static_cast<volatile char*>(addr + off);
  }
}

FileSystem* DefaultFileSystem() {
  static FileSystem* fs = new FileSystem();
  return fs;
}

}  // namespace shortbus::engine
