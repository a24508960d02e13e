#include "engine/reader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "engine/coding.h"
#include "engine/frame.h"
#include "engine/log.h"
#include "engine/segment_header.h"
#include "tests/engine/test_util.h"

namespace shortbus::engine {
namespace {

using testing::PayloadFor;
using testing::SmallOptions;
using testing::TempDir;

// A stream of n messages across several segments, stamped 1000 ns apart
// from t0, payload PayloadFor(seq, seq % 2000).
constexpr int64_t kT0 = 1'700'000'000'000'000'000;
std::unique_ptr<Log> Build(const std::string& dir, uint64_t n) {
  auto log = *Log::Open(dir, SmallOptions());
  for (uint64_t i = 1; i <= n; ++i) {
    EXPECT_TRUE(log->Append({"r.x", "", PayloadFor(i, i % 2000), kT0 + static_cast<int64_t>(i) * 1000}).ok());
  }
  return log;
}

uint64_t NextSeq(Reader* r) {
  Record rec;
  absl::Status s = r->Next(&rec);
  if (!s.ok()) return 0;
  EXPECT_EQ(rec.payload, PayloadFor(rec.sequence, rec.sequence % 2000));
  return rec.sequence;
}

TEST(Reader, EmptyStreamIsEndOfData) {
  TempDir tmp;
  auto log = *Log::Open(tmp.path(), SmallOptions());
  auto r = *Reader::Open(tmp.path());
  Record rec;
  EXPECT_TRUE(IsEndOfData(r->Next(&rec)));
  EXPECT_TRUE(r->SeekToLast().ok());
  EXPECT_TRUE(IsEndOfData(r->Next(&rec)));
  EXPECT_TRUE(absl::IsDeadlineExceeded(r->WaitForData(absl::Milliseconds(5))));
  ASSERT_TRUE(log->Append({"a", "", "first", 0}).ok());
  EXPECT_TRUE(r->WaitForData(absl::Seconds(10)).ok());
  ASSERT_TRUE(r->Next(&rec).ok());
  EXPECT_EQ(rec.payload, "first");
}

TEST(Reader, MissingStreamIsNotFound) {
  TempDir tmp;
  EXPECT_TRUE(absl::IsNotFound(Reader::Open(tmp.Sub("none")).status()));
}

TEST(Reader, SeekToSequenceEverywhere) {
  TempDir tmp;
  auto log = Build(tmp.path(), 5000);
  ASSERT_GE(log->stats().segments, 4u);
  auto r = *Reader::Open(tmp.path());
  for (uint64_t target : {1ull, 2ull, 999ull, 1000ull, 2500ull, 4999ull, 5000ull}) {
    ASSERT_TRUE(r->SeekToSequence(target).ok());
    EXPECT_EQ(NextSeq(r.get()), target);
    EXPECT_EQ(NextSeq(r.get()), target == 5000 ? 0 : target + 1);
  }
  // Every segment boundary.
  uint64_t prev_base = 0;
  for (const auto& name : testing::ListDir(tmp.path())) {
    uint64_t base;
    if (!ParseSegmentFileName(name, &base)) continue;
    for (uint64_t t : {base - 1, base, base + 1}) {
      if (t == 0) continue;
      ASSERT_TRUE(r->SeekToSequence(t).ok());
      EXPECT_EQ(NextSeq(r.get()), t);
    }
    prev_base = base;
  }
  EXPECT_GT(prev_base, 1u);
  // Past the end: nothing yet, then exactly that sequence once appended.
  ASSERT_TRUE(r->SeekToSequence(5002).ok());
  Record rec;
  EXPECT_TRUE(IsEndOfData(r->Next(&rec)));
  for (uint64_t i = 5001; i <= 5003; ++i) ASSERT_TRUE(log->Append({"r.x", "", PayloadFor(i, i % 2000), 0}).ok());
  EXPECT_EQ(NextSeq(r.get()), 5002u);
}

TEST(Reader, SeekToTimeFindsFirstAtOrAfter) {
  TempDir tmp;
  auto log = Build(tmp.path(), 5000);
  auto r = *Reader::Open(tmp.path());
  for (uint64_t seq : {1ull, 17ull, 1500ull, 3333ull, 5000ull}) {
    ASSERT_TRUE(r->SeekToTime(kT0 + static_cast<int64_t>(seq) * 1000).ok());
    EXPECT_EQ(NextSeq(r.get()), seq);
    ASSERT_TRUE(r->SeekToTime(kT0 + static_cast<int64_t>(seq) * 1000 - 500).ok());
    EXPECT_EQ(NextSeq(r.get()), seq);
  }
  ASSERT_TRUE(r->SeekToTime(0).ok());
  EXPECT_EQ(NextSeq(r.get()), 1u);
  ASSERT_TRUE(r->SeekToTime(kT0 + 6000 * 1000).ok());
  Record rec;
  EXPECT_TRUE(IsEndOfData(r->Next(&rec)));
}

TEST(Reader, SeekToLast) {
  TempDir tmp;
  auto log = Build(tmp.path(), 3000);
  auto r = *Reader::Open(tmp.path());
  ASSERT_TRUE(r->SeekToLast().ok());
  EXPECT_EQ(NextSeq(r.get()), 3000u);
  Record rec;
  EXPECT_TRUE(IsEndOfData(r->Next(&rec)));
  ASSERT_TRUE(log->Append({"r.x", "", PayloadFor(3001, 3001 % 2000), 0}).ok());
  EXPECT_EQ(NextSeq(r.get()), 3001u);
}

TEST(Reader, ViewsPointIntoTheMapping) {
  TempDir tmp;
  auto log = Build(tmp.path(), 10);
  auto r = *Reader::Open(tmp.path());
  Record a, b;
  ASSERT_TRUE(r->Next(&a).ok());
  ASSERT_TRUE(r->Next(&b).ok());
  // Uncompressed frames: consecutive records sit back to back in one mapping.
  EXPECT_EQ(b.subject.data() - a.subject.data(),
            static_cast<ptrdiff_t>((48 + a.subject.size() + a.payload.size() + 7) / 8 * 8));
}

TEST(Reader, FollowsAWriterOnAnotherThread) {
  TempDir tmp;
  auto log = *Log::Open(tmp.path(), SmallOptions());
  const uint64_t n = 60000;
  std::thread writer([&] {
    for (uint64_t i = 1; i <= n; ++i) {
      ASSERT_TRUE(log->Append({"f", "", PayloadFor(i, i % 300), 0}).ok());
    }
  });
  auto r = *Reader::Open(tmp.path());
  Record rec;
  uint64_t expect = 1;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (expect <= n && absl::Now() < deadline) {
    absl::Status s = r->Next(&rec);
    if (IsEndOfData(s)) {
      (void)r->WaitForData(absl::Milliseconds(100));
      continue;
    }
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_EQ(rec.sequence, expect);
    ASSERT_EQ(rec.payload, PayloadFor(expect, expect % 300));
    ++expect;
  }
  writer.join();
  EXPECT_EQ(expect, n + 1);
}

}  // namespace
}  // namespace shortbus::engine

