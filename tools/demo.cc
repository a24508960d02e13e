// shortbus-demo: what `make run` starts until shortbusd exists. Opens the
// data directory (catalogue, logs, index), appends to stream "demo" and
// replays the last messages through the index, printing what it did.
//
// usage: shortbus-demo [DATA_DIR] [COUNT]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "engine/reader.h"
#include "index/store.h"

int main(int argc, char** argv) {
  const std::string data = argc > 1 ? argv[1] : "./data";
  const long count = argc > 2 ? std::strtol(argv[2], nullptr, 10) : 5;
  shortbus::index::StoreOptions options;
  options.reporter = [](const shortbus::engine::CorruptionReport& r) {
    std::fprintf(stderr, "recovery: %s: %s\n", r.file.c_str(), r.reason.c_str());
  };
  absl::StatusOr<std::unique_ptr<shortbus::index::Store>> store = shortbus::index::Store::Open(data, options);
  if (!store.ok()) {
    std::fprintf(stderr, "open %s: %s\n", data.c_str(), std::string(store.status().message()).c_str());
    return 1;
  }
  shortbus::index::StreamConfig config;
  config.name = "demo";
  config.subjects = {"demo.>"};
  absl::StatusOr<shortbus::index::StoredStream*> stream = (*store)->CreateStream(config);
  if (!stream.ok()) {
    std::fprintf(stderr, "stream demo: %s\n", std::string(stream.status().message()).c_str());
    return 1;
  }
  shortbus::index::StoredStream* s = *stream;
  const uint64_t before = s->log().last_seq();
  std::printf("opened %s: stream demo holds sequences %llu..%llu (recovery read %llu frames, index at %llu)\n",
              data.c_str(), static_cast<unsigned long long>(s->log().first_seq()),
              static_cast<unsigned long long>(before),
              static_cast<unsigned long long>(s->log().recovery().frames_scanned),
              static_cast<unsigned long long>(s->indexed_seq()));
  for (long i = 0; i < count; ++i) {
    const std::string payload = absl::StrCat("hello #", before + static_cast<uint64_t>(i) + 1);
    absl::StatusOr<uint64_t> seq = s->Append({"demo.greeting", "", payload, 0});
    if (!seq.ok()) {
      std::fprintf(stderr, "append: %s\n", std::string(seq.status().message()).c_str());
      return 1;
    }
    std::printf("appended seq %llu: %s\n", static_cast<unsigned long long>(*seq), payload.c_str());
  }
  if (absl::Status st = s->log().Sync(); !st.ok()) {
    std::fprintf(stderr, "sync: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  std::printf("durable through seq %llu, indexed through seq %llu\n",
              static_cast<unsigned long long>(s->log().durable_seq()),
              static_cast<unsigned long long>(s->indexed_seq()));
  absl::StatusOr<std::unique_ptr<shortbus::engine::Reader>> reader = shortbus::engine::Reader::Open(s->dir());
  if (!reader.ok()) {
    std::fprintf(stderr, "reader: %s\n", std::string(reader.status().message()).c_str());
    return 1;
  }
  const uint64_t from = s->log().last_seq() > 5 ? s->log().last_seq() - 4 : 1;
  (void)s->Seek(reader->get(), from);
  std::printf("replay from seq %llu (one index lookup):\n", static_cast<unsigned long long>(from));
  shortbus::engine::Record rec;
  while (true) {
    absl::Status st = (*reader)->Next(&rec);
    if (shortbus::engine::IsEndOfData(st)) break;
    if (!st.ok()) {
      std::fprintf(stderr, "read: %s\n", std::string(st.message()).c_str());
      continue;
    }
    std::printf("  seq %llu  %.*s  %.*s\n", static_cast<unsigned long long>(rec.sequence),
                static_cast<int>(rec.subject.size()), rec.subject.data(), static_cast<int>(rec.payload.size()),
                rec.payload.data());
  }
  return (*store)->Close().ok() ? 0 : 1;
}
