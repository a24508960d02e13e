// The per-stream part of the index: a sparse sequence index, a sparse time
// index, per-subject state, and how far the log has been indexed.
//
// Databases (all keys big-endian, index/keys.h; values little-endian):
//   "seq"      (stream u32, seq u64)       -> segment_base u64, offset u64
//   "time"     (stream u32, ts u64 ordered) -> seq u64, segment_base u64, offset u64
//   "subjects" (stream u32, subject bytes)  -> last_seq u64, count u64
//   "progress" (stream u32)                 -> indexed_seq u64, segment_base u64,
//                                              next_offset u64, bytes_since_entry u64
//   "segments" (stream u32, base u64)       -> first_seq u64, last_seq u64, first_ts i64,
//                                              last_ts i64, bytes u64, sealed u8, file name
//                                              (u32 length + bytes)
// A sequence/time entry is made for the first frame of every segment and
// then whenever `sparse_bytes` of frames have passed since the last entry,
// so a seek is one B+tree lookup plus a scan of at most sparse_bytes. The
// decision depends only on the log, never on how appends were batched, so an
// index rebuilt from the log equals the one maintained while appending.
#ifndef SHORTBUS_INDEX_STREAM_INDEX_H_
#define SHORTBUS_INDEX_STREAM_INDEX_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/record.h"
#include "index/lmdb_env.h"
#include "index/subject_hash.h"

namespace shortbus::index {

inline constexpr char kSeqDb[] = "seq";
inline constexpr char kTimeDb[] = "time";
inline constexpr char kSubjectsDb[] = "subjects";
inline constexpr char kProgressDb[] = "progress";
inline constexpr char kSegmentsDb[] = "segments";

// Where to start reading to find a sequence or a time.
struct IndexPosition {
  uint64_t seq = 0;  // sequence of the frame at the position
  uint64_t segment_base = 0;
  uint64_t offset = 0;
};

struct SubjectState {
  uint64_t last_seq = 0;
  uint64_t count = 0;
};

// One segment as indexed: the frames of it the index has seen.
struct SegmentInfo {
  uint64_t base = 0;  // the segment's base sequence (its file name)
  uint64_t first_seq = 0, last_seq = 0;
  int64_t first_ts = 0, last_ts = 0;
  uint64_t bytes = 0;   // end of its last indexed frame (header included)
  bool sealed = false;  // a later segment exists: this one takes no more frames
  std::string file;     // file name in the stream directory
};

struct IndexProgress {
  uint64_t indexed_seq = 0;  // every frame up to here is indexed
  uint64_t segment_base = 0;
  uint64_t next_offset = 0;  // where the frame after indexed_seq starts
  uint64_t bytes_since_entry = 0;
};

class StreamIndex {
 public:
  // `stream_no` is the stream's number in the catalogue.
  StreamIndex(LmdbEnv* env, uint32_t stream_no, uint64_t sparse_bytes = 4096);

  // Loads the progress record and the per-subject state into memory.
  absl::Status Load();

  // Adds one frame, in sequence order, to the pending batch. Allocates only
  // for a subject seen for the first time, or for a sparse entry.
  void Add(const engine::Record& rec);
  // Read-ahead: keeps a frame that follows everything added or staged so
  // far (in sequence order) without adding it, its subject already looked
  // up, so that AddStaged does at commit time only what is cheap. Frames the
  // log has published but not yet made durable are staged: the index never
  // points past durable log data. Staged frames are forgotten by Load,
  // Abandon and DropAll, and by DropStaged.
  void Stage(const engine::Record& rec);
  // Adds the staged frames with sequence <= `seq` to the pending batch.
  void AddStaged(uint64_t seq);
  void DropStaged();
  size_t staged() const { return staged_.size() - head_.frame; }
  // Staged frames held in memory, added ones included: less than twice
  // staged() after AddStaged.
  size_t staged_held() const { return staged_.size(); }
  // Where the frame after the last one added or staged starts: its
  // sequence is indexed_seq + 1 (indexed_seq 0: nothing read yet).
  IndexProgress read_end() const;
  // Writes the pending batch (entries, the subjects it touched, once each,
  // and the progress record) in `txn`. Call Committed() after the commit
  // succeeded, Abandon() if it did not (the in-memory state is reloaded).
  absl::Status WriteBatch(MDB_txn* txn);
  void Committed();
  void Abandon();
  bool has_pending() const { return pending_.indexed_seq != committed_.indexed_seq; }