namespace shortbus::engine {
namespace {

TEST(Reader, RecordsCarryTheirPositionAndSeekBackToIt) {
  testing::TempDir tmp;
  auto log = Build(tmp.path(), 4000);
  auto r = *Reader::Open(tmp.path());
  struct Pos {
    uint64_t base, off, seq, bytes;
  };
  std::vector<Pos> all;
  Record rec;
  while (r->Next(&rec).ok()) all.push_back({rec.segment_base, rec.offset, rec.sequence, rec.frame_bytes});
  ASSERT_EQ(all.size(), 4000u);
  for (size_t i = 1; i < all.size(); ++i) {
    if (all[i].base == all[i - 1].base) {
      EXPECT_EQ(all[i].off, all[i - 1].off + all[i - 1].bytes);
    } else {
      EXPECT_EQ(all[i].off, 4096u);
      EXPECT_EQ(all[i].base, all[i].seq);
    }
  }
  // From a recorded position, straight to it or to a later sequence.
  for (size_t i : {0ul, 1ul, 999ul, 2500ul, 3999ul}) {
    ASSERT_TRUE(r->SeekToPosition(all[i].base, all[i].off, all[i].seq).ok());
    EXPECT_EQ(NextSeq(r.get()), all[i].seq);
    ASSERT_TRUE(r->SeekToPosition(all[i].base, all[i].off, all[i].seq + 3).ok());
    EXPECT_EQ(NextSeq(r.get()), std::min<uint64_t>(all[i].seq + 3, 4000) == all[i].seq + 3 ? all[i].seq + 3 : 0);
  }
  // Stale or wrong hints fall back to a scan with the same answer.
  ASSERT_TRUE(r->SeekToPosition(all[2000].base, all[2000].off + 8, 2000).ok());
  EXPECT_EQ(NextSeq(r.get()), 2000u);
  ASSERT_TRUE(r->SeekToPosition(999999, 4096, 1234).ok());
  EXPECT_EQ(NextSeq(r.get()), 1234u);
  ASSERT_TRUE(r->SeekToPosition(all[3000].base, all[3000].off, 10).ok());  // frame after seq
  EXPECT_EQ(NextSeq(r.get()), 10u);
}

}  // namespace
}  // namespace shortbus::engine

