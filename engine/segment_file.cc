#include "engine/segment_file.h"

#include <fcntl.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/segment_header.h"

namespace shortbus::engine {

SegmentFile::SegmentFile(SegmentFile&& o) noexcept { *this = std::move(o); }

SegmentFile& SegmentFile::operator=(SegmentFile&& o) noexcept {
  if (this != &o) {
    Reset();
    fs_ = o.fs_;
    path_ = std::move(o.path_);
    fd_ = std::exchange(o.fd_, -1);
    map_ = std::exchange(o.map_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

SegmentFile::~SegmentFile() { Reset(); }

void SegmentFile::Reset() {
  if (fs_ == nullptr) return;
  fs_->Unmap(map_, size_);
  fs_->Close(fd_);
  map_ = nullptr;
  fd_ = -1;
  size_ = 0;
}

absl::StatusOr<SegmentFile> SegmentFile::Open(FileSystem* fs, const std::string& path,
                                              bool writable) {
  absl::StatusOr<int> fd = fs->Open(path, writable ? O_RDWR : O_RDONLY, 0);
  if (!fd.ok()) return fd.status();
  SegmentFile f;
  f.fs_ = fs;
  f.path_ = path;
  f.fd_ = *fd;
  absl::StatusOr<uint64_t> size = fs->Size(f.fd_, path);
  if (!size.ok()) return size.status();
  if (*size < kSegmentDataOffset) {
    return absl::DataLossError(
        absl::StrCat("segment ", path, ": ", *size, " bytes, shorter than its header"));
  }
  absl::StatusOr<char*> map = fs->Map(f.fd_, *size, writable, path);
  if (!map.ok()) return map.status();
  f.map_ = *map;
  f.size_ = *size;
  return f;
}

absl::StatusOr<SegmentFile> SegmentFile::Create(FileSystem* fs, const std::string& path,
                                                uint64_t size) {
  absl::StatusOr<int> fd = fs->Open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
  if (!fd.ok()) return fd.status();
  SegmentFile f;
  f.fs_ = fs;
  f.path_ = path;
  f.fd_ = *fd;
  absl::Status s = fs->Allocate(f.fd_, size, path);
  absl::StatusOr<char*> map = s.ok() ? fs->Map(f.fd_, size, true, path) : absl::StatusOr<char*>(s);
  if (!map.ok()) {
    f.Reset();
    (void)fs->Remove(path);  // best effort: the failure being reported matters more
    return map.status();
  }
  f.map_ = *map;
  f.size_ = size;
  return f;
}

absl::Status SegmentFile::RenameTo(const std::string& path) {
  if (absl::Status s = fs_->Rename(path_, path); !s.ok()) return s;
  path_ = path;
  return absl::OkStatus();
}

}  // namespace shortbus::engine
