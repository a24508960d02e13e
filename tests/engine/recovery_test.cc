// Corruption and torn-write tests: what Open does with every kind of damage.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <thread>
#include <random>

#include <xxhash.h>

#include "absl/strings/match.h"
#include "engine/coding.h"
#include "engine/frame.h"
#include "engine/log.h"
#include "engine/reader.h"
#include "engine/segment_header.h"
#include "tests/engine/test_util.h"

namespace shortbus::engine {
namespace {

using ::testing::HasSubstr;
using testing::PayloadFor;
using testing::ReadFile;
using testing::SmallOptions;
using testing::TempDir;
using testing::WriteFileAt;

std::string SegPath(const std::string& dir, uint64_t base) { return dir + "/" + SegmentFileName(base); }

// Appends `n` messages with payloads PayloadFor(seq, seq % mod) and closes.
void Fill(const std::string& dir, uint64_t n, size_t mod = 300) {
  auto log = Log::Open(dir, SmallOptions());
  ASSERT_TRUE(log.ok()) << log.status();
  for (uint64_t i = 1; i <= n; ++i) {
    ASSERT_TRUE((*log)->Append({"rec", "", PayloadFor(i, i % mod), 0}).ok());
  }
  ASSERT_TRUE((*log)->Close().ok());
}

// Offsets of the frames of a segment file, in order.
std::vector<uint64_t> FrameOffsets(const std::string& path) {
  std::string bytes = ReadFile(path);
  std::vector<uint64_t> offs;
  uint64_t off = kSegmentDataOffset;
  FrameView f;
  while (off < bytes.size() && DecodeFrame(bytes.data() + off, bytes.size() - off, &f) == FrameStatus::kOk) {
    offs.push_back(off);
    off += f.padded_len();
  }
  offs.push_back(off);  // end
  return offs;
}

// Makes the segment's sync record claim durability only through its first
// `keep` frames (sealed = false): what disk holds after a crash that came
// before the writer recorded the rest.
void RewindSyncRecord(const std::string& path, size_t keep) {
  std::vector<uint64_t> offs = FrameOffsets(path);
  std::string hdr = ReadFile(path).substr(0, kSegmentDataOffset);
  SegmentIdentity id;
  // A damaged header (random-damage test) has no record worth rewinding.
  if (hdr.size() < kSegmentDataOffset || offs.size() <= keep ||
      !DecodeSegmentIdentity(hdr.data(), path, &id).ok()) {
    return;
  }
  std::string bytes = ReadFile(path);
  int64_t ts = 0;
  if (keep > 0) ts = static_cast<int64_t>(DecodeFixed64(bytes.data() + offs[keep - 1] + 24));
  EncodeSyncRecord(hdr.data(), SyncRecord{offs[keep], id.base_seq + keep - 1, ts, false, false});
  WriteFileAt(path, 0, hdr);
}

struct Opened {
  std::unique_ptr<Log> log;
  std::vector<CorruptionReport> reports;
};

std::unique_ptr<Opened> Reopen(const std::string& dir) {
  auto o = std::make_unique<Opened>();
  auto log = Log::Open(dir, SmallOptions(&o->reports));
  EXPECT_TRUE(log.ok()) << log.status();
  if (log.ok()) o->log = std::move(*log);
  return o;
}

// Reads the whole stream; returns sequences read and DataLoss messages.
struct ReadOut {
  std::vector<uint64_t> seqs;
  std::vector<std::string> errors;
};
ReadOut ReadAll(const std::string& dir, size_t mod = 300) {
  ReadOut out;
  auto r = Reader::Open(dir);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return out;
  Record rec;
  for (int guard = 0; guard < 1000000; ++guard) {
    absl::Status s = (*r)->Next(&rec);
    if (IsEndOfData(s)) break;
    if (!s.ok()) {
      EXPECT_TRUE(absl::IsDataLoss(s)) << s;
      out.errors.push_back(std::string(s.message()));
      continue;
    }
    EXPECT_EQ(rec.payload, PayloadFor(rec.sequence, rec.sequence % mod)) << rec.sequence;
    out.seqs.push_back(rec.sequence);
  }
  return out;
}

bool Contiguous(const std::vector<uint64_t>& v, uint64_t first, uint64_t last) {
  if (v.size() != last - first + 1) return false;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] != first + i) return false;
  }
  return true;
}