namespace shortbus::engine {
namespace {

std::string SegPath(const std::string& dir, uint64_t base) { return dir + "/" + SegmentFileName(base); }

// Regression (review finding 3): a damaged committed_end word is never
// trusted past the mapping.
TEST(ReaderDamage, CommittedEndPastTheFileIsClamped) {
  testing::TempDir tmp;
  { auto log = Build(tmp.path(), 50); ASSERT_TRUE(log->Close().ok()); }
  std::string word(8, '\0');
  EncodeFixed64(word.data(), uint64_t{64} << 20);  // in a 1 MiB file
  testing::WriteFileAt(SegPath(tmp.path(), 1), kSegmentCommittedEndOffset, word);
  auto r = *Reader::Open(tmp.path());
  Record rec;
  uint64_t ok = 0;
  for (int i = 0; i < 200; ++i) {
    absl::Status s = r->Next(&rec);
    if (IsEndOfData(s)) break;
    if (s.ok()) ++ok;
  }
  EXPECT_EQ(ok, 50u);
}

// Regression (review finding 4): after a damaged frame at the live end of the
// active segment, a follower still gets every later frame.
TEST(ReaderDamage, FollowerGetsFramesAppendedAfterADamagedOne) {
  testing::TempDir tmp;
  auto log = *Log::Open(tmp.path(), testing::SmallOptions());
  for (uint64_t i = 1; i <= 3; ++i) ASSERT_TRUE(log->Append({"d", "", PayloadFor(i, 100), 0}).ok());
  auto r = *Reader::Open(tmp.path());
  Record rec;
  ASSERT_TRUE(r->Next(&rec).ok());
  ASSERT_TRUE(r->Next(&rec).ok());
  const uint64_t off3 = rec.offset + rec.frame_bytes;
  testing::WriteFileAt(SegPath(tmp.path(), 1), off3 + 60, "X");  // frame 3's payload
  absl::Status s = r->Next(&rec);
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_TRUE(IsEndOfData(r->Next(&rec)));
  EXPECT_TRUE(absl::IsDeadlineExceeded(r->WaitForData(absl::Milliseconds(5))));  // no busy loop
  for (uint64_t i = 4; i <= 8; ++i) ASSERT_TRUE(log->Append({"d", "", PayloadFor(i, 100), 0}).ok());
  ASSERT_TRUE(r->WaitForData(absl::Seconds(10)).ok());
  for (uint64_t i = 4; i <= 8; ++i) {
    s = r->Next(&rec);
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(rec.sequence, i);
    EXPECT_EQ(rec.payload, PayloadFor(i, 100));
  }
}

// ReaderOptions::verify_checksums = false (an index reading back its own
// appends) serves a frame whose checksum does not match; the default
// reports it. Lengths are still checked either way.
TEST(ReaderDamage, ChecksumsAreSkippedOnlyWhenAsked) {
  testing::TempDir tmp;
  auto log = *Log::Open(tmp.path(), testing::SmallOptions());
  for (uint64_t i = 1; i <= 3; ++i) ASSERT_TRUE(log->Append({"d", "", PayloadFor(i, 100), 0}).ok());
  Record rec;
  uint64_t off2 = 0;
  {
    auto r = *Reader::Open(tmp.path());
    ASSERT_TRUE(r->Next(&rec).ok());
    off2 = rec.offset + rec.frame_bytes;
  }
  // Flip a byte of frame 2's checksum field (a fixed byte would already be
  // there once in 256 runs: the checksum covers the append's timestamp).
  const char was = testing::ReadFile(SegPath(tmp.path(), 1))[off2 + 8];
  testing::WriteFileAt(SegPath(tmp.path(), 1), off2 + 8, std::string(1, static_cast<char>(~was)));
  auto checked = *Reader::Open(tmp.path());
  ASSERT_TRUE(checked->Next(&rec).ok());
  EXPECT_TRUE(absl::IsDataLoss(checked->Next(&rec)));
  ReaderOptions trusting;
  trusting.verify_checksums = false;
  auto r = *Reader::Open(tmp.path(), trusting);
  for (uint64_t i = 1; i <= 3; ++i) {
    absl::Status s = r->Next(&rec);
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(rec.sequence, i);
    EXPECT_EQ(rec.payload, PayloadFor(i, 100));
  }
  // A length that does not fit is refused even so.
  testing::WriteFileAt(SegPath(tmp.path(), 1), off2 + 40, std::string(4, '\xff'));  // frame 2's stored length
  auto r2 = *Reader::Open(tmp.path(), trusting);
  ASSERT_TRUE(r2->Next(&rec).ok());
  absl::Status s = r2->Next(&rec);
  EXPECT_FALSE(s.ok() && rec.sequence == 2) << s;
}

// ReaderOptions::read_payloads = false (an index): the same records, with
// an empty payload, and compressed payloads are not decompressed (here one
// that would not decode, its checksum not checked).
TEST(ReaderDamage, RecordsWithoutPayloadsDecompressNothing) {
  testing::TempDir tmp;
  LogOptions o = SmallOptions();
  o.compression = Compression::kLz4;
  auto log = *Log::Open(tmp.path(), o);
  for (uint64_t i = 1; i <= 4; ++i) {
    ASSERT_TRUE(log->Append({"z." + std::to_string(i), "", std::string(3000, static_cast<char>('a' + i)), 0}).ok());
  }
  std::vector<Record> full;
  {
    auto r = *Reader::Open(tmp.path());
    Record rec;
    while (r->Next(&rec).ok()) full.push_back(rec);  // views of the mapping, except payload
  }
  ASSERT_EQ(full.size(), 4u);
  // Frame 2's compressed bytes, past its header and subject.
  testing::WriteFileAt(SegPath(tmp.path(), 1), full[1].offset + 48 + 3 + 4, std::string(8, '\xee'));
  ReaderOptions unchecked;
  unchecked.verify_checksums = false;
  ReaderOptions index = unchecked;
  index.read_payloads = false;
  auto decoding = *Reader::Open(tmp.path(), unchecked);
  auto r = *Reader::Open(tmp.path(), index);
  Record rec;
  ASSERT_TRUE(decoding->Next(&rec).ok());
  EXPECT_TRUE(absl::IsDataLoss(decoding->Next(&rec)));  // frame 2 does not decode
  for (const Record& want : full) {
    absl::Status s = r->Next(&rec);
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(rec.sequence, want.sequence);
    EXPECT_EQ(rec.subject, "z." + std::to_string(want.sequence));
    EXPECT_EQ(rec.offset, want.offset);
    EXPECT_EQ(rec.frame_bytes, want.frame_bytes);
    EXPECT_EQ(rec.timestamp_ns, want.timestamp_ns);
    EXPECT_TRUE(rec.payload.empty());
  }
}

// Appends messages 1..n (subject "d", PayloadFor(seq, 100)) to a new
// stream in `dir`, closes it, and returns each frame's offset.
std::vector<uint64_t> AppendAndLocate(const std::string& dir, uint64_t n) {
  std::vector<uint64_t> offs;
  {
    absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(dir, testing::SmallOptions());
    if (!log.ok()) {
      ADD_FAILURE() << log.status();
      return offs;
    }
    for (uint64_t i = 1; i <= n; ++i) EXPECT_TRUE((*log)->Append({"d", "", PayloadFor(i, 100), 0}).ok());
    EXPECT_TRUE((*log)->Close().ok());
  }
  absl::StatusOr<std::unique_ptr<Reader>> r = Reader::Open(dir);
  if (!r.ok()) {
    ADD_FAILURE() << r.status();
    return offs;
  }
  Record rec;
  while ((*r)->Next(&rec).ok()) offs.push_back(rec.offset);
  EXPECT_EQ(offs.size(), n);
  return offs;
}

// The sequences a new reader serves from `from` to the end of data (each
// payload checked against AppendAndLocate's), and how many DataLoss
// reports came between them.
std::vector<uint64_t> ServedFrom(const std::string& dir, uint64_t from, int* losses) {
  std::vector<uint64_t> served;
  *losses = 0;
  absl::StatusOr<std::unique_ptr<Reader>> opened = Reader::Open(dir);
  if (!opened.ok()) {
    ADD_FAILURE() << opened.status();
    return served;
  }
  Reader* r = opened->get();
  EXPECT_TRUE(r->SeekToSequence(from).ok());
  Record rec;
  for (int i = 0; i < 20; ++i) {
    absl::Status s = r->Next(&rec);
    if (IsEndOfData(s)) break;
    if (absl::IsDataLoss(s)) {
      ++*losses;
      continue;
    }
    EXPECT_TRUE(s.ok()) << s;
    if (!s.ok()) break;
    EXPECT_EQ(rec.payload, PayloadFor(rec.sequence, 100));
    served.push_back(rec.sequence);
  }
  return served;
}

// Found by fuzz/segment_fuzzer (corpus crash-forged-sequence-hides-later-
// frames): a whole frame with a valid checksum but a sequence far ahead of
// its place (copied or forged there) was believed, "sequences 3..999
// missing", and every real frame after it, below 1000, was never served.
TEST(ReaderDamage, AFrameOutOfPlaceAheadDoesNotHideTheFramesAfterIt) {
  testing::TempDir tmp;
  const std::vector<uint64_t> offs = AppendAndLocate(tmp.path(), 6);
  ASSERT_EQ(offs.size(), 6u);
  // Frame 3 becomes a whole frame of sequence 1000, of the same size.
  std::string forged(offs[3] - offs[2], '\0');
  EncodeFrame(forged.data(), 1000, 1, "d", "", PayloadFor(3, 100));
  testing::WriteFileAt(SegPath(tmp.path(), 1), offs[2], forged);
  for (const uint64_t from : {uint64_t{1}, uint64_t{5}}) {
    int losses = 0;
    const std::vector<uint64_t> served = ServedFrom(tmp.path(), from, &losses);
    const std::vector<uint64_t> want = from == 1 ? std::vector<uint64_t>{1, 2, 4, 5, 6} : std::vector<uint64_t>{5, 6};
    EXPECT_EQ(served, want) << "from " << from;
    EXPECT_EQ(losses, 1) << "from " << from;  // the out-of-place frame, reported once
  }
}

// Found by fuzz/segment_fuzzer: after a damaged frame the reader resumed at
// the first whole frame with a later sequence, and a forged one (a valid
// checksum over a sequence far ahead) right after the damage made it look
// only for sequences beyond that: every real frame after it was lost. The
// resync now resumes at a later frame carrying one of the sequences the
// forged one would skip, as Next does for a frame out of place.
TEST(ReaderDamage, AFrameOutOfPlaceAfterDamageDoesNotHideTheFramesAfterIt) {
  testing::TempDir tmp;
  const std::vector<uint64_t> offs = AppendAndLocate(tmp.path(), 7);
  ASSERT_EQ(offs.size(), 7u);
  // Frame 2's flags damaged; frame 3 a whole frame of sequence 10^12.
  std::string flags(4, '\0');
  EncodeFixed32(flags.data(), 1u << 24);
  testing::WriteFileAt(SegPath(tmp.path(), 1), offs[1] + 4, flags);
  std::string forged(offs[3] - offs[2], '\0');
  EncodeFrame(forged.data(), 1'000'000'000'000, 1, "d", "", PayloadFor(3, 100));
  testing::WriteFileAt(SegPath(tmp.path(), 1), offs[2], forged);
  int losses = 0;
  EXPECT_EQ(ServedFrom(tmp.path(), 1, &losses), (std::vector<uint64_t>{1, 4, 5, 6, 7}));
  EXPECT_GE(losses, 1);
}

// Found by fuzz/segment_fuzzer: a seek skips the frames before its target on
// their lengths alone (no checksum). A frame whose length was damaged sent
// the skip past the target, into the middle of a later frame, and the
// target, intact, was never served. Now the skipped frames are walked
// again, checked, and only the damaged one is lost.
TEST(ReaderDamage, ASkipOverADamagedLengthDoesNotLoseTheFramesAfterIt) {
  testing::TempDir tmp;
  std::vector<uint64_t> offs;
  {
    auto log = Build(tmp.path(), 10);
    auto r = *Reader::Open(tmp.path());
    Record rec;
    while (r->Next(&rec).ok()) offs.push_back(rec.offset);
    ASSERT_TRUE(log->Close().ok());
  }
  ASSERT_EQ(offs.size(), 10u);
  // Frame 3's length now runs into the middle of frame 6.
  std::string len(4, '\0');
  EncodeFixed32(len.data(), static_cast<uint32_t>(offs[5] + 16 - offs[2]));
  testing::WriteFileAt(SegPath(tmp.path(), 1), offs[2], len);
  for (uint64_t target : {4u, 5u, 6u}) {
    auto r = *Reader::Open(tmp.path());
    ASSERT_TRUE(r->SeekToSequence(target).ok());
    Record rec;
    absl::Status s = r->Next(&rec);
    for (int i = 0; i < 4 && absl::IsDataLoss(s); ++i) s = r->Next(&rec);  // frame 3, reported
    ASSERT_TRUE(s.ok()) << "seek to " << target << ": " << s;
    EXPECT_EQ(rec.sequence, target);
    EXPECT_EQ(rec.payload, PayloadFor(target, target % 2000));
  }
  // Read from the start: only frame 3 is lost.
  auto r = *Reader::Open(tmp.path());
  Record rec;
  std::vector<uint64_t> served;
  for (int i = 0; i < 40; ++i) {
    absl::Status s = r->Next(&rec);
    if (IsEndOfData(s)) break;
    if (s.ok()) served.push_back(rec.sequence);
  }
  EXPECT_EQ(served, (std::vector<uint64_t>{1, 2, 4, 5, 6, 7, 8, 9, 10}));
}

// Found by fuzz/segment_fuzzer: after damage (here a zeroed page, as a
// lost write leaves it) the reader looked only for a frame with a later
// sequence than the one it expected, so the intact frame carrying exactly
// that sequence, right after the damage, was lost.
TEST(ReaderDamage, TheFrameCarryingTheExpectedSequenceAfterDamageIsServed) {
  testing::TempDir tmp;
  std::vector<uint64_t> offs;
  uint64_t end = 0;
  {
    auto log = Build(tmp.path(), 5);
    auto r = *Reader::Open(tmp.path());
    Record rec;
    while (r->Next(&rec).ok()) {
      offs.push_back(rec.offset);
      end = rec.offset + rec.frame_bytes;
    }
    ASSERT_TRUE(log->Close().ok());
  }
  ASSERT_EQ(offs.size(), 5u);
  // Frames 3..5 move one page on; the page they leave is zero.
  const std::string path = SegPath(tmp.path(), 1);
  std::string tail(end - offs[2], '\0');
  {
    std::ifstream in(path, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offs[2]));
    in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  }
  testing::WriteFileAt(path, offs[2] + 4096, tail);
  testing::WriteFileAt(path, offs[2], std::string(4096, '\0'));
  std::string word(8, '\0');
  EncodeFixed64(word.data(), end + 4096);
  testing::WriteFileAt(path, kSegmentCommittedEndOffset, word);

