// shortbus log engine: one stream = one directory of segment files.
//
// Overview
//   A Log is the single writer of one stream. Append() copies a message into
//   the active segment's shared mapping as one checksummed frame (see
//   frame.h and docs/format.md) and assigns it the next sequence. Readers
//   (reader.h) in this or any other process map the same files read-only and
//   see every frame up to the committed end, which Append publishes with
//   release order after the frame's bytes are in place.
//
// Durability levels, per sequence (always appended >= committed >= durable):
//   appended  : Append returned the sequence; readers can see it (under
//               LogOptions::defer_publish: once Publish() returned).
//   durable   : fdatasync covering it has returned; it survives power loss.
//   durable_seq() reports the second. Under SyncMode::kAlways the background
//   thread syncs as soon as there is something to sync, and appends that
//   arrive during a sync share the next one (group commit). Under kInterval
//   it syncs every sync_interval; under kNever only at Sync() and Close().
//   WaitDurable() blocks a caller; SetDurableCallback() tells a server
//   without blocking anyone.
//
// Threading
//   Append, AppendBatch, Publish, next_seq, Sync and Close: one thread at a
//   time (the writer).
//   durable_seq, first_seq, last_seq, stats, WaitDurable: any thread.
//   One background thread per Log syncs, pre-faults pages ahead of the
//   writer, creates the next segment before it is needed, and expires and
//   deletes segments under max_age.
//
// Caveats (as for LMDB): no network file systems (mmap coherence and flock);
//   nothing across fork(); another process truncating a segment file makes
//   readers of that file fault (SIGBUS).
#ifndef SHORTBUS_ENGINE_LOG_H_
#define SHORTBUS_ENGINE_LOG_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "engine/options.h"
#include "engine/record.h"
#include "engine/segment_header.h"

namespace shortbus::engine {

// The writer's buffer under LogOptions::defer_publish. A frame larger than
// this is written through the mapping (after what is staged is written).
inline constexpr uint64_t kStageBytes = uint64_t{1} << 20;

// The longest the background thread polls for a sync request after
// Log::PrepareSync().
inline constexpr absl::Duration kSyncSoonPollLimit = absl::Microseconds(200);

struct LogStats {
  uint64_t first_seq = 0;  // first retained sequence (last_seq + 1 when empty)
  uint64_t last_seq = 0;   // 0 when nothing was ever appended
  uint64_t durable_seq = 0;
  uint64_t msgs = 0;       // last_seq - first_seq + 1
  uint64_t bytes = 0;      // frame bytes retained, padding included
  uint64_t segments = 0;
  uint64_t syncs = 0;      // fdatasync calls made on segments since Open
};

// What Open found and did.
struct RecoveryStats {
  uint64_t segments = 0;
  uint64_t frames_scanned = 0;  // frames checked (the untrusted tail only)
  uint64_t bytes_scanned = 0;
  uint64_t tail_bytes_cut = 0;
  uint64_t corruptions = 0;     // reports with tail == false
};

class Log {
 public:
  // Opens the stream in `dir`, creating it when options.create_if_missing.
  //
  // Recovery: for every segment, the sync record (segment_header.h) says up
  // to where data was known durable; only frames after that point are read.
  // Each is checked (checksum, next sequence); the first that fails ends the
  // log. Non-zero bytes after that point are copied to
  // "<segment>.tail-<offset>" (nothing is thrown away unseen), zeroed on
  // disk, and reported. A bad frame followed by another segment, a bad
  // segment header or a gap between segments is corruption: reported with
  // tail == false, never served. Open never crashes on any file content.
  //
  // Errors: InvalidArgument (options), NotFound (no stream, not creating),
  // Unavailable (another writer has the stream open), DataLoss (STREAM file
  // corrupt), FailedPrecondition (newer format), PermissionDenied,
  // ResourceExhausted (disk full).
  static absl::StatusOr<std::unique_ptr<Log>> Open(const std::string& dir,
                                                   const LogOptions& options);

  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;
  // Close()s if the caller did not; errors are then lost.
  ~Log();