TEST(Recovery, TornLastFrameIsCutAndKept) {
  TempDir tmp;
  Fill(tmp.path(), 100);
  const std::string seg = SegPath(tmp.path(), 1);
  auto offs = FrameOffsets(seg);
  RewindSyncRecord(seg, 90);
  // Tear frame 100: its second half never reached the disk.
  const uint64_t start = offs[99], end = offs[100];
  const uint64_t mid = start + (end - start) / 2;
  WriteFileAt(seg, mid, std::string(end - mid, '\0'));

  auto o = Reopen(tmp.path());
  EXPECT_EQ(o->log->last_seq(), 99u);
  EXPECT_EQ(o->log->recovery().frames_scanned, 9u);  // only 91..99 were read
  ASSERT_EQ(o->reports.size(), 1u);
  EXPECT_TRUE(o->reports[0].tail);
  EXPECT_EQ(o->reports[0].offset, start);
  EXPECT_THAT(o->reports[0].reason, HasSubstr("checksum mismatch"));
  // The dropped bytes were kept aside before being zeroed.
  const std::string kept = ReadFile(seg + ".tail-" + std::to_string(start));
  EXPECT_EQ(kept.size(), AlignUp(mid, 8) - start);  // up to the last non-zero byte, 8-aligned
  EXPECT_EQ(*o->log->Append({"rec", "", PayloadFor(100, 100), 0}), 100u);
  ASSERT_TRUE(o->log->Close().ok());
  ReadOut r = ReadAll(tmp.path());
  EXPECT_TRUE(Contiguous(r.seqs, 1, 100));
  EXPECT_TRUE(r.errors.empty());
}

TEST(Recovery, TruncatedFileMidFrameIsCut) {
  TempDir tmp;
  Fill(tmp.path(), 50);
  const std::string seg = SegPath(tmp.path(), 1);
  auto offs = FrameOffsets(seg);
  RewindSyncRecord(seg, 40);
  // A file cut short inside frame 45 (e.g. copied from a dying disk).
  ASSERT_EQ(::truncate(seg.c_str(), static_cast<off_t>(offs[44] + 20)), 0);
  auto o = Reopen(tmp.path());
  EXPECT_EQ(o->log->last_seq(), 44u);
  ASSERT_FALSE(o->reports.empty());
  EXPECT_TRUE(o->reports.back().tail);
  // Appending into the shortened file rolls to a fresh segment, never past EOF.
  for (uint64_t i = 45; i <= 60; ++i) {
    ASSERT_TRUE(o->log->Append({"rec", "", PayloadFor(i, i % 300), 0}).ok());
  }
  ASSERT_TRUE(o->log->Close().ok());
  ReadOut r = ReadAll(tmp.path());
  EXPECT_TRUE(Contiguous(r.seqs, 1, 60));
}

TEST(Recovery, ZeroPageInTailCutsThere) {
  TempDir tmp;
  Fill(tmp.path(), 400);
  const std::string seg = SegPath(tmp.path(), 1);
  auto offs = FrameOffsets(seg);
  RewindSyncRecord(seg, 10);
  // A page that was lost (never written back) in the middle of the tail.
  const uint64_t page = (offs[200] + 4095) & ~uint64_t{4095};
  WriteFileAt(seg, page, std::string(4096, '\0'));
  auto o = Reopen(tmp.path());
  const uint64_t last = o->log->last_seq();
  EXPECT_GE(last, 200u);
  EXPECT_LT(last, 400u);
  // The cut frame is the one overlapping the zero page.
  EXPECT_LT(offs[last], page + 4096);
  EXPECT_GT(offs[last + 1], page);
  ASSERT_EQ(o->reports.size(), 1u);
  EXPECT_TRUE(o->reports[0].tail);
  ASSERT_TRUE(o->log->Close().ok());
  ReadOut r = ReadAll(tmp.path());
  EXPECT_TRUE(Contiguous(r.seqs, 1, last));
}

TEST(Recovery, GarbageAfterEndIsQuarantined) {
  TempDir tmp;
  Fill(tmp.path(), 20);
  const std::string seg = SegPath(tmp.path(), 1);
  auto offs = FrameOffsets(seg);
  std::mt19937_64 rng(7);
  std::string junk(3000, '\0');
  for (char& c : junk) c = static_cast<char>(rng());
  WriteFileAt(seg, offs.back(), junk);
  RewindSyncRecord(seg, 20);
  auto o = Reopen(tmp.path());
  EXPECT_EQ(o->log->last_seq(), 20u);
  ASSERT_EQ(o->reports.size(), 1u);
  EXPECT_TRUE(o->reports[0].tail);
  EXPECT_GE(o->reports[0].bytes, 2990u);
  // The garbage is gone from the segment: appends land on zeros.
  ASSERT_TRUE(o->log->Append({"rec", "", PayloadFor(21, 21), 0}).ok());
  ASSERT_TRUE(o->log->Close().ok());
  EXPECT_TRUE(Contiguous(ReadAll(tmp.path()).seqs, 1, 21));
}

