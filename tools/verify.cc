#include "tools/verify.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "engine/file_system.h"
#include "engine/coding.h"
#include "engine/frame.h"
#include "engine/segment_file.h"
#include "engine/segment_header.h"
#include "engine/segment_scan.h"
#include "engine/reader.h"
#include "engine/stream_meta.h"
#include "index/catalog.h"
#include "index/databases.h"
#include "index/keys.h"
#include "index/lmdb_env.h"
#include "index/stream_index.h"

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
  // As recovery reads it (docs/format.md, "Recovery"): after a segment with
  // no sealed record on disk nothing was ever durable, so a gap or a bad
  // segment there is the tail of a power cut, which the next open sets
  // aside: a note. After a sealed segment it is damage: a problem.
  bool prev_unsealed = false;
  bool lost_tail = false;
  auto tail = [&](const std::string& where, const std::string& what) {
    note(where, absl::StrCat(what, ": a tail a power cut left (its segment before was never sealed); the next "
                                   "open sets it and what follows aside"));
    lost_tail = true;
  };
  for (size_t i = 0; i < segments.size(); ++i) {
    const SegmentName& s = segments[i];
    const bool is_last = i + 1 == segments.size();
    if (lost_tail) {
      tail(s.path, "follows a lost tail");
      advance(s.size);
      continue;
    }
    absl::StatusOr<engine::SegmentFile> f = engine::SegmentFile::Open(DefaultFileSystem(), s.path, false);
    if (!f.ok()) {
      if (prev_unsealed) {
        tail(s.path, std::string(f.status().message()));
      } else {
        problem(s.path, std::string(f.status().message()));
      }
      advance(s.size);
      continue;
    }
    ++report->segments;
    engine::SegmentIdentity id;
    if (absl::Status hs = engine::DecodeSegmentIdentity(f->data(), s.path, &id); !hs.ok()) {
      if (prev_unsealed || engine::IsAllZero(f->data(), 0, engine::kSegmentDataOffset)) {
        tail(s.path, std::string(hs.message()));
      } else {
        problem(s.path, std::string(hs.message()));
      }
      advance(s.size);
      continue;
    }
    if (id.stream_id != meta->id()) problem(s.path, "belongs to another stream");
    if (id.base_seq != s.base) problem(s.path, absl::StrCat("header says base sequence ", id.base_seq));
    if (prev_last != 0 && s.base > prev_last + 1 && prev_unsealed) {
      tail(s.path, absl::StrCat("sequences ", prev_last + 1, "..", s.base - 1, " are missing before it"));
      advance(s.size);
      continue;
    }
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
    } else if (stopped_on_damage && !is_last && rec_ok && rec.sealed) {
      problem(at, absl::StrCat(why, " in a sealed segment that is not the last"));
    } else if (stopped_on_damage) {
      note(at, absl::StrCat(why, ": an unrecovered tail (a writer died); the next open cuts it"));
    } else if (rec_ok && rec.sealed && r.end != rec.synced_end) {
      problem(at, absl::StrCat("sealed at offset ", rec.synced_end, " but frames end here"));
    }
    prev_last = r.last_seq;
    prev_unsealed = !(rec_ok && rec.sealed);
  }
}