  // Appends one message; returns its sequence. Allocates nothing and makes
  // no system call except when it starts a new segment (and, under kAlways,
  // to wake the syncer).
  // Errors: InvalidArgument (empty or over-long subject; message larger
  // than max_msg_size or than a segment), ResourceExhausted (discard=new
  // and the stream is full; or disk full while creating a segment: retrying
  // after space is freed succeeds), FailedPrecondition (the log failed
  // earlier, e.g. a failed fdatasync, and must be reopened).
  absl::StatusOr<uint64_t> Append(const Message& msg);

  // Appends all of `msgs` in order with one publication, one syncer
  // wake-up and one clock read (messages without a timestamp share it);
  // returns the first sequence (the rest follow contiguously).
  // All or nothing for what can be checked up front (every message valid;
  // under discard=new, the whole batch fits). A disk full while rolling to a
  // new segment can still leave a prefix appended: the error says how many.
  absl::StatusOr<uint64_t> AppendBatch(absl::Span<const Message> msgs);

  // Under LogOptions::defer_publish (and kAlways): writes what Append and
  // AppendBatch staged since the last call and makes it visible (last_seq()
  // and readers), then returns; the writer's thread, like Append. Writes
  // staged frames first on its own at a segment roll, when the buffer is
  // full, and in Sync() and Close(). A failed write fails the log, as a
  // failed fdatasync does. Otherwise there is never anything to write: OK.
  absl::Status Publish();
  // The sequence the next Append will get (the writer's thread): under
  // defer_publish it counts staged messages, which last_seq() does not.
  uint64_t next_seq() const;

  // Highest sequence known durable (see levels above).
  uint64_t durable_seq() const;
  uint64_t first_seq() const;
  uint64_t last_seq() const;

  // Blocks until durable_seq() >= seq or the timeout passes
  // (DeadlineExceeded) or the log failed (the sync error). Under kInterval
  // and kNever it asks for a sync rather than waiting for the next tick.
  absl::Status WaitDurable(uint64_t seq, absl::Duration timeout = absl::InfiniteDuration());

  // Called from the background thread with the new durable_seq after each
  // sync that advanced it (after WaitDurable callers for it may have woken:
  // the two are not ordered). Must be quick and must not call back into the Log
  // except for the read-only accessors. Set before appending.
  void SetDurableCallback(std::function<void(uint64_t durable_seq)> cb);

  // Makes everything appended so far durable, now, from the calling thread.
  absl::Status Sync();
  // Asks the background thread to sync what was appended so far (a group
  // commit) and returns at once. Any thread; one futex wake at most.
  void RequestSync();
  // Under kAlways with sync_on_append false: says that a RequestSync() will
  // follow within microseconds (the caller is about to append a burst). The
  // background thread wakes now and waits for the request by polling, for
  // at most kSyncSoonPollLimit, so that its wake-up (tens of microseconds
  // on a virtual machine) overlaps the appends instead of following them.
  // It syncs only when the request comes. Any thread; no effect in other
  // modes, while a sync is already wanted, or with a single usable CPU
  // (polling would hold the CPU the request has to come from).
  void PrepareSync();

  // Syncs, writes the sync records that make the next Open read no frame,
  // stops the background thread, removes the unused preallocated segment
  // and releases the writer lock. Idempotent.
  absl::Status Close();

  // Applies max_age now (also done by the background thread about every
  // second) and deletes segments left holding only expired messages.
  void EnforceRetention();
  // Expires every message below `seq` now (a purge), then deletes segments
  // left holding only expired messages. seq > last_seq() + 1 is taken as
  // last_seq() + 1: first_seq() becomes last_seq() + 1, an empty stream
  // whose next sequence is unchanged.
  void ExpireBefore(uint64_t seq);

  LogStats stats() const;
  const RecoveryStats& recovery() const;
  const StreamId& stream_id() const;
  const std::string& dir() const;

  class Impl;

 private:
  explicit Log(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shortbus::engine

#endif  // SHORTBUS_ENGINE_LOG_H_
