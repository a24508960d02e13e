// The STREAM file at the root of a stream directory: the stream's identity
// and two live words shared with readers in other processes. 4096 bytes.
//
//   off size field
//     0    8  magic        "SHBUSSTR"
//     8    4  version      1
//    12    4  reserved     0
//    16   16  stream_id    random, copied into every segment header
//    32    8  created_ns
//    40    8  checksum     XXH3-64 of bytes [0, 40)
//    64    8  first_seq    live: the stream's first retained sequence
//                          (messages below it are expired even where their
//                          segment still exists). Re-derived at every open.
//    72    8  writer_pid   live: pid of the process holding the writer lock
//
// The writer holds flock(LOCK_EX) on this file for as long as the stream is
// open, so a second writer, in this process or another, is refused.
#ifndef SHORTBUS_ENGINE_STREAM_META_H_
#define SHORTBUS_ENGINE_STREAM_META_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "engine/file_system.h"
#include "engine/segment_header.h"

namespace shortbus::engine {

inline constexpr uint64_t kStreamMetaSize = 4096;
inline constexpr char kStreamMetaFile[] = "STREAM";

class StreamMeta {
 public:
  // Writer side: opens `dir`/STREAM, creating it (and `dir`) when
  // `create_if_missing`, takes the writer lock and records this pid.
  // Errors: NotFound (no stream and !create_if_missing), FailedPrecondition
  // (segments present but STREAM missing: never recreated over them),
  // Unavailable (another
  // writer holds it; the message names its pid), DataLoss (corrupt file),
  // PermissionDenied, ResourceExhausted (disk full).
  static absl::StatusOr<StreamMeta> OpenForWrite(FileSystem* fs, const std::string& dir,
                                                 bool create_if_missing);
  // Reader side: maps STREAM read-only; takes no lock.
  static absl::StatusOr<StreamMeta> OpenForRead(FileSystem* fs, const std::string& dir);

  StreamMeta(StreamMeta&& o) noexcept;
  StreamMeta& operator=(StreamMeta&& o) noexcept;
  StreamMeta(const StreamMeta&) = delete;
  StreamMeta& operator=(const StreamMeta&) = delete;
  ~StreamMeta();

  const StreamId& id() const { return id_; }
  int64_t created_ns() const { return created_ns_; }

  // 0 after Release().
  uint64_t first_seq() const;
  void set_first_seq(uint64_t seq);  // writer only; ignored after Release()

  // Unmaps and closes the file, dropping the writer lock. id() stays valid.
  void Release();

 private:
  StreamMeta() = default;
  absl::Status MapAndVerify(const std::string& path, bool writable);
  FileSystem* fs_ = nullptr;
  int fd_ = -1;
  char* map_ = nullptr;
  StreamId id_{};
  int64_t created_ns_ = 0;
};

}  // namespace shortbus::engine

#endif  // SHORTBUS_ENGINE_STREAM_META_H_
