// `shortbus dump`: prints the records of one stream of a data directory,
// without a server.
#ifndef SHORTBUS_TOOLS_DUMP_H_
#define SHORTBUS_TOOLS_DUMP_H_

#include <cstdint>
#include <cstdio>
#include <string>

namespace shortbus::tools {

struct DumpOptions {
  uint64_t from_seq = 0;
  bool json = false;
};

// Writes the records to `out`, problems to `err`. Returns the exit code:
// 0 records printed, 2 none to print, 1 an error (no such stream, ...).
int Dump(const std::string& data_dir, const std::string& stream, const DumpOptions& options, FILE* out,
         FILE* err);

// One record as a human reads it, and as a JSON object.
std::string FormatRecordText(uint64_t seq, int64_t ts_ns, std::string_view subject, std::string_view headers,
                             std::string_view payload);
std::string FormatRecordJson(uint64_t seq, int64_t ts_ns, std::string_view subject, std::string_view headers,
                             std::string_view payload);

}  // namespace shortbus::tools

#endif  // SHORTBUS_TOOLS_DUMP_H_