  auto r = *Reader::Open(tmp.path());
  Record rec;
  std::vector<uint64_t> served;
  int reports = 0;
  for (int i = 0; i < 20; ++i) {
    absl::Status s = r->Next(&rec);
    if (IsEndOfData(s)) break;
    if (absl::IsDataLoss(s)) {
      ++reports;
      EXPECT_NE(s.message().find("no sequence lost"), absl::string_view::npos) << s;
      continue;
    }
    ASSERT_TRUE(s.ok()) << s;
    served.push_back(rec.sequence);
  }
  EXPECT_EQ(served, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(reports, 1);  // the zeroed bytes are reported, never skipped silently
}

// Regression (review finding 5): a following segment that cannot be opened
// is reported once and skipped; reading goes on and ends.
TEST(ReaderDamage, UnreadableSegmentIsSkipped) {
  testing::TempDir tmp;
  { auto log = Build(tmp.path(), 5000); ASSERT_TRUE(log->Close().ok()); }
  const std::vector<uint64_t> bases = testing::SegmentBases(tmp.path());
  ASSERT_GE(bases.size(), 3u);
  testing::WriteFileAt(SegPath(tmp.path(), bases[1]), 0, "XXXXXXXX");  // magic
  auto r = *Reader::Open(tmp.path());
  Record rec;
  uint64_t ok = 0, errors = 0, last = 0;
  for (int i = 0; i < 20000; ++i) {
    absl::Status s = r->Next(&rec);
    if (IsEndOfData(s)) break;
    if (!s.ok()) {
      ++errors;
      continue;
    }
    ++ok;
    last = rec.sequence;
  }
  EXPECT_EQ(last, 5000u);
  EXPECT_LE(errors, 2u);  // the bad segment, and the gap it leaves
  EXPECT_GE(errors, 1u);
  EXPECT_EQ(ok, 5000u - (bases[2] - bases[1]));
}

}  // namespace
}  // namespace shortbus::engine

