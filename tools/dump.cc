#include "tools/dump.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "engine/reader.h"
#include "tools/json_escape.h"

namespace shortbus::tools {
namespace {

std::string Rfc3339(int64_t ts_ns) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", absl::FromUnixNanos(ts_ns), absl::UTCTimeZone());
}

// Printable ASCII as is; anything else as \xNN, so one record is one line.
std::string Printable(std::string_view s) {
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(ch);
    } else if (c == '\\') {
      out += "\\\\";
    } else {
      absl::StrAppendFormat(&out, "\\x%02x", c);
    }
  }
  return out;
}

}  // namespace

std::string FormatRecordText(uint64_t seq, int64_t ts_ns, std::string_view subject, std::string_view headers,
                             std::string_view payload) {
  std::string line = absl::StrCat(seq, "  ", Rfc3339(ts_ns), "  ", Printable(subject), "  ");
  if (!headers.empty()) absl::StrAppend(&line, "headers ", Printable(headers), "  ");
  absl::StrAppend(&line, payload.size(), " B  ", Printable(payload));
  return line;
}

std::string FormatRecordJson(uint64_t seq, int64_t ts_ns, std::string_view subject, std::string_view headers,
                             std::string_view payload) {
  std::string j = absl::StrCat("{\"seq\":", seq, ",\"time\":\"", Rfc3339(ts_ns), "\",");
  AppendMessageJsonFields(&j, subject, headers, payload);
  j += "}";
  return j;
}

int Dump(const std::string& data_dir, const std::string& stream, const DumpOptions& options, FILE* out,
         FILE* err) {
  std::string dir = absl::StrCat(data_dir, "/streams/", stream);
  if (!std::filesystem::exists(dir + "/STREAM") && std::filesystem::exists(data_dir + "/STREAM")) {
    dir = data_dir;  // DIR is the stream's own directory
  }
  absl::StatusOr<std::unique_ptr<engine::Reader>> r = engine::Reader::Open(dir);
  if (!r.ok()) {
    std::fprintf(err, "shortbus dump: %s\n", std::string(r.status().message()).c_str());
    return 1;
  }
  if (absl::Status s = (*r)->SeekToSequence(options.from_seq); !s.ok()) {
    std::fprintf(err, "shortbus dump: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  engine::Record rec;
  uint64_t printed = 0;
  while (true) {
    absl::Status s = (*r)->Next(&rec);
    if (engine::IsEndOfData(s)) break;
    if (!s.ok()) {
      std::fprintf(err, "shortbus dump: %s\n", std::string(s.message()).c_str());
      if (absl::IsDataLoss(s)) continue;  // reported; the reader has moved past it
      return 1;
    }
    const std::string line = options.json
                                 ? FormatRecordJson(rec.sequence, rec.timestamp_ns, rec.subject, rec.headers, rec.payload)
                                 : FormatRecordText(rec.sequence, rec.timestamp_ns, rec.subject, rec.headers, rec.payload);
    std::fprintf(out, "%s\n", line.c_str());
    ++printed;
  }
  return printed > 0 ? 0 : 2;
}

}  // namespace shortbus::tools