// Frames from an older life of the file must never come back: after a cut,
// a new frame of the same size at the same place would otherwise be
// followed by a stale but valid frame.
TEST(Recovery, StaleFramesAfterCutNeverResurrect) {
  TempDir tmp;
  {
    auto log = Log::Open(tmp.path(), SmallOptions());
    for (uint64_t i = 1; i <= 100; ++i) ASSERT_TRUE((*log)->Append({"rec", "", std::string(64, 'o'), 0}).ok());
    ASSERT_TRUE((*log)->Close().ok());
  }
  const std::string seg = SegPath(tmp.path(), 1);
  auto offs = FrameOffsets(seg);
  RewindSyncRecord(seg, 50);
  WriteFileAt(seg, offs[50] + kFrameHeaderSize + 5, "X");  // frame 51 torn
  {
    auto o = Reopen(tmp.path());
    ASSERT_EQ(o->log->last_seq(), 50u);
    ASSERT_TRUE(o->log->Append({"rec", "", std::string(64, 'n'), 0}).ok());  // new 51, same size
    ASSERT_TRUE(o->log->Close().ok());
  }
  RewindSyncRecord(seg, 50);  // crash right after appending the new 51
  auto o = Reopen(tmp.path());
  EXPECT_EQ(o->log->last_seq(), 51u);  // not 100
  EXPECT_TRUE(o->reports.empty());
}

TEST(Recovery, BitFlipInDurableDataIsReportedByReaderNotServed) {
  TempDir tmp;
  Fill(tmp.path(), 3000, 800);
  const std::string seg1 = SegPath(tmp.path(), 1);
  auto offs = FrameOffsets(seg1);
  const uint64_t victim = 123;  // sequence 123 lies in the first, sealed segment
  WriteFileAt(seg1, offs[victim - 1] + kFrameHeaderSize + 2, "\x01");
  auto o = Reopen(tmp.path());
  // Open trusts durable data: fast, no scan of sealed segments.
  EXPECT_EQ(o->log->recovery().frames_scanned, 0u);
  ReadOut r = ReadAll(tmp.path(), 800);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0], HasSubstr("checksum mismatch"));
  EXPECT_THAT(r.errors[0], HasSubstr("sequences 123..123 skipped"));
  EXPECT_EQ(r.seqs.size(), 2999u);
  EXPECT_EQ(std::count(r.seqs.begin(), r.seqs.end(), victim), 0);
}

// 6000 records of up to 800 bytes: at least three segments; the bases of
// the second and third.
void FillThreeSegments(const std::string& dir, uint64_t* base2, uint64_t* base3) {
  Fill(dir, 6000, 800);
  auto names = testing::ListDir(dir);
  ASSERT_GE(names.size(), 4u);  // STREAM + >= 3 segments
  ASSERT_TRUE(ParseSegmentFileName(names[1], base2));
  ASSERT_TRUE(ParseSegmentFileName(names[2], base3));
}

