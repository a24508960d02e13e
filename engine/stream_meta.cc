#include "engine/stream_meta.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cstring>
#include <utility>
#include <vector>

#include <xxhash.h>

#include "absl/strings/str_cat.h"
#include "engine/clock.h"
#include "engine/coding.h"

namespace shortbus::engine {
namespace {

constexpr char kMagic[8] = {'S', 'H', 'B', 'U', 'S', 'S', 'T', 'R'};
constexpr uint64_t kFirstSeqOffset = 64;
constexpr uint64_t kWriterPidOffset = 72;

std::atomic_ref<uint64_t> Word(char* map, uint64_t off) {
  return std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(map + off));
}

absl::Status CreateMetaFile(FileSystem* fs, const std::string& dir, const std::string& path) {
  char buf[kStreamMetaSize] = {};
  StreamId id;
  if (::getrandom(id.data(), id.size(), 0) != static_cast<ssize_t>(id.size())) {
    return ErrnoStatus(errno, "getrandom for stream id of", dir);
  }
  std::memcpy(buf, kMagic, sizeof kMagic);
  EncodeFixed32(buf + 8, 1);
  std::memcpy(buf + 16, id.data(), id.size());
  EncodeFixed64(buf + 32, static_cast<uint64_t>(WallClockNs()));
  EncodeFixed64(buf + 40, XXH3_64bits(buf, 40));
  const std::string tmp = path + ".tmp";
  absl::StatusOr<int> fd = fs->Open(tmp, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (!fd.ok()) return fd.status();
  absl::Status s = fs->WriteAt(*fd, 0, buf, sizeof buf, tmp);
  if (s.ok()) s = fs->SyncData(*fd, tmp);
  fs->Close(*fd);
  if (s.ok()) s = fs->Rename(tmp, path);
  if (s.ok()) s = fs->SyncDir(dir);
  return s;
}

}  // namespace

absl::StatusOr<StreamMeta> StreamMeta::OpenForWrite(FileSystem* fs, const std::string& dir,
                                                    bool create_if_missing) {
  const std::string path = absl::StrCat(dir, "/", kStreamMetaFile);
  if (create_if_missing) {
    if (absl::Status s = fs->CreateDir(dir); !s.ok()) return s;
  }
  absl::StatusOr<int> fd = fs->Open(path, O_RDWR, 0);
  if (!fd.ok() && absl::IsNotFound(fd.status()) && create_if_missing) {
    // Segments without a STREAM file: its identity is lost, and a new one
    // would make every segment foreign. Refuse rather than guess.
    absl::StatusOr<std::vector<std::string>> names = fs->List(dir);
    if (!names.ok()) return names.status();
    for (const std::string& n : *names) {
      uint64_t base;
      if (ParseSegmentFileName(n, &base)) {
        return absl::FailedPreconditionError(
            absl::StrCat(dir, " holds segments (", n, ") but no ", kStreamMetaFile,
                         " file; restore it from a backup rather than creating a new stream here"));
      }
    }
    if (absl::Status s = CreateMetaFile(fs, dir, path); !s.ok()) return s;
    fd = fs->Open(path, O_RDWR, 0);
  }
  if (!fd.ok()) {
    if (absl::IsNotFound(fd.status())) {
      return absl::NotFoundError(absl::StrCat("no stream at ", dir, " (", kStreamMetaFile, " missing)"));
    }
    return fd.status();
  }
  StreamMeta m;
  m.fs_ = fs;
  m.fd_ = *fd;
  if (absl::Status s = fs->LockExclusive(m.fd_, path); !s.ok()) {
    if (absl::IsUnavailable(s)) {
      char pid_buf[8];
      uint64_t pid = 0;
      if (fs->ReadAt(m.fd_, kWriterPidOffset, pid_buf, 8, path).ok()) pid = DecodeFixed64(pid_buf);
      return absl::UnavailableError(absl::StrCat("stream ", dir, " is already open for writing by pid ",
                                                 pid, " (one writer per stream)"));
    }
    return s;
  }
  if (absl::Status s = m.MapAndVerify(path, true); !s.ok()) return s;
  Word(m.map_, kWriterPidOffset).store(static_cast<uint64_t>(::getpid()), std::memory_order_relaxed);
  return m;
}

absl::StatusOr<StreamMeta> StreamMeta::OpenForRead(FileSystem* fs, const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/", kStreamMetaFile);
  absl::StatusOr<int> fd = fs->Open(path, O_RDONLY, 0);
  if (!fd.ok()) {
    if (absl::IsNotFound(fd.status())) return absl::NotFoundError(absl::StrCat("no stream at ", dir));
    return fd.status();
  }
  StreamMeta m;
  m.fs_ = fs;
  m.fd_ = *fd;
  if (absl::Status s = m.MapAndVerify(path, false); !s.ok()) return s;
  return m;
}

absl::Status StreamMeta::MapAndVerify(const std::string& path, bool writable) {
  absl::StatusOr<uint64_t> size = fs_->Size(fd_, path);
  if (!size.ok()) return size.status();
  if (*size < kStreamMetaSize) {
    return absl::DataLossError(absl::StrCat(path, ": truncated (", *size, " bytes)"));
  }
  absl::StatusOr<char*> map = fs_->Map(fd_, kStreamMetaSize, writable, path);
  if (!map.ok()) return map.status();
  map_ = *map;
  if (std::memcmp(map_, kMagic, sizeof kMagic) != 0 || DecodeFixed64(map_ + 40) != XXH3_64bits(map_, 40)) {
    return absl::DataLossError(absl::StrCat(path, ": corrupt stream identity"));
  }
  if (DecodeFixed32(map_ + 8) != 1) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": unknown version ", DecodeFixed32(map_ + 8)));
  }
  std::memcpy(id_.data(), map_ + 16, id_.size());
  created_ns_ = static_cast<int64_t>(DecodeFixed64(map_ + 32));
  return absl::OkStatus();
}

StreamMeta::StreamMeta(StreamMeta&& o) noexcept { *this = std::move(o); }

StreamMeta& StreamMeta::operator=(StreamMeta&& o) noexcept {
  if (this != &o) {
    Release();
    fs_ = o.fs_;
    fd_ = std::exchange(o.fd_, -1);
    map_ = std::exchange(o.map_, nullptr);
    id_ = o.id_;
    created_ns_ = o.created_ns_;
  }
  return *this;
}

StreamMeta::~StreamMeta() { Release(); }

void StreamMeta::Release() {
  if (fs_ == nullptr) return;
  fs_->Unmap(map_, kStreamMetaSize);
  fs_->Close(fd_);
  map_ = nullptr;
  fd_ = -1;
}

uint64_t StreamMeta::first_seq() const {
  if (map_ == nullptr) return 0;
  return Word(map_, kFirstSeqOffset).load(std::memory_order_acquire);
}

void StreamMeta::set_first_seq(uint64_t seq) {
  if (map_ == nullptr) return;
  Word(map_, kFirstSeqOffset).store(seq, std::memory_order_release);
}

}  // namespace shortbus::engine
