// The frame decoder and segment recovery (engine/) on arbitrary segment
// file contents: the input becomes the segment files of a stream, which
// Log::Open recovers; then everything a Reader serves is checked frame by
// frame against the bytes on disk, with a checksum computed here from
// docs/format.md rather than by engine/frame.cc; then the recovered log
// must take an append, serve it back, and keep it across Close and Open.
//
// Input: [flags][segment bytes...]
//   The bytes after the flags are cut before every "SHBUSSEG" (the segment
//   magic), so each real segment in a seed is one file (at most 8); each
//   file is named by the base sequence its header gives (bytes 32..40),
//   and is exactly as long as its bytes, or grown to 1 MiB (sparse) when
//   flags bit 3 says so.
//   flags bit 0: the identity's stream id is set to the fuzzed stream's,
//                and its checksum re-computed when it was right before, so
//                seeds from another stream stay valid segments
//   flags bit 1: frames from offset 4096 are re-sealed (checksum
//                re-computed while lengths are consistent), so mutated
//                sequences, timestamps, flags and LZ4 bodies get past the
//                checksum to recovery and the reader
//   flags bit 2: the sync record's checksum is re-computed, so lying sync
//                records (ends, sequences, sealed, clean) are believed
//   flags bit 4: the append after recovery is LZ4-compressed
// Seeds are made by fuzz/make_seeds.cc from real logs.
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <xxhash.h>

#include "engine/coding.h"
#include "engine/frame.h"
#include "engine/log.h"
#include "engine/reader.h"
#include "engine/segment_header.h"

namespace shortbus::engine {
namespace {

constexpr std::string_view kMagic = "SHBUSSEG";
constexpr size_t kMaxSegments = 8;
constexpr uint64_t kGrownSize = kMinSegmentSize;
constexpr int64_t kNow = int64_t{1'800'000'000} * 1'000'000'000;

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "segment_fuzzer: %s: %s\n", what, detail.c_str());
  std::abort();
}

void WriteFile(const std::string& path, std::string_view bytes, uint64_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) Fail("open", path);
  if (::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) Fail("write", path);
  if (size > bytes.size() && ::ftruncate(fd, static_cast<off_t>(size)) != 0) Fail("ftruncate", path);
  ::close(fd);
}

std::string ReadFile(const std::string& path) {
  std::string out;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return out;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

// A stream directory made once: its STREAM file is copied into every
// case's directory, and its id is the one segments are rebound to.
struct Template {
  std::string root;  // per-process scratch directory
  std::string stream_file;
  StreamId id{};
};

LogOptions Options() {
  LogOptions o;
  o.segment_size = kMinSegmentSize;
  o.sync = SyncMode::kNever;
  o.prefault_window = 0;
  o.precreate_next_segment = false;
  o.create_if_missing = false;
  o.clock = [] { return kNow; };
  // SEGMENT_FUZZER_VERBOSE=1: what recovery reports, to study a crash.
  if (std::getenv("SEGMENT_FUZZER_VERBOSE") != nullptr) {
    o.reporter = [](const CorruptionReport& r) {
      std::fprintf(stderr, "report: %s offset %llu bytes %llu tail %d: %s\n", r.file.c_str(),
                   static_cast<unsigned long long>(r.offset), static_cast<unsigned long long>(r.bytes), r.tail,
                   r.reason.c_str());
    };
  }
  return o;
}

const Template& GetTemplate() {
  static const Template* t = [] {
    auto* t = new Template;
    const char* shm = "/dev/shm";
    std::string base = std::filesystem::is_directory(shm) ? shm : std::filesystem::temp_directory_path().string();
    std::string tmpl = base + "/segment_fuzzer.XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) Fail("mkdtemp", tmpl);
    t->root = tmpl;
    LogOptions o = Options();
    o.create_if_missing = true;
    const std::string dir = t->root + "/template";
    absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(dir, o);
    if (!log.ok()) Fail("template stream", std::string(log.status().message()));
    t->id = (*log)->stream_id();
    if (!(*log)->Close().ok()) Fail("template close", dir);
    t->stream_file = ReadFile(dir + "/STREAM");
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(GetTemplate().root, ec);
    });
    return t;
  }();
  return *t;
}

void RebindIdentity(std::string& seg, const StreamId& id) {
  if (seg.size() < 64) return;
  const bool was_valid = DecodeFixed64(seg.data() + 56) == XXH3_64bits(seg.data(), 56);
  std::memcpy(seg.data() + 16, id.data(), id.size());
  if (was_valid) EncodeFixed64(seg.data() + 56, XXH3_64bits(seg.data(), 56));
}