// A middle segment whose seal never reached the disk was never synced
// whole, and no later segment was synced at all (segments are synced in
// order): a damaged frame in it is where a power cut stopped the
// writeback. The log is cut there, a valid prefix, and the later segments
// are set aside as a lost tail (kept, not deleted); appends go on after the
// last intact frame.
TEST(Recovery, BadFrameInUnsealedMiddleSegmentCutsTheLogThere) {
  TempDir tmp;
  uint64_t base2 = 0, base3 = 0;
  ASSERT_NO_FATAL_FAILURE(FillThreeSegments(tmp.path(), &base2, &base3));
  const std::string seg2 = SegPath(tmp.path(), base2);
  auto offs = FrameOffsets(seg2);
  // The seal never reached the disk, and a frame in it is damaged.
  WriteFileAt(seg2, kSegmentSyncRecordOffset, std::string(kSegmentSyncRecordSize, '\0'));
  WriteFileAt(seg2, offs[10] + kFrameHeaderSize + 1, "\xff");
  auto o = Reopen(tmp.path());
  ASSERT_FALSE(o->reports.empty());
  bool saw_cut = false, saw_lost_tail = false;
  for (const auto& rep : o->reports) {
    EXPECT_TRUE(rep.tail) << rep.file << ": " << rep.reason;
    if (rep.file == seg2) saw_cut = true;
    if (rep.reason.find("never became durable") != std::string::npos) saw_lost_tail = true;
  }
  EXPECT_TRUE(saw_cut);
  EXPECT_TRUE(saw_lost_tail);
  EXPECT_EQ(o->log->recovery().corruptions, 0u);
  EXPECT_EQ(o->log->last_seq(), base2 + 9);
  EXPECT_TRUE(std::filesystem::exists(SegPath(tmp.path(), base3) + ".tail-0"));
  EXPECT_EQ(*o->log->Append({"rec", "", PayloadFor(base2 + 10, (base2 + 10) % 800), 0}), base2 + 10);
  ASSERT_TRUE(o->log->Close().ok());
  ReadOut r = ReadAll(tmp.path(), 800);
  EXPECT_TRUE(r.errors.empty());
  ASSERT_EQ(r.seqs.size(), base2 + 10);
  EXPECT_EQ(r.seqs.back(), base2 + 10);
}

// Found by the power-loss torture: a roll's header that never reached the
// disk in a segment that is not the last (the kernel wrote back the next
// one's name and pages, never synced). Nothing from there on was durable:
// it and the later segments are a lost tail, the log a valid prefix.
TEST(Recovery, NeverWrittenHeaderOfMiddleSegmentIsALostTail) {
  TempDir tmp;
  uint64_t base2 = 0, base3 = 0;
  ASSERT_NO_FATAL_FAILURE(FillThreeSegments(tmp.path(), &base2, &base3));
  WriteFileAt(SegPath(tmp.path(), base2), 0, std::string(kSegmentDataOffset, '\0'));
  auto o = Reopen(tmp.path());
  ASSERT_FALSE(o->reports.empty());
  for (const auto& rep : o->reports) EXPECT_TRUE(rep.tail) << rep.file << ": " << rep.reason;
  EXPECT_THAT(o->reports[0].reason, HasSubstr("never written"));
  EXPECT_EQ(o->log->recovery().corruptions, 0u);
  EXPECT_EQ(o->log->last_seq(), base2 - 1);
  EXPECT_TRUE(std::filesystem::exists(SegPath(tmp.path(), base2) + ".tail-0"));
  EXPECT_TRUE(std::filesystem::exists(SegPath(tmp.path(), base3) + ".tail-0"));
  EXPECT_EQ(*o->log->Append({"rec", "", PayloadFor(base2, base2 % 800), 0}), base2);
  ASSERT_TRUE(o->log->Close().ok());
  ReadOut r = ReadAll(tmp.path(), 800);
  EXPECT_TRUE(r.errors.empty());
  EXPECT_TRUE(Contiguous(r.seqs, 1, base2));
}

// Found by fuzz/segment_fuzzer (a timeout): a segment left empty by damage
// at its first frame, followed by another, made the retention cursor find
// that same segment again for ever, and Open never returned.
TEST(Recovery, SegmentEmptiedByDamageAtItsFirstFrameDoesNotHangOpen) {
  TempDir tmp;
  Fill(tmp.path(), 6000, 800);
  const std::vector<uint64_t> bases = testing::SegmentBases(tmp.path());
  ASSERT_GE(bases.size(), 3u);
  const std::string seg1 = SegPath(tmp.path(), bases[0]);
  // The seal never reached the disk, and the first frame is damaged.
  WriteFileAt(seg1, kSegmentSyncRecordOffset, std::string(kSegmentSyncRecordSize, '\0'));
  WriteFileAt(seg1, kSegmentDataOffset + kFrameHeaderSize + 1, "\xff");
  std::promise<std::unique_ptr<Opened>> done;
  std::future<std::unique_ptr<Opened>> opened = done.get_future();
  std::thread([&done, dir = tmp.path()] { done.set_value(Reopen(dir)); }).detach();
  if (opened.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    ADD_FAILURE() << "Log::Open did not return within 60 s";
    std::_Exit(1);  // the hung thread cannot be joined
  }
  std::unique_ptr<Opened> o = opened.get();
  // As in BadFrameInUnsealedMiddleSegmentCutsTheLogThere: a never-sealed
  // segment damaged at its first frame cuts the log there; what follows is
  // set aside as a lost tail, not served and not deleted.
  EXPECT_EQ(o->log->recovery().corruptions, 0u);
  EXPECT_EQ(o->log->last_seq(), 0u);
  EXPECT_TRUE(std::filesystem::exists(SegPath(tmp.path(), bases[1]) + ".tail-0"));
  EXPECT_EQ(*o->log->Append({"rec", "", PayloadFor(1, 1), 0}), 1u);
  ASSERT_TRUE(o->log->Close().ok());
  ReadOut r = ReadAll(tmp.path(), 800);
  EXPECT_TRUE(r.errors.empty());
  ASSERT_EQ(r.seqs.size(), 1u);
}

