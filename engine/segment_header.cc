#include "engine/segment_header.h"

#include <cstring>

#include <xxhash.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/coding.h"

namespace shortbus::engine {
namespace {
constexpr char kMagic[8] = {'S', 'H', 'B', 'U', 'S', 'S', 'E', 'G'};
constexpr size_t kIdentityLen = 56;
}  // namespace

std::string StreamIdHex(const StreamId& id) {
  std::string s;
  for (uint8_t b : id) absl::StrAppendFormat(&s, "%02x", b);
  return s;
}

void EncodeSegmentIdentity(char* hdr, const SegmentIdentity& id) {
  std::memset(hdr, 0, kSegmentDataOffset);
  std::memcpy(hdr, kMagic, sizeof kMagic);
  EncodeFixed32(hdr + 8, kSegmentFormatVersion);
  EncodeFixed32(hdr + 12, static_cast<uint32_t>(kSegmentDataOffset));
  std::memcpy(hdr + 16, id.stream_id.data(), id.stream_id.size());
  EncodeFixed64(hdr + 32, id.base_seq);
  EncodeFixed64(hdr + 40, static_cast<uint64_t>(id.created_ns));
  EncodeFixed64(hdr + 48, id.segment_size);
  EncodeFixed64(hdr + 56, XXH3_64bits(hdr, kIdentityLen));
}

absl::Status DecodeSegmentIdentity(const char* hdr, const std::string& path, SegmentIdentity* out) {
  if (std::memcmp(hdr, kMagic, sizeof kMagic) != 0) {
    return absl::DataLossError(absl::StrCat("segment ", path, ": bad magic (not a shortbus segment)"));
  }
  if (DecodeFixed64(hdr + 56) != XXH3_64bits(hdr, kIdentityLen)) {
    return absl::DataLossError(absl::StrCat("segment ", path, ": header checksum mismatch"));
  }
  const uint32_t version = DecodeFixed32(hdr + 8);
  if (version != kSegmentFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat("segment ", path, ": format version ", version,
                                                      ", this build reads version ",
                                                      kSegmentFormatVersion));
  }
  if (DecodeFixed32(hdr + 12) != kSegmentDataOffset) {
    return absl::DataLossError(absl::StrCat("segment ", path, ": bad data offset"));
  }
  std::memcpy(out->stream_id.data(), hdr + 16, out->stream_id.size());
  out->base_seq = DecodeFixed64(hdr + 32);
  out->created_ns = static_cast<int64_t>(DecodeFixed64(hdr + 40));
  out->segment_size = DecodeFixed64(hdr + 48);
  if (out->base_seq == 0) {
    return absl::DataLossError(absl::StrCat("segment ", path, ": base sequence 0"));
  }
  return absl::OkStatus();
}

void EncodeSyncRecord(char* hdr, const SyncRecord& rec) {
  char buf[kSegmentSyncRecordSize];
  EncodeFixed64(buf + 0, rec.synced_end);
  EncodeFixed64(buf + 8, rec.last_seq);
  EncodeFixed64(buf + 16, static_cast<uint64_t>(rec.last_ts));
  EncodeFixed32(buf + 24, (rec.sealed ? kSyncFlagSealed : 0) | (rec.clean ? kSyncFlagClean : 0));
  EncodeFixed32(buf + 28, 0);
  EncodeFixed64(buf + 32, XXH3_64bits(buf, 32));
  std::memcpy(hdr + kSegmentSyncRecordOffset, buf, sizeof buf);
}

bool DecodeSyncRecord(const char* hdr, SyncRecord* out) {
  const char* p = hdr + kSegmentSyncRecordOffset;
  if (DecodeFixed64(p + 32) != XXH3_64bits(p, 32)) return false;
  const uint32_t flags = DecodeFixed32(p + 24);
  if ((flags & ~(kSyncFlagSealed | kSyncFlagClean)) != 0) return false;
  out->synced_end = DecodeFixed64(p + 0);
  out->last_seq = DecodeFixed64(p + 8);
  out->last_ts = static_cast<int64_t>(DecodeFixed64(p + 16));
  out->sealed = (flags & kSyncFlagSealed) != 0;
  out->clean = (flags & kSyncFlagClean) != 0;
  return true;
}

std::string SegmentFileName(uint64_t base_seq) { return absl::StrFormat("%020u.seg", base_seq); }

bool ParseSegmentFileName(const std::string& name, uint64_t* base_seq) {
  if (name.size() != 24 || name.compare(20, 4, ".seg") != 0) return false;
  uint64_t v = 0;
  for (int i = 0; i < 20; ++i) {
    char c = name[static_cast<size_t>(i)];
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (v == 0) return false;
  *base_seq = v;
  return true;
}

}  // namespace shortbus::engine