void ResealSyncRecord(std::string& seg) {
  if (seg.size() < kSegmentSyncRecordOffset + kSegmentSyncRecordSize) return;
  char* rec = seg.data() + kSegmentSyncRecordOffset;
  EncodeFixed64(rec + 32, XXH3_64bits(rec, 32));
}

// docs/format.md: XXH3-64 of bytes [16, frame_len) seeded with
// frame_len | flags << 32.
uint64_t FrameChecksum(const char* p, uint32_t frame_len, uint32_t flags) {
  return XXH3_64bits_withSeed(p + 16, frame_len - 16, uint64_t{frame_len} | (uint64_t{flags} << 32));
}

void ResealFrames(std::string& seg) {
  for (uint64_t off = kSegmentDataOffset; off + kFrameHeaderSize <= seg.size();) {
    char* p = seg.data() + off;
    const uint32_t len = DecodeFixed32(p);
    const uint64_t body = uint64_t{DecodeFixed16(p + 32)} + DecodeFixed32(p + 36) + DecodeFixed32(p + 40);
    if (len < kFrameHeaderSize || len > seg.size() - off || kFrameHeaderSize + body != len) return;
    EncodeFixed64(p + 8, FrameChecksum(p, len, DecodeFixed32(p + 4)));
    off += AlignUp(len, kFrameAlign);
  }
}

// What the reader served, checked against the frame's bytes in its file.
void CheckServed(const std::string& dir, const Record& rec) {
  const std::string file = ReadFile(dir + "/" + SegmentFileName(rec.segment_base));
  if (rec.offset % kFrameAlign != 0 || rec.offset < kSegmentDataOffset ||
      rec.offset + kFrameHeaderSize > file.size()) {
    Fail("served a record from outside its segment's frames", std::to_string(rec.sequence));
  }
  const char* p = file.data() + rec.offset;
  const uint32_t len = DecodeFixed32(p);
  const uint32_t flags = DecodeFixed32(p + 4);
  if (len < kFrameHeaderSize || len > file.size() - rec.offset) Fail("served a frame of bad length", std::to_string(rec.sequence));
  if (DecodeFixed64(p + 8) != FrameChecksum(p, len, flags)) Fail("served a frame that fails its checksum", std::to_string(rec.sequence));
  if (rec.frame_bytes != AlignUp(len, kFrameAlign)) Fail("frame_bytes differs from the frame", std::to_string(rec.sequence));
  if (DecodeFixed64(p + 16) != rec.sequence) Fail("sequence differs from the frame", std::to_string(rec.sequence));
  if (static_cast<int64_t>(DecodeFixed64(p + 24)) != rec.timestamp_ns) Fail("timestamp differs from the frame", std::to_string(rec.sequence));
  const uint16_t subject_len = DecodeFixed16(p + 32);
  const uint32_t headers_len = DecodeFixed32(p + 36);
  const uint32_t stored_len = DecodeFixed32(p + 40);
  const uint32_t payload_len = DecodeFixed32(p + 44);
  const std::string_view body(p + kFrameHeaderSize, len - kFrameHeaderSize);
  if (rec.subject != body.substr(0, subject_len)) Fail("subject differs from the frame", std::to_string(rec.sequence));
  if (rec.headers != body.substr(subject_len, headers_len)) Fail("headers differ from the frame", std::to_string(rec.sequence));
  if (rec.payload.size() != payload_len) Fail("payload length differs from the frame", std::to_string(rec.sequence));
  if ((flags & kFrameFlagLz4) == 0 && rec.payload != body.substr(subject_len + headers_len, stored_len)) {
    Fail("payload differs from the frame", std::to_string(rec.sequence));
  }
}

// Reads everything from first_seq; returns the highest sequence served (0
// for none). A whole frame with a valid checksum found at a wrong place (a
// seed's frame copied elsewhere by a mutation, or re-sealed by flags bit 1:
// the checksum guards against damage, not against misplaced or forged
// frames) is served under its own sequence, after a DataLoss report, even
// beyond last_seq; so the upper bound is the caller's to judge.
uint64_t ReadAll(const std::string& dir, uint64_t first_seq) {
  absl::StatusOr<std::unique_ptr<Reader>> reader = Reader::Open(dir);
  if (!reader.ok()) Fail("Reader::Open after a successful Log::Open", std::string(reader.status().message()));
  if (!(*reader)->SeekToSequence(first_seq).ok()) return 0;
  uint64_t prev = 0;
  Record rec;
  for (int guard = 0; guard < 200000; ++guard) {
    const absl::Status s = (*reader)->Next(&rec);
    if (IsEndOfData(s)) return prev;
    if (absl::IsDataLoss(s)) continue;  // reported and skipped: allowed
    if (!s.ok()) Fail("Reader::Next", std::string(s.message()));
    if (rec.sequence < first_seq) Fail("served a sequence below first_seq", std::to_string(rec.sequence));
    if (rec.sequence <= prev) Fail("sequences served out of order", std::to_string(rec.sequence));
    prev = rec.sequence;
    CheckServed(dir, rec);
  }
  Fail("the reader never reached the end", dir);
}