  // Greatest indexed entry at or before `seq` (NotFound: start of stream).
  absl::StatusOr<IndexPosition> SeekSequence(uint64_t seq) const;
  // Greatest indexed entry strictly older than `ts_ns`: reading on from it
  // finds the first record with timestamp >= ts_ns (NotFound: from the start).
  absl::StatusOr<IndexPosition> SeekTime(int64_t ts_ns) const;
  // The segment table of this stream, in base order (committed state).
  absl::StatusOr<std::vector<SegmentInfo>> Segments() const;
  // Last sequence and count of a subject (NotFound when never seen).
  absl::StatusOr<SubjectState> Subject(std::string_view subject) const;

  const IndexProgress& progress() const { return committed_; }
  // Calls fn(subject, state) for every subject known (committed or pending).
  template <typename Fn>
  void ForEachSubject(Fn fn) const {
    for (const HotSubject& hot : slots_) {
      if (hot.state.count != 0) fn(hot.subject, hot.state);  // count 0: seen only in a staged frame
    }
  }

  // In `txn`: deletes sequence and time entries below `first_seq` (messages
  // that retention expired), and the segment records whose last sequence
  // is below it, so the index keeps no ranges of deleted segments. Cheap
  // when there is nothing to delete (one lookup each).
  absl::Status PruneBelow(MDB_txn* txn, uint64_t first_seq);

  // Deletes every entry of this stream (for a rebuild) in `txn`, and
  // forgets the in-memory state.
  absl::Status DropAll(MDB_txn* txn);

 private:
  struct Entry {
    uint64_t seq, segment_base, offset;
    int64_t ts;
  };
  struct HotSubject {
    std::string subject;
    SubjectState state;
    bool dirty = false;
  };
  // A staged frame: 16 bytes. Its sequence, segment and offset come from
  // its run: the frames of a run follow each other in one segment, each
  // sequence one above the last, each frame where the last one ended.
  struct StagedFrame {
    int64_t ts;
    uint32_t frame_bytes, slot;  // slot: the subject's, in slots_
  };
  struct StagedRun {
    size_t first_frame;  // index in staged_ of its first frame
    uint64_t seq, segment_base, offset;  // of that frame
  };
  // A position in the staged frames: the frame's index, its run, sequence
  // and offset.
  struct StagedCursor {
    size_t frame = 0, run = 0;
    uint64_t seq = 0, offset = 0;
  };
  // The slot of `subject` in slots_, made on first sight.
  uint32_t SlotOf(std::string_view subject);
  void Apply(uint64_t seq, int64_t ts, uint64_t segment_base, uint64_t offset, uint64_t frame_bytes, uint32_t slot);
  // The subject in `slot` gained frame `seq` (its last sequence and count).
  void CountFrame(uint32_t slot, uint64_t seq);

  LmdbEnv* const env_;
  const uint32_t stream_no_;
  const uint64_t sparse_bytes_;
  MDB_dbi seq_db_, time_db_, subjects_db_, progress_db_, segments_db_;
  IndexProgress committed_, pending_;
  // The last segment indexed (committed, then pending), and the records the
  // pending batch changed (the current one, and any it sealed).
  SegmentInfo committed_segment_, segment_;
  std::vector<SegmentInfo> touched_segments_;
  std::string segment_buf_;  // reused encoding buffer
  std::vector<Entry> entries_;  // pending sparse entries
  // Per-subject state: slots_ holds it, slot_of_ finds a subject's slot.
  // Slots are never removed while loaded, so a staged frame's slot stays
  // valid until Load or DropAll, which drop the staged frames.
  absl::flat_hash_map<std::string, uint32_t, SubjectHash, SubjectEq> slot_of_;
  std::vector<HotSubject> slots_;
  std::vector<uint32_t> dirty_;  // slots touched by the pending batch
  // In front of slot_of_: slot + 1 of a subject recently looked up (0:
  // none), in one of two places its hash picks, one in each half: a hit
  // costs the hash and one or two compares. With one place of 64, two of
  // 8 busy subjects share it for about 36% of hash seeds (the birthday
  // bound; the seed is drawn per process), and they took turns evicting
  // each other (seen in a profile: the map lookup behind every frame).
  static constexpr size_t kRecentHalf = 128;
  static_assert(sizeof(size_t) == 8, "SlotOf takes its places from the top 14 bits of a 64-bit hash");
  std::array<uint32_t, 2 * kRecentHalf> recent_slot_{};
  // staged_[head_.frame..] wait for AddStaged; tail_ is the position just
  // after the last staged frame (its sequence and offset are the next ones).
  std::vector<StagedFrame> staged_;
  std::vector<StagedRun> runs_;
  StagedCursor head_;
  uint64_t tail_seq_ = 0, tail_offset_ = 0, tail_segment_ = 0;
};

}  // namespace shortbus::index

#endif  // SHORTBUS_INDEX_STREAM_INDEX_H_