// Checks the index of a data directory against its logs: every stream is
// known to the catalogue and back, nothing is indexed beyond a log's end,
// every sequence entry points at the frame it names, every subject's last
// sequence is a frame on that subject.
void VerifyIndex(const std::string& data_dir, VerifyReport* report) {
  auto problem = [&](std::string where, std::string what) {
    report->findings.push_back({true, std::move(where), std::move(what)});
  };
  auto note = [&](std::string where, std::string what) {
    report->findings.push_back({false, std::move(where), std::move(what)});
  };
  const std::string index_dir = data_dir + "/index";
  std::error_code ec;
  if (!fs::exists(index_dir + "/data.mdb", ec)) {
    note(index_dir, "no index (the server builds it at start; `shortbus reindex` rebuilds it)");
    return;
  }
  index::EnvOptions eo;
  eo.read_only = true;
  absl::StatusOr<std::unique_ptr<index::LmdbEnv>> env = index::LmdbEnv::Open(
      index_dir, eo, index::IndexDatabases());
  if (!env.ok()) {
    problem(index_dir, std::string(env.status().message()));
    return;
  }
  absl::StatusOr<std::vector<index::CatalogEntry>> entries = index::CatalogList(**env);
  if (!entries.ok()) {
    problem(index_dir, std::string(entries.status().message()));
    return;
  }
  for (const auto& d : fs::directory_iterator(fs::path(data_dir) / "streams", ec)) {
    const std::string name = d.path().filename().string();
    if (std::none_of(entries->begin(), entries->end(), [&](const auto& e) { return e.config.name == name; })) {
      problem(d.path().string(), "stream on disk but not in the index catalogue (`shortbus reindex`)");
    }
  }
  for (const index::CatalogEntry& entry : *entries) {
    const std::string dir = data_dir + "/streams/" + entry.config.name;
    absl::StatusOr<std::unique_ptr<engine::Reader>> reader = engine::Reader::Open(dir);
    if (!reader.ok()) {
      problem(dir, absl::StrCat("in the catalogue, but: ", reader.status().message()));
      continue;
    }
    engine::Record rec;
    uint64_t last = 0;
    if ((*reader)->SeekToLast().ok() && (*reader)->Next(&rec).ok()) last = rec.sequence;
    const uint64_t first = (*reader)->first_seq();
    index::StreamIndex idx(env->get(), entry.stream_no);
    if (absl::Status s = idx.Load(); !s.ok()) {
      problem(dir, absl::StrCat("index: ", s.message()));
      continue;
    }
    const uint64_t indexed = idx.progress().indexed_seq;
    if (indexed > last) {
      problem(dir, absl::StrCat("index claims sequence ", indexed, " beyond the log's last ", last));
    } else if (indexed < last) {
      note(dir, absl::StrCat("index behind the log by ", last - indexed, " messages (indexed at the next open)"));
    }
    // Every sparse sequence entry names a frame that is there.
    std::vector<std::pair<uint64_t, index::IndexPosition>> seq_entries;
    (void)(*env)->Read([&](MDB_txn* txn) -> absl::Status {
      MDB_cursor* cur;
      if (mdb_cursor_open(txn, (*env)->db(index::kSeqDb), &cur) != 0) return absl::OkStatus();
      index::StreamU64Key start(entry.stream_no, 0);
      MDB_val k = start.val(), v;
      for (int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint32_t stream;
        uint64_t seq;
        if (!index::StreamU64Key::Parse(k, &stream, &seq) || stream != entry.stream_no || v.mv_size != 16) break;
        const char* p = static_cast<const char*>(v.mv_data);
        seq_entries.push_back({seq, {seq, engine::DecodeFixed64(p), engine::DecodeFixed64(p + 8)}});
      }
      mdb_cursor_close(cur);
      return absl::OkStatus();
    });
    uint64_t bad_entries = 0;
    for (const auto& [seq, pos] : seq_entries) {
      if (seq < first) continue;  // expired by retention: pruned at the next indexing
      if (!(*reader)->SeekToPosition(pos.segment_base, pos.offset, seq).ok() || !(*reader)->Next(&rec).ok() ||
          rec.sequence != seq || rec.segment_base != pos.segment_base || rec.offset != pos.offset) {
        ++bad_entries;
      }
    }
    if (bad_entries > 0) {
      problem(dir, absl::StrCat(bad_entries, " of ", seq_entries.size(),
                                " sequence index entries do not point at their frame (`shortbus reindex`)"));
    }
    // Every subject's last sequence is a frame on that subject.
    uint64_t bad_subjects = 0, subjects = 0;
    idx.ForEachSubject([&](const std::string& subject, const index::SubjectState& st) {
      ++subjects;
      if (st.last_seq < first) return;
      if (st.last_seq > last || !(*reader)->SeekToSequence(st.last_seq).ok() || !(*reader)->Next(&rec).ok() ||
          rec.sequence != st.last_seq || rec.subject != subject) {
        ++bad_subjects;
      }
    });
    if (bad_subjects > 0) {
      problem(dir, absl::StrCat(bad_subjects, " of ", subjects, " subjects' last sequences are wrong (`shortbus reindex`)"));
    }
    // Every segment record of a retained segment names a file whose first
    // frame carries the record's first sequence.
    absl::StatusOr<std::vector<index::SegmentInfo>> table = idx.Segments();
    if (!table.ok()) {
      problem(dir, absl::StrCat("segment table: ", table.status().message()));
      continue;
    }
    uint64_t bad_segments = 0;
    for (const index::SegmentInfo& g : *table) {
      if (g.last_seq < first) continue;  // expired: pruned at the next indexing
      if (g.last_seq > last || !fs::exists(fs::path(dir) / g.file, ec) ||
          !(*reader)->SeekToPosition(g.base, engine::kSegmentDataOffset, g.first_seq).ok() ||
          !(*reader)->Next(&rec).ok() || rec.segment_base != g.base ||
          (rec.sequence != g.first_seq && g.first_seq >= first)) {
        ++bad_segments;
      }
    }
    if (bad_segments > 0) {
      problem(dir, absl::StrCat(bad_segments, " of ", table->size(),
                                " segment table records do not match the segment files (`shortbus reindex`)"));
    }
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
  if (!fs::exists(fs::path(dir) / engine::kStreamMetaFile, ec)) VerifyIndex(dir, &report);
  return report;
}

}  // namespace shortbus::tools