void RunCase(const std::string& dir, uint8_t flags, std::string_view rest) {
  const Template& t = GetTemplate();
  std::filesystem::create_directory(dir);
  WriteFile(dir + "/STREAM", t.stream_file, 0);
  std::vector<std::string> segs;
  for (size_t pos = 0; pos < rest.size() && segs.size() < kMaxSegments;) {
    size_t next = rest.find(kMagic, pos + 1);
    if (next == std::string_view::npos) next = rest.size();
    segs.emplace_back(rest.substr(pos, next - pos));
    pos = next;
  }
  std::set<uint64_t> bases;
  for (size_t i = 0; i < segs.size(); ++i) {
    std::string& seg = segs[i];
    if (flags & 1) RebindIdentity(seg, t.id);
    if (flags & 2) ResealFrames(seg);
    if (flags & 4) ResealSyncRecord(seg);
    const uint64_t base = seg.size() >= 40 ? DecodeFixed64(seg.data() + 32) : i + 1;
    if (!bases.insert(base).second) continue;
    const uint64_t size = (flags & 8) && seg.size() < kGrownSize ? kGrownSize : seg.size();
    WriteFile(dir + "/" + SegmentFileName(base), seg, size);
  }

  LogOptions o = Options();
  if (flags & 16) {
    o.compression = Compression::kLz4;
    o.compress_min_bytes = 1;
  }
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(dir, o);
  if (!log.ok()) return;  // a clear error is an answer; a crash is not
  const uint64_t first = (*log)->first_seq(), last = (*log)->last_seq();
  if (first > last + 1) Fail("first_seq past last_seq + 1", std::to_string(first));
  // Frames beyond last_seq were served: misplaced ones (see ReadAll) stand
  // among the real, and may stand before the append below too.
  const bool misplaced = ReadAll(dir, first) > last;

  // The recovered log goes on: an append lands after the last sequence,
  // reads back whole, and survives Close and Open (at the end of the
  // sequence space it is refused: ResourceExhausted, below).
  const std::string payload(300, 'p');
  Message m;
  m.subject = "fuzz.after";
  m.payload = payload;
  absl::StatusOr<uint64_t> seq = (*log)->Append(m);
  if (!seq.ok()) {
    if (absl::IsResourceExhausted(seq.status()) || absl::IsInvalidArgument(seq.status())) return;
    Fail("append after recovery", std::string(seq.status().message()));
  }
  if (*seq != last + 1) Fail("append after recovery did not follow last_seq", std::to_string(*seq));
  if (absl::Status s = (*log)->Close(); !s.ok()) Fail("close after recovery", std::string(s.message()));
  log->reset();
  log = Log::Open(dir, o);
  if (!log.ok()) Fail("reopen after a clean close", std::string(log.status().message()));
  if ((*log)->last_seq() != *seq) Fail("reopen lost the append", std::to_string((*log)->last_seq()));
  if (misplaced) return;
  absl::StatusOr<std::unique_ptr<Reader>> reader = Reader::Open(dir);
  if (!reader.ok()) Fail("Reader::Open after reopen", std::string(reader.status().message()));
  Record rec;
  if (absl::Status s = (*reader)->SeekToSequence(*seq); !s.ok()) {
    Fail("seek to the append after recovery", std::string(s.message()));
  }
  // Damage before it may be reported first (DataLoss), then skipped.
  absl::Status next = (*reader)->Next(&rec);
  for (int i = 0; i < 16 && absl::IsDataLoss(next); ++i) next = (*reader)->Next(&rec);
  if (!next.ok()) Fail("read of the append after recovery", std::to_string(*seq) + ": " + std::string(next.message()));
  if (rec.sequence != *seq || rec.subject != m.subject || rec.payload != payload) {
    Fail("the append after recovery reads back different", std::to_string(rec.sequence));
  }
  CheckServed(dir, rec);
}

}  // namespace
}  // namespace shortbus::engine

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shortbus::engine;
  if (size < 1) return 0;
  static uint64_t cases = 0;
  const std::string dir = GetTemplate().root + "/case" + std::to_string(cases++);
  RunCase(dir, data[0], std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
