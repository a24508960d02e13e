// shortbus-engine-demo: appends messages to a stream and replays them,
// printing what it did. What `make run` starts until shortbusd exists.
//
// usage: shortbus-engine-demo [DATA_DIR] [COUNT]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "engine/log.h"
#include "engine/reader.h"

using shortbus::engine::Log;
using shortbus::engine::LogOptions;
using shortbus::engine::Message;
using shortbus::engine::Reader;
using shortbus::engine::Record;

int main(int argc, char** argv) {
  const std::string data = argc > 1 ? argv[1] : "./data";
  const long count = argc > 2 ? std::strtol(argv[2], nullptr, 10) : 5;
  const std::string dir = data + "/streams/demo";
  LogOptions opt;
  opt.reporter = [](const shortbus::engine::CorruptionReport& r) {
    std::fprintf(stderr, "recovery: %s: %s\n", r.file.c_str(), r.reason.c_str());
  };
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(dir, opt);
  if (!log.ok()) {
    std::fprintf(stderr, "open %s: %s\n", dir.c_str(), std::string(log.status().message()).c_str());
    return 1;
  }
  const uint64_t before = (*log)->last_seq();
  std::printf("opened stream %s: sequences %llu..%llu, recovery scanned %llu frames\n", dir.c_str(),
              static_cast<unsigned long long>((*log)->first_seq()),
              static_cast<unsigned long long>(before),
              static_cast<unsigned long long>((*log)->recovery().frames_scanned));
  for (long i = 0; i < count; ++i) {
    std::string payload = absl::StrCat("hello #", before + static_cast<uint64_t>(i) + 1);
    absl::StatusOr<uint64_t> seq = (*log)->Append(Message{"demo.greeting", "", payload, 0});
    if (!seq.ok()) {
      std::fprintf(stderr, "append: %s\n", std::string(seq.status().message()).c_str());
      return 1;
    }
    std::printf("appended seq %llu: %s\n", static_cast<unsigned long long>(*seq), payload.c_str());
  }
  if (absl::Status s = (*log)->Sync(); !s.ok()) {
    std::fprintf(stderr, "sync: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::printf("durable through seq %llu\n", static_cast<unsigned long long>((*log)->durable_seq()));
  absl::StatusOr<std::unique_ptr<Reader>> reader = Reader::Open(dir);
  if (!reader.ok()) {
    std::fprintf(stderr, "reader: %s\n", std::string(reader.status().message()).c_str());
    return 1;
  }
  (void)(*reader)->SeekToSequence(before + 1 > 3 ? before - 2 : 1);
  Record rec;
  std::printf("replay:\n");
  while (true) {
    absl::Status s = (*reader)->Next(&rec);
    if (shortbus::engine::IsEndOfData(s)) break;
    if (!s.ok()) {
      std::fprintf(stderr, "read: %s\n", std::string(s.message()).c_str());
      continue;
    }
    std::printf("  seq %llu  %.*s  %.*s\n", static_cast<unsigned long long>(rec.sequence),
                static_cast<int>(rec.subject.size()), rec.subject.data(),
                static_cast<int>(rec.payload.size()), rec.payload.data());
  }
  return (*log)->Close().ok() ? 0 : 1;
}