TEST(Recovery, CorruptHeaderOfMiddleSegmentIsQuarantined) {
  TempDir tmp;
  Fill(tmp.path(), 6000, 800);
  auto names = testing::ListDir(tmp.path());
  uint64_t base2 = 0;
  ASSERT_TRUE(ParseSegmentFileName(names[1], &base2));
  const std::string seg2 = SegPath(tmp.path(), base2);
  WriteFileAt(seg2, 20, "garbage");
  auto o = Reopen(tmp.path());
  ASSERT_FALSE(o->reports.empty());
  EXPECT_FALSE(o->reports[0].tail);
  EXPECT_THAT(o->reports[0].reason, HasSubstr("header checksum mismatch"));
  EXPECT_TRUE(std::filesystem::exists(seg2 + ".bad"));
  EXPECT_EQ(o->log->last_seq(), 6000u);
  ReadOut r = ReadAll(tmp.path(), 800);
  ASSERT_FALSE(r.errors.empty());
  EXPECT_THAT(r.errors[0], HasSubstr("missing"));
}

TEST(Recovery, SegmentFromAnotherStreamIsQuarantined) {
  TempDir a, b;
  Fill(a.path(), 10);
  Fill(b.path(), 30);
  // Segment 1 of stream b copied into stream a under the name of a later base.
  std::string bytes = ReadFile(SegPath(b.path(), 1));
  {
    std::string hdr = bytes.substr(0, kSegmentDataOffset);
    SegmentIdentity id;
    ASSERT_TRUE(DecodeSegmentIdentity(hdr.data(), "b", &id).ok());
    id.base_seq = 11;
    EncodeSegmentIdentity(hdr.data(), id);
    bytes.replace(0, hdr.size(), hdr);
  }
  std::string foreign = SegPath(a.path(), 11);
  int fd = ::open(foreign.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  ::close(fd);
  auto o = Reopen(a.path());
  EXPECT_EQ(o->log->last_seq(), 10u);
  ASSERT_FALSE(o->reports.empty());
  EXPECT_THAT(o->reports[0].reason, HasSubstr("belongs to stream"));
}

TEST(Recovery, RollCutShortLeavesUsableLog) {
  TempDir tmp;
  Fill(tmp.path(), 10);
  // A crash after creating and naming the next segment but before its
  // header reached the disk: a preallocated file of zeros.
  const std::string next = SegPath(tmp.path(), 11);
  int fd = ::open(next.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_EQ(::posix_fallocate(fd, 0, kMinSegmentSize), 0);
  ::close(fd);
  auto o = Reopen(tmp.path());
  EXPECT_EQ(o->log->last_seq(), 10u);
  ASSERT_EQ(o->reports.size(), 1u);
  EXPECT_TRUE(o->reports[0].tail);
  EXPECT_EQ(*o->log->Append({"rec", "", PayloadFor(11, 11), 0}), 11u);
  ASSERT_TRUE(o->log->Close().ok());
  EXPECT_TRUE(Contiguous(ReadAll(tmp.path()).seqs, 1, 11));
}

// Regression (review finding 1): when the last segment is set aside, the one
// before it becomes active again and must be unsealed, or what is appended
// to it is never synced and the next open cuts it behind its sealed record.
TEST(Recovery, SegmentBeforeATornRollIsUnsealedAndAppendsStayDurable) {
  TempDir tmp;
  LogOptions o = SmallOptions();
  o.sync = SyncMode::kAlways;
  {
    auto log = *Log::Open(tmp.path(), o);
    for (uint64_t i = 1; i <= 4; ++i) ASSERT_TRUE(log->Append({"rec", "", PayloadFor(i, 300000), 0}).ok());
    ASSERT_TRUE(log->WaitDurable(4, absl::Seconds(30)).ok());
    ASSERT_TRUE(log->Close().ok());
  }
  // Power loss after the roll's name reached the disk but not its header.
  const std::string seg4 = SegPath(tmp.path(), 4);
  ASSERT_TRUE(std::filesystem::exists(seg4));
  WriteFileAt(seg4, 0, std::string(std::filesystem::file_size(seg4), '\0'));
  {
    std::vector<CorruptionReport> reports;
    LogOptions ro = o;
    ro.reporter = [&](const CorruptionReport& r) { reports.push_back(r); };
    auto log = *Log::Open(tmp.path(), ro);
    ASSERT_EQ(log->last_seq(), 3u);
    ASSERT_EQ(*log->Append({"rec", "", PayloadFor(4, 1000), 0}), 4u);  // fits the old segment
    ASSERT_TRUE(log->WaitDurable(4, absl::Seconds(30)).ok());
    ASSERT_TRUE(log->Close().ok());
  }
  auto log = *Log::Open(tmp.path(), o);
  EXPECT_EQ(log->last_seq(), 4u);
  auto r = *Reader::Open(tmp.path());
  Record rec;
  for (uint64_t i = 1; i <= 4; ++i) {
    absl::Status s = r->Next(&rec);
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(rec.sequence, i);
  }
}

// Regression (review finding 2): with every older segment deleted by
// retention and the only segment lost to a torn roll, sequences go on from
// the highest base ever named, never from 1.
TEST(Recovery, SequencesNeverRestartWhenEverySegmentIsGone) {
  TempDir tmp;
  LogOptions o = SmallOptions();
  o.retention.max_msgs = 1;
  {
    auto log = *Log::Open(tmp.path(), o);
    for (uint64_t i = 1; i <= 7; ++i) ASSERT_TRUE(log->Append({"rec", "", PayloadFor(i, 700000), 0}).ok());
    log->EnforceRetention();
    ASSERT_TRUE(log->Close().ok());
  }
  const std::string seg7 = SegPath(tmp.path(), 7);
  ASSERT_TRUE(std::filesystem::exists(seg7));
  ASSERT_FALSE(std::filesystem::exists(SegPath(tmp.path(), 6)));
  WriteFileAt(seg7, 0, std::string(std::filesystem::file_size(seg7), '\0'));
  auto log = *Log::Open(tmp.path(), o);
  EXPECT_EQ(*log->Append({"rec", "", "after", 0}), 7u);
}

// Regression (review finding 8): an empty last segment must not reset the
// timestamp floor.
TEST(Recovery, TimestampsStayOrderedAfterAnEmptyLastSegment) {
  TempDir tmp;
  {
    auto log = *Log::Open(tmp.path(), SmallOptions());
    for (uint64_t i = 1; i <= 3; ++i) ASSERT_TRUE(log->Append({"rec", "", PayloadFor(i, 400000), 5000 + static_cast<int64_t>(i)}).ok());
    ASSERT_TRUE(log->Close().ok());
  }
  const uint64_t last_base = testing::SegmentBases(tmp.path()).back();
  ASSERT_GT(last_base, 1u);
  // The last segment's only frame is torn and its record lost.
  const std::string seg = SegPath(tmp.path(), last_base);
  RewindSyncRecord(seg, 0);
  WriteFileAt(seg, kSegmentDataOffset + 100, "torn");
  auto log = *Log::Open(tmp.path(), SmallOptions());
  ASSERT_EQ(log->last_seq(), last_base - 1);
  ASSERT_TRUE(log->Append({"rec", "", "late", 1000}).ok());
  auto r = *Reader::Open(tmp.path());
  ASSERT_TRUE(r->SeekToTime(5000).ok());
  Record rec;
  ASSERT_TRUE(r->Next(&rec).ok());
  EXPECT_EQ(rec.sequence, 1u);
  ASSERT_TRUE(r->SeekToLast().ok());
  ASSERT_TRUE(r->Next(&rec).ok());
  EXPECT_GE(rec.timestamp_ns, 5000 + static_cast<int64_t>(last_base - 1));
}

TEST(Recovery, SegmentShorterThanHeaderIsQuarantined) {
  TempDir tmp;
  Fill(tmp.path(), 10);
  const std::string stub = SegPath(tmp.path(), 11);
  int fd = ::open(stub.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_EQ(::write(fd, "short", 5), 5);
  ::close(fd);
  auto o = Reopen(tmp.path());
  EXPECT_EQ(o->log->last_seq(), 10u);
  ASSERT_EQ(o->reports.size(), 1u);
  EXPECT_THAT(o->reports[0].reason, HasSubstr("shorter than its header"));
}

TEST(Recovery, LeftoverTempFilesAreRemoved) {
  TempDir tmp;
  Fill(tmp.path(), 5);
  {
    int fd = ::open(tmp.Sub("next.seg.tmp").c_str(), O_CREAT | O_WRONLY, 0600);
    ::close(fd);
  }
  auto o = Reopen(tmp.path());
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub("next.seg.tmp")));
}

TEST(Recovery, CorruptStreamFileIsAClearError) {
  TempDir tmp;
  Fill(tmp.path(), 5);
  WriteFileAt(tmp.Sub("STREAM"), 18, "zz");
  auto log = Log::Open(tmp.path(), SmallOptions());
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(absl::IsDataLoss(log.status()));
  EXPECT_THAT(std::string(log.status().message()), HasSubstr("corrupt stream identity"));
}

TEST(Recovery, MissingStreamFileIsNotRecreatedOverSegments) {
  TempDir tmp;
  Fill(tmp.path(), 5);
  std::filesystem::remove(tmp.Sub("STREAM"));
  auto log = Log::Open(tmp.path(), SmallOptions());
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(log.status())) << log.status();
  EXPECT_THAT(std::string(log.status().message()), HasSubstr("but no STREAM file"));
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub("STREAM")));
  EXPECT_TRUE(std::filesystem::exists(SegPath(tmp.path(), 1)));
}

