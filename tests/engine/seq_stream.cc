#include "tests/engine/seq_stream.h"

#include <xxhash.h>

#include <gtest/gtest.h>

#include <memory>

#include "engine/reader.h"
#include "tests/engine/child_process.h"
#include "tests/engine/test_util.h"

namespace shortbus::engine::testing {

size_t PickLength(uint64_t h, const LengthMix& m) {
  const uint64_t pick = h % 100;
  if (pick < m.big_pct) return m.big_min + (h >> 8) % m.big_span;
  if (pick < m.big_pct + m.mid_pct) return m.mid_min + (h >> 8) % m.mid_span;
  return 1 + (h >> 8) % m.small_span;
}

size_t LenFor(uint64_t seq) { return PickLength(Mix(seq), {3, 20'000, 180'000, 12, 4'097, 8'000, 300}); }

std::string SubjectFor(uint64_t seq) { return "crash.s" + std::to_string(seq % 7); }

std::string HeadersFor(uint64_t seq) {
  if (seq % 5 != 0) return "";
  return "NATS/1.0\r\nSeq: " + std::to_string(seq) + "\r\n\r\n";
}

OwnedMessage MessageFor(uint64_t seq) {
  return {SubjectFor(seq), HeadersFor(seq), PayloadFor(seq, LenFor(seq))};
}

void VerifyStream(const std::string& dir, bool may_be_absent,
                  std::vector<uint64_t>* payload_hashes, uint64_t* last_out) {
  absl::StatusOr<std::unique_ptr<Reader>> opened = Reader::Open(dir);
  if (may_be_absent && absl::IsNotFound(opened.status())) {
    *last_out = 0;
    return;
  }
  ASSERT_TRUE(opened.ok()) << opened.status();
  Reader& r = **opened;
  ASSERT_TRUE(r.SeekToSequence(1).ok());
  if (payload_hashes->empty()) payload_hashes->push_back(0);  // no sequence 0
  uint64_t expected = 1;
  Record rec;
  while (true) {
    absl::Status s = r.Next(&rec);
    if (IsEndOfData(s)) break;
    ASSERT_TRUE(s.ok()) << "after sequence " << expected - 1 << ": " << s;
    ASSERT_EQ(rec.sequence, expected) << "sequences not contiguous";
    ASSERT_EQ(rec.subject, SubjectFor(rec.sequence)) << "sequence " << rec.sequence;
    ASSERT_EQ(rec.headers, HeadersFor(rec.sequence)) << "sequence " << rec.sequence;
    const uint64_t hash = XXH3_64bits(rec.payload.data(), rec.payload.size());
    if (rec.sequence < payload_hashes->size()) {
      ASSERT_EQ(hash, (*payload_hashes)[rec.sequence])
          << "payload of sequence " << rec.sequence << " changed since it was last read";
    } else {
      const std::string want = PayloadFor(rec.sequence, LenFor(rec.sequence));
      ASSERT_EQ(rec.payload.size(), want.size()) << "sequence " << rec.sequence;
      ASSERT_TRUE(rec.payload == want) << "payload of sequence " << rec.sequence << " differs";
      payload_hashes->push_back(hash);
    }
    ++expected;
  }
  *last_out = expected - 1;
}

}  // namespace shortbus::engine::testing
