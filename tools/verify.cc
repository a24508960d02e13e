#include "tools/verify.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "engine/file_system.h"
#include "engine/frame.h"
#include "engine/segment_file.h"
#include "engine/segment_header.h"
#include "engine/segment_scan.h"
#include "engine/stream_meta.h"

namespace shortbus::tools {
namespace {

namespace fs = std::filesystem;
using engine::DefaultFileSystem;

struct SegmentName {
  uint64_t base;
  std::string path;
  uint64_t size;
};

void VerifyStream(const std::string& dir, VerifyReport* report,
                  const std::function<void(uint64_t)>& advance) {
  auto problem = [&](std::string where, std::string what) {
    report->findings.push_back({true, std::move(where), std::move(what)});
  };
  auto note = [&](std::string where, std::string what) {
    report->findings.push_back({false, std::move(where), std::move(what)});
  };
  ++report->streams;
  absl::StatusOr<engine::StreamMeta> meta = engine::StreamMeta::OpenForRead(DefaultFileSystem(), dir);
  if (!meta.ok()) {
    problem(dir, std::string(meta.status().message()));
    return;
  }
  std::vector<SegmentName> segments;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    uint64_t base;
    if (engine::ParseSegmentFileName(name, &base)) {
      segments.push_back({base, e.path().string(), e.file_size(ec)});
    } else if (name.find(".tail-") != std::string::npos || name.find(".bad") != std::string::npos) {
      note(e.path().string(), "kept by an earlier recovery (inspect, then delete)");
    }
  }
  std::sort(segments.begin(), segments.end(), [](const auto& a, const auto& b) { return a.base < b.base; });
  uint64_t prev_last = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    const SegmentName& s = segments[i];
    const bool is_last = i + 1 == segments.size();
    absl::StatusOr<engine::SegmentFile> f = engine::SegmentFile::Open(DefaultFileSystem(), s.path, false);
    if (!f.ok()) {
      problem(s.path, std::string(f.status().message()));
      advance(s.size);
      continue;
    }
    ++report->segments;
    engine::SegmentIdentity id;
    if (absl::Status hs = engine::DecodeSegmentIdentity(f->data(), s.path, &id); !hs.ok()) {
      problem(s.path, std::string(hs.message()));
      advance(s.size);
      continue;
    }
    if (id.stream_id != meta->id()) problem(s.path, "belongs to another stream");
    if (id.base_seq != s.base) problem(s.path, absl::StrCat("header says base sequence ", id.base_seq));
    if (prev_last != 0 && s.base != prev_last + 1) {
      problem(s.path, absl::StrCat("sequences ", prev_last + 1, "..", s.base - 1, " are missing before it"));
    }
    engine::SyncRecord rec;
    const bool rec_ok = engine::DecodeSyncRecord(f->data(), &rec);
    engine::ScanResult r = engine::ScanFrames(f->data(), f->size(), engine::kSegmentDataOffset, s.base, 0);
    report->frames += r.frames;
    report->bytes += r.end - engine::kSegmentDataOffset;
    advance(s.size);
    const std::string at = absl::StrCat(s.path, " offset ", r.end);
    const std::string why = r.sequence_break ? std::string("frame out of sequence")
                                             : std::string(engine::FrameStatusName(r.stop));
    const bool stopped_on_damage = r.stop != engine::FrameStatus::kEnd;
    if (rec_ok && r.end < rec.synced_end) {
      problem(at, absl::StrCat(why, " inside data recorded durable (up to offset ", rec.synced_end,
                               "): sequences from ", r.last_seq + 1, " unreadable"));
    } else if (stopped_on_damage && !is_last) {
      problem(at, absl::StrCat(why, " in a segment that is not the last"));
    } else if (stopped_on_damage) {
      note(at, absl::StrCat(why, ": an unrecovered tail (a writer died); the next open cuts it"));
    } else if (rec_ok && rec.sealed && r.end != rec.synced_end) {
      problem(at, absl::StrCat("sealed at offset ", rec.synced_end, " but frames end here"));
    }
    prev_last = r.last_seq;
  }
}

}  // namespace

bool VerifyReport::clean() const {
  return std::none_of(findings.begin(), findings.end(), [](const VerifyFinding& f) { return f.problem; });
}

VerifyReport Verify(const std::string& dir, const std::function<void(uint64_t, uint64_t)>& progress) {
  VerifyReport report;
  std::vector<std::string> streams;
  std::error_code ec;
  if (fs::exists(fs::path(dir) / engine::kStreamMetaFile, ec)) {
    streams.push_back(dir);
  } else if (fs::is_directory(fs::path(dir) / "streams", ec)) {
    for (const auto& e : fs::directory_iterator(fs::path(dir) / "streams", ec)) {
      if (e.is_directory()) streams.push_back(e.path().string());
    }
    std::sort(streams.begin(), streams.end());
  } else {
    report.findings.push_back({true, dir, "not a shortbus data directory (no streams/) nor a stream (no STREAM)"});
    return report;
  }
  uint64_t total = 0, done = 0;
  for (const std::string& s : streams) {
    for (const auto& e : fs::directory_iterator(s, ec)) {
      uint64_t base;
      if (engine::ParseSegmentFileName(e.path().filename().string(), &base)) total += e.file_size(ec);
    }
  }
  for (const std::string& s : streams) {
    VerifyStream(s, &report, [&](uint64_t n) {
      done += n;
      if (progress) progress(done, total);
    });
  }
  return report;
}

}  // namespace shortbus::tools
