// A segment file, open and mapped whole. Owns the descriptor and mapping.
#ifndef SHORTBUS_ENGINE_SEGMENT_FILE_H_
#define SHORTBUS_ENGINE_SEGMENT_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "engine/file_system.h"

namespace shortbus::engine {

class SegmentFile {
 public:
  SegmentFile() = default;
  SegmentFile(SegmentFile&& o) noexcept;
  SegmentFile& operator=(SegmentFile&& o) noexcept;
  SegmentFile(const SegmentFile&) = delete;
  SegmentFile& operator=(const SegmentFile&) = delete;
  ~SegmentFile();

  // Opens an existing file and maps all of it. A file shorter than its
  // header is DataLoss; an empty one too.
  static absl::StatusOr<SegmentFile> Open(FileSystem* fs, const std::string& path, bool writable);
  // Creates `path` (which must not exist), preallocates `size` bytes and maps
  // them read-write. On failure nothing is left behind.
  static absl::StatusOr<SegmentFile> Create(FileSystem* fs, const std::string& path, uint64_t size);

  absl::Status Sync() const { return fs_->SyncData(fd_, path_); }
  // Gives the file a new name; the mapping is unaffected.
  absl::Status RenameTo(const std::string& path);

  const std::string& path() const { return path_; }
  int fd() const { return fd_; }
  char* data() const { return map_; }
  uint64_t size() const { return size_; }
  FileSystem* fs() const { return fs_; }
  bool is_open() const { return map_ != nullptr; }

 private:
  void Reset();
  FileSystem* fs_ = nullptr;
  std::string path_;
  int fd_ = -1;
  char* map_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace shortbus::engine

#endif  // SHORTBUS_ENGINE_SEGMENT_FILE_H_
