// Reading a stream: from this process or any other, while a Log appends.
//
// A Reader maps segment files read-only and returns whole committed frames,
// each checked against its checksum before it is returned. It takes no lock
// and never writes; it learns the committed end of the active segment from
// the segment header's live word (release/acquire), and the first retained
// sequence from the STREAM file.
//
// Threading: one Reader per thread; any number of Readers per stream.
// Lifetime: views in a Record stay valid until the next call on the Reader
// (segment files stay mapped while the Reader is positioned in them, even if
// retention deletes them meanwhile).
#ifndef SHORTBUS_ENGINE_READER_H_
#define SHORTBUS_ENGINE_READER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/file_system.h"
#include "engine/record.h"
#include "engine/segment_file.h"
#include "engine/stream_meta.h"

namespace shortbus::engine {

struct ReaderOptions {
  FileSystem* fs = nullptr;  // nullptr = DefaultFileSystem()
  // Segments kept mapped after the reader moves away from them, so that
  // seeks back and forth (an index's random access) do not map and check a
  // file each time. Costs address space only (segment_size each).
  size_t mapped_segments = 32;
  // Next() checks each frame's checksum. Off only for frames this process
  // wrote and published itself (an index reading its own appends back):
  // the checksum guards against the disk and torn writes, and those frames
  // come from memory. Damage searches (resync) verify regardless.
  bool verify_checksums = true;
  // Next() fills Record::payload (decompressing LZ4 frames). Off for a
  // reader that needs only where frames are, their sequences, times and
  // subjects (an index): payload is then empty, and nothing is decompressed.
  bool read_payloads = true;
};

// True for the status Next() returns when nothing more is committed yet.
inline bool IsEndOfData(const absl::Status& s) { return absl::IsOutOfRange(s); }

class Reader {
 public:
  // Errors: NotFound (no stream in dir), DataLoss (STREAM corrupt),
  // PermissionDenied.
  static absl::StatusOr<std::unique_ptr<Reader>> Open(const std::string& dir,
                                                      const ReaderOptions& options = {});
  ~Reader();

  // Positions before the first retained record with sequence >= seq.
  // Seeking past the end waits there for that sequence.
  absl::Status SeekToSequence(uint64_t seq);
  // Positions at the frame at `offset` in the segment based at
  // `segment_base`, which must carry a sequence <= seq, and skips to the
  // first record >= seq: a seek in O(distance) from a position an index
  // recorded (Record::segment_base/offset). A hint that no longer fits the
  // files (deleted segment, another frame there) falls back to
  // SeekToSequence(seq); the result is the same either way.
  absl::Status SeekToPosition(uint64_t segment_base, uint64_t offset, uint64_t seq);
  // From the current position, skips records older than ts_ns (after a
  // SeekToPosition from a time index entry).
  absl::Status SkipOlderThan(int64_t ts_ns) {
    min_ts_ = ts_ns;
    return absl::OkStatus();
  }
  // Positions before the first record with timestamp >= ts_ns (timestamps
  // never decrease within a stream).
  absl::Status SeekToTime(int64_t ts_ns);
  // Positions before the last committed record (at the end when empty).
  absl::Status SeekToLast();

  // Returns the next record:
  //   OK          `out` filled (views valid until the next call).
  //   OutOfRange  nothing more is committed yet (IsEndOfData); call again
  //               later, or WaitForData() first.
  //   DataLoss    a frame failed its checksum or sequences jump: the message
  //               says where and what was skipped; the Reader has moved past
  //               it, so the next call goes on with the next good record.
  absl::Status Next(Record* out);

  // Returns OK once Next() may have something new, DeadlineExceeded after
  // `timeout`. Polls the live words with a backoff of at most 1 ms.
  absl::Status WaitForData(absl::Duration timeout);

  uint64_t first_seq() const { return meta_.first_seq(); }
  // Sequence the next record is expected to carry.
  uint64_t position() const { return expected_seq_; }

 private:
  Reader(std::string dir, FileSystem* fs, StreamMeta meta, size_t max_parked);
  absl::Status RefreshSegments();
  // Opens the segment with the greatest base <= seq (or the first one).
  absl::Status OpenSegmentFor(uint64_t seq);
  absl::Status OpenSegment(size_t index);  // bases_[index]
  absl::Status OpenSegmentBase(uint64_t base);
  // The segment starting at `base`, mapped and checked to belong to this
  // stream; a parked mapping is taken back when the file is still the same.
  absl::StatusOr<SegmentFile> MapSegment(uint64_t base);
  // Makes `file` the current segment, parking the one left.
  void Enter(uint64_t base, SegmentFile file);
  bool HasMore();
  // After a damaged frame: look for the next whole frame carrying the
  // expected sequence or a later one; in the active segment, keep looking
  // as frames arrive.
  absl::Status Resync(uint64_t bad_off, const char* why);
  bool ContinueResync();
  // The first whole frame at or after `from` in the current segment, up to
  // its committed end, whose sequence is in [lo, hi]: its offset (never 0:
  // frames start at kSegmentDataOffset), or 0 when there is none.
  uint64_t FindFrameInRange(uint64_t from, uint64_t lo, uint64_t hi, uint64_t* seq) const;
  // Whether the whole frame at `off` (carrying `seq`) is followed by a
  // whole frame carrying seq + 1 in the current segment.
  bool FollowedByNext(uint64_t off, uint64_t seq) const;
  // Positions at the frame at `off` of the current segment, expected to
  // carry `seq`.
  void MoveTo(uint64_t off, uint64_t seq);

  const std::string dir_;
  FileSystem* const fs_;
  StreamMeta meta_;
  std::vector<uint64_t> bases_;  // sorted bases of the segments last listed
  SegmentFile cur_;
  uint64_t cur_base_ = 0;
  uint64_t off_ = 0;
  // The current segment's committed end as Next last loaded it, reloaded
  // only when off_ reaches it: the writer stores that word on every
  // publish, and a load per frame would pull its cache line from the
  // writer's core once per frame. Within one mapping it only grows; 0
  // (load again) whenever the position or the segment changes (MoveTo).
  uint64_t end_seen_ = 0;
  uint64_t expected_seq_ = 1;  // sequence of the frame at off_
  uint64_t min_seq_ = 0;       // skip frames below this
  int64_t min_ts_ = 0;         // skip frames older than this
  std::string scratch_;        // decompressed payloads
  bool resyncing_ = false;     // off_ is at a damaged frame of the active segment
  uint64_t resync_bad_seq_ = 0;
  uint64_t resync_scan_from_ = 0;
  uint64_t unreadable_base_ = 0;  // a following segment that failed to open
  // Skips below min_seq_/min_ts_ trust a frame's length without its
  // checksum. skipped_: frames were skipped so since the last checked one,
  // the first at skip_off_ carrying skip_seq_; if the walk then meets damage
  // it goes back there and checks every frame below verify_below_ (in the
  // segment verify_base_).
  bool skipped_ = false;
  uint64_t skip_off_ = 0;
  uint64_t skip_seq_ = 0;
  uint64_t verify_base_ = 0;
  uint64_t verify_below_ = 0;
  struct Parked {
    uint64_t base;
    uint64_t inode;  // to notice a file replaced under the same name
    SegmentFile file;
  };
  std::vector<Parked> parked_;  // least recently left first
  const size_t max_parked_;
  bool verify_checksums_ = true;
  bool read_payloads_ = true;
};

}  // namespace shortbus::engine

#endif  // SHORTBUS_ENGINE_READER_H_