// A segment file named with a base beyond the sequence space (a garbage
// name, fuzz input crash-sequence-space-end) is set aside and reported, and
// does not move the stream's next sequence: the stream goes on from its
// own last sequence, without wrapping at 2^64.
TEST(Recovery, ASegmentNamedBeyondTheSequenceSpaceIsSetAside) {
  TempDir tmp;
  Fill(tmp.path(), 5);
  const uint64_t huge = UINT64_MAX - 3;
  ASSERT_GT(huge, kMaxSequence);
  std::filesystem::copy_file(SegPath(tmp.path(), 1), tmp.Sub(SegmentFileName(huge)));
  auto o = Reopen(tmp.path());
  ASSERT_NE(o->log, nullptr);
  EXPECT_EQ(o->log->last_seq(), 5u);
  bool reported = false;
  for (const CorruptionReport& r : o->reports) reported |= absl::StrContains(r.reason, "beyond the sequence space");
  EXPECT_TRUE(reported);
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub(SegmentFileName(huge))));
  absl::StatusOr<uint64_t> seq = o->log->Append({"rec", "", "six", 0});
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_EQ(*seq, 6u);
}

// A stream whose only segment starts just below the end of the sequence
// space (its identity rewritten to that base; the frames inside, carrying
// 1..5, are then a damaged tail): appends stop at kMaxSequence with a clear
// error, never wrapping.
TEST(Recovery, AppendsStopAtTheEndOfTheSequenceSpace) {
  TempDir tmp;
  Fill(tmp.path(), 5);
  const std::string high = tmp.Sub(SegmentFileName(kMaxSequence - 2));
  std::filesystem::rename(SegPath(tmp.path(), 1), high);
  std::string hdr = ReadFile(high).substr(0, kSegmentDataOffset);  // Encode rewrites the header page
  SegmentIdentity id;
  ASSERT_TRUE(DecodeSegmentIdentity(hdr.data(), high, &id).ok());
  id.base_seq = kMaxSequence - 2;
  EncodeSegmentIdentity(hdr.data(), id);
  WriteFileAt(high, 0, hdr);
  auto o = Reopen(tmp.path());
  ASSERT_NE(o->log, nullptr);
  EXPECT_EQ(o->log->last_seq(), kMaxSequence - 3);
  for (uint64_t want : {kMaxSequence - 2, kMaxSequence - 1, kMaxSequence}) {
    absl::StatusOr<uint64_t> seq = o->log->Append({"rec", "", "x", 0});
    ASSERT_TRUE(seq.ok()) << seq.status();
    EXPECT_EQ(*seq, want);
  }
  absl::StatusOr<uint64_t> past = o->log->Append({"rec", "", "x", 0});
  ASSERT_TRUE(absl::IsResourceExhausted(past.status())) << past.status();
  EXPECT_THAT(std::string(past.status().message()), HasSubstr("sequence space exhausted"));
  Message two[2] = {{"rec", "", "y", 0}, {"rec", "", "z", 0}};
  EXPECT_TRUE(absl::IsResourceExhausted(o->log->AppendBatch(two).status()));
  EXPECT_EQ(o->log->last_seq(), kMaxSequence);
  ASSERT_TRUE(o->log->Close().ok());
  auto again = Reopen(tmp.path());
  ASSERT_NE(again->log, nullptr);
  EXPECT_EQ(again->log->last_seq(), kMaxSequence);
}