namespace shortbus::engine {
namespace {

// Segment `base` of the stream in `a` replaced, by rename, with the
// segment of the same name of the stream in `b` (another identity).
void ReplaceSegment(const testing::TempDir& a, const testing::TempDir& b, uint64_t base) {
  std::filesystem::copy_file(b.Sub(SegmentFileName(base)), a.Sub("replacement.tmp"));
  std::filesystem::rename(a.Sub("replacement.tmp"), a.Sub(SegmentFileName(base)));
}

// Segments a reader left stay mapped for seeks back, but a file replaced
// under the same name is never served from the old mapping.
TEST(ReaderParked, SeeksBackReuseMappingsButNotAReplacedFile) {
  testing::TempDir a, b;
  { auto log = Build(a.path(), 5000); ASSERT_TRUE(log->Close().ok()); }
  { auto log = Build(b.path(), 5000); ASSERT_TRUE(log->Close().ok()); }
  const std::vector<uint64_t> bases = testing::SegmentBases(a.path());
  ASSERT_GE(bases.size(), 3u);
  auto r = *Reader::Open(a.path());
  for (int round = 0; round < 3; ++round) {
    for (uint64_t base : bases) {
      ASSERT_TRUE(r->SeekToSequence(base + 1).ok());
      ASSERT_EQ(NextSeq(r.get()), base + 1);
    }
  }
  // Segment 2 of stream a replaced by segment 2 of stream b (another identity).
  ReplaceSegment(a, b, bases[1]);
  ASSERT_TRUE(r->SeekToSequence(bases[0] + 1).ok());  // leave it, then come back
  ASSERT_EQ(NextSeq(r.get()), bases[0] + 1);
  absl::Status s = r->SeekToSequence(bases[1] + 1);
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
}

// Counts directory listings; everything else is the real file system.
class ListCountingFs : public FileSystem {
 public:
  absl::StatusOr<std::vector<std::string>> List(const std::string& dir) override {
    ++lists;
    return FileSystem::List(dir);
  }
  int lists = 0;
};

TEST(ReaderParked, ReadingIntoTheNextSegmentDoesNotListTheDirectory) {
  testing::TempDir d;
  { auto log = Build(d.path(), 5000); ASSERT_TRUE(log->Close().ok()); }
  const std::vector<uint64_t> bases = testing::SegmentBases(d.path());
  ASSERT_GE(bases.size(), 3u);
  ListCountingFs fs;
  auto r = *Reader::Open(d.path(), {.fs = &fs});
  ASSERT_TRUE(r->SeekToSequence(1).ok());
  const int lists_after_seek = fs.lists;
  for (uint64_t want = 1; want <= 5000; ++want) ASSERT_EQ(NextSeq(r.get()), want);
  EXPECT_EQ(fs.lists, lists_after_seek) << "segments crossed: " << bases.size() - 1;
  // A seek back parks the last segment; reading on takes it back.
  ASSERT_TRUE(r->SeekToSequence(bases[1] - 1).ok());
  ASSERT_EQ(NextSeq(r.get()), bases[1] - 1);
  ASSERT_EQ(NextSeq(r.get()), bases[1]);
}

TEST(ReaderParked, ANextSegmentOfAnotherStreamIsStillReported) {
  testing::TempDir a, b;
  { auto log = Build(a.path(), 5000); ASSERT_TRUE(log->Close().ok()); }
  { auto log = Build(b.path(), 5000); ASSERT_TRUE(log->Close().ok()); }
  const std::vector<uint64_t> bases = testing::SegmentBases(a.path());
  ASSERT_GE(bases.size(), 3u);
  ReplaceSegment(a, b, bases[1]);
  auto r = *Reader::Open(a.path());
  ASSERT_TRUE(r->SeekToSequence(bases[1] - 1).ok());
  ASSERT_EQ(NextSeq(r.get()), bases[1] - 1);
  Record rec;
  absl::Status s = r->Next(&rec);
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
}

}  // namespace
}  // namespace shortbus::engine