TEST(Recovery, NewerSegmentFormatIsRefusedUntouched) {
  TempDir tmp;
  Fill(tmp.path(), 5);
  const std::string seg = SegPath(tmp.path(), 1);
  std::string hdr = ReadFile(seg).substr(0, 64);
  EncodeFixed32(hdr.data() + 8, kSegmentFormatVersion + 1);
  EncodeFixed64(hdr.data() + 56, XXH3_64bits(hdr.data(), 56));  // as a newer writer would
  WriteFileAt(seg, 0, hdr);
  const std::string before = ReadFile(seg);
  auto log = Log::Open(tmp.path(), SmallOptions());
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(log.status())) << log.status();
  EXPECT_EQ(ReadFile(seg), before);
  EXPECT_TRUE(std::filesystem::exists(seg));
}

// Random damage of every kind: Open never crashes, and what is served is
// always correct data in increasing sequence order.
TEST(Recovery, RandomDamageNeverCrashesOrServesGarbage) {
  TempDir pristine;
  Fill(pristine.path(), 2500, 900);
  std::mt19937_64 rng(20261123);
  for (int round = 0; round < 60; ++round) {
    TempDir tmp;
    std::filesystem::copy(pristine.path(), tmp.path(), std::filesystem::copy_options::recursive);
    std::vector<std::string> names;
    for (const auto& n : testing::ListDir(tmp.path())) {
      uint64_t base;
      if (ParseSegmentFileName(n, &base)) names.push_back(n);
    }
    ASSERT_GE(names.size(), 2u);
    for (int hits = 0; hits < 3; ++hits) {
      const std::string victim = tmp.Sub(names[rng() % names.size()]);
      const uint64_t size = std::filesystem::file_size(victim);
      switch (rng() % 4) {
        case 0: {  // bit flip anywhere, header included
          uint64_t at = rng() % std::min<uint64_t>(size, 700000);
          WriteFileAt(victim, at, std::string(1, static_cast<char>(1 << (rng() % 8))));
          break;
        }
        case 1: {  // zero a page
          uint64_t page = (rng() % (std::min<uint64_t>(size, 700000) / 4096)) * 4096;
          WriteFileAt(victim, page, std::string(4096, '\0'));
          break;
        }
        case 2: {  // truncate
          ASSERT_EQ(::truncate(victim.c_str(), static_cast<off_t>(rng() % size)), 0);
          break;
        }
        case 3: {  // random garbage run
          std::string junk(1 + rng() % 5000, '\0');
          for (char& c : junk) c = static_cast<char>(rng());
          WriteFileAt(victim, rng() % std::min<uint64_t>(size, 700000), junk);
          break;
        }
      }
      if (rng() % 2) RewindSyncRecord(victim, 0);
    }
    std::vector<CorruptionReport> reports;
    auto log = Log::Open(tmp.path(), SmallOptions(&reports));
    if (!log.ok()) continue;  // e.g. a clear error; never a crash
    const uint64_t last = (*log)->last_seq();
    ASSERT_TRUE((*log)->Close().ok());
    auto r = Reader::Open(tmp.path());
    ASSERT_TRUE(r.ok());
    Record rec;
    uint64_t prev = 0;
    for (int guard = 0; guard < 10000; ++guard) {
      absl::Status s = (*r)->Next(&rec);
      if (IsEndOfData(s)) break;
      if (!s.ok()) continue;
      ASSERT_GT(rec.sequence, prev);
      ASSERT_LE(rec.sequence, last);
      ASSERT_EQ(rec.payload, PayloadFor(rec.sequence, rec.sequence % 900)) << "round " << round;
      prev = rec.sequence;
    }
  }
}

}  // namespace
}  // namespace shortbus::engine
