// Writes the seed corpora of the fuzz targets into <dir>/<target>/:
//   make_seeds fuzz/corpus
// Segment seeds are real logs written by engine::Log (a fixed clock, so
// the bytes repeat), cut to the end of their last non-zero byte; the
// two-segment seed is a closed log whose segment is sealed and followed by
// a segment made with the engine's own encoders, as a roll leaves them.
// Protocol and API seeds are transcripts of what clients send. Each seed
// starts with the control bytes its target reads (fuzz/README.md).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/coding.h"
#include "engine/frame.h"
#include "engine/log.h"
#include "engine/segment_header.h"

namespace fs = std::filesystem;
using namespace shortbus::engine;

namespace {

constexpr int64_t kNow = int64_t{1'800'000'000} * 1'000'000'000;

void Write(const fs::path& path, std::string_view bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "make_seeds: cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

std::string Read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The file up to its last non-zero byte, rounded up to a frame boundary.
std::string Prefix(std::string bytes) {
  size_t end = bytes.size();
  while (end > 0 && bytes[end - 1] == '\0') --end;
  bytes.resize(std::min(bytes.size(), AlignUp(end, kFrameAlign)));
  return bytes;
}

void Check(const absl::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "make_seeds: %s: %s\n", what, std::string(s.message()).c_str());
    std::exit(1);
  }
}

LogOptions Options(Compression c) {
  LogOptions o;
  o.segment_size = kMinSegmentSize;
  o.sync = SyncMode::kNever;
  o.compression = c;
  o.prefault_window = 0;
  o.precreate_next_segment = false;
  int64_t t = kNow;
  o.clock = [t]() mutable { return t += 1000; };
  return o;
}

void AppendMessages(Log& log, int from, int n, size_t payload_bytes) {
  for (int i = from; i < from + n; ++i) {
    const std::string subject = "orders." + std::to_string(i % 3);
    const std::string headers = i % 4 == 0 ? "NATS/1.0\r\nNats-Msg-Id: m" + std::to_string(i) + "\r\n\r\n" : "";
    std::string payload;
    for (size_t k = 0; k < payload_bytes; ++k) payload += static_cast<char>('a' + (i + k / 16) % 26);
    Message m;
    m.subject = subject;
    m.headers = headers;
    m.payload = i % 5 == 0 ? std::string_view() : std::string_view(payload);
    absl::StatusOr<uint64_t> seq = log.Append(m);
    Check(seq.status(), "append");
  }
}

// Segment seeds: [flags][segment...]; flags 0x09 = rebind identity, grow.
void SegmentSeeds(const fs::path& out, const fs::path& scratch) {
  const std::string first = SegmentFileName(1);
  auto seed = [&](const std::string& name, uint8_t flags, const std::vector<std::string>& segs) {
    std::string bytes(1, static_cast<char>(flags));
    for (const std::string& s : segs) bytes += s;
    Write(out / name, bytes);
  };

  // A log closed cleanly: every frame below a clean sync record.
  const fs::path closed = scratch / "closed";
  {
    auto log = Log::Open(closed, Options(Compression::kNone));
    Check(log.status(), "open closed");
    AppendMessages(**log, 1, 12, 40);
    Check((*log)->Close(), "close");
  }
  const std::string closed_seg = Prefix(Read(closed / first));
  seed("closed", 0x09, {closed_seg});
  seed("closed-resealed", 0x0f, {closed_seg});

  // A log copied while open, as kill -9 leaves it: a sync record behind
  // the frames, which recovery must scan.
  const fs::path open = scratch / "open";
  {
    auto log = Log::Open(open, Options(Compression::kNone));
    Check(log.status(), "open open");
    AppendMessages(**log, 1, 5, 24);
    Check((*log)->Sync(), "sync");
    AppendMessages(**log, 6, 6, 24);
    const std::string crashed = Prefix(Read(open / first));
    seed("crashed", 0x09, {crashed});
    // The same with the last frame torn in half.
    std::string torn = crashed;
    torn.resize(torn.size() - 40);
    seed("crashed-torn", 0x09, {torn});
    Check((*log)->Close(), "close open");
  }

  // LZ4-compressed payloads.
  const fs::path lz4 = scratch / "lz4";
  {
    LogOptions o = Options(Compression::kLz4);
    o.compress_min_bytes = 64;
    auto log = Log::Open(lz4, o);
    Check(log.status(), "open lz4");
    AppendMessages(**log, 1, 6, 400);
    Check((*log)->Close(), "close lz4");
  }
  const std::string lz4_seg = Prefix(Read(lz4 / first));
  seed("lz4", 0x09, {lz4_seg});
  seed("lz4-resealed", 0x0b, {lz4_seg});

  // Two segments: the closed one sealed, and its successor.
  {
    std::string sealed = closed_seg;
    SyncRecord rec;
    if (!DecodeSyncRecord(sealed.data(), &rec)) Check(absl::DataLossError("no sync record"), "sealed seed");
    rec.sealed = true;
    rec.clean = false;
    EncodeSyncRecord(sealed.data(), rec);
    SegmentIdentity id;
    Check(DecodeSegmentIdentity(sealed.data(), "seed", &id), "identity");
    id.base_seq = rec.last_seq + 1;
    std::string next(kSegmentDataOffset + 4096, '\0');
    EncodeSegmentIdentity(next.data(), id);
    uint64_t off = kSegmentDataOffset;
    for (uint64_t seq = id.base_seq; seq < id.base_seq + 4; ++seq) {
      off += EncodeFrame(next.data() + off, seq, rec.last_ts + 1000, "orders.next",
                         seq % 2 ? "NATS/1.0\r\nA: b\r\n\r\n" : "", "payload " + std::to_string(seq));
    }
    EncodeSyncRecord(next.data(), SyncRecord{off, id.base_seq + 3, rec.last_ts + 1000, false, true});
    seed("two-segments", 0x09, {sealed, Prefix(next)});
  }
}

void ParserSeeds(const fs::path& out) {
  // [flags][n][n piece sizes][bytes]
  auto seed = [&](const std::string& name, uint8_t flags, const std::vector<uint8_t>& sizes, std::string_view text) {
    std::string bytes;
    bytes += static_cast<char>(flags);
    bytes += static_cast<char>(sizes.size());
    for (uint8_t s : sizes) bytes += static_cast<char>(s);
    bytes += text;
    Write(out / name, bytes);
  };
  const std::string client =
      "CONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"name\":\"\",\"lang\":\"go\","
      "\"version\":\"1.28.0\",\"protocol\":1,\"echo\":true,\"headers\":true,\"no_responders\":true}\r\n"
      "PING\r\n"
      "SUB orders.* 1\r\n"
      "SUB orders.> workers 2\r\n"
      "PUB orders.1 5\r\nhello\r\n"
      "PUB orders.2 _INBOX.abc.1 0\r\n\r\n"
      "HPUB orders.3 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n"
      "HPUB $JS.API.STREAM.INFO.S _INBOX.x 12 12\r\nNATS/1.0\r\n\r\n\r\n"
      "UNSUB 1\r\n"
      "UNSUB 2 10\r\n"
      "PONG\r\n";
  seed("client-whole", 0, {}, client);
  seed("client-pieces", 0, {1, 7, 13, 2, 64}, client);
  seed("client-small-limits", 2, {5, 3}, client);
  seed("client-stop-after-3", 3 << 3, {9}, client);
  seed("nc-human", 4, {3, 11},
       "ping\nstreams\nstream ORDERS\naddstream ORDERS orders.> max_msgs=10\n"
       "replay ORDERS 1 from=1 max=5\nconsumer ORDERS d\nhelp\n");
  seed("errors", 0, {2}, "PUB foo 3\r\nhi\r\nPUB a b c d 1\r\n");
  seed("lf-only-tabs", 0, {4}, "SUB\ta\t 1\nPUB  a\t2\nhi\r\nMSG a 1 1\r\n");
}

void ApiSeeds(const fs::path& out) {
  const std::string create =
      "$JS.API.STREAM.CREATE.ORDERS {\"name\":\"ORDERS\",\"subjects\":[\"orders.>\"],\"retention\":\"limits\","
      "\"max_consumers\":-1,\"max_msgs_per_subject\":-1,\"max_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,"
      "\"max_msg_size\":-1,\"storage\":\"file\",\"discard\":\"old\",\"num_replicas\":1,"
      "\"duplicate_window\":120000000000,\"sealed\":false,\"deny_delete\":false,\"deny_purge\":false,"
      "\"allow_rollup_hdrs\":false,\"allow_direct\":false,\"mirror_direct\":false,\"segment_size\":1048576}\n";
  Write(out / "stream-lifecycle",
        create +
            "orders.1 one\norders.2 two\nHorders.1 NATS/1.0|Nats-Msg-Id:a|| three\n"
            "Horders.1 NATS/1.0|Nats-Msg-Id:a|| three-again\n"
            "Horders.2 NATS/1.0|Nats-Expected-Last-Sequence:3|| four\n"
            "$JS.API.INFO \n"
            "$JS.API.STREAM.NAMES {\"offset\":0}\n"
            "$JS.API.STREAM.LIST {\"offset\":0,\"subject\":\"orders.1\"}\n"
            "$JS.API.STREAM.INFO.ORDERS \n"
            "$JS.API.STREAM.MSG.GET.ORDERS {\"seq\":2}\n"
            "$JS.API.STREAM.MSG.GET.ORDERS {\"last_by_subj\":\"orders.1\"}\n"
            "$JS.API.STREAM.MSG.DELETE.ORDERS {\"seq\":1}\n"
            "$JS.API.STREAM.PURGE.ORDERS {\"filter\":\"orders.1\",\"keep\":1}\n"
            "$JS.API.STREAM.UPDATE.ORDERS {\"name\":\"ORDERS\",\"subjects\":[\"orders.>\",\"more.*\"],"
            "\"max_msgs\":100,\"max_age\":3600000000000}\n"
            "$JS.API.STREAM.DELETE.ORDERS \n");
  Write(out / "pull-consumer",
        create +
            "orders.1 one\norders.2 two\norders.1 three\n"
            "$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.d {\"stream_name\":\"ORDERS\",\"config\":{\"durable_name\":\"d\","
            "\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\",\"ack_wait\":30000000000,\"max_deliver\":-1,"
            "\"filter_subject\":\"orders.>\",\"replay_policy\":\"instant\",\"max_waiting\":512,"
            "\"max_ack_pending\":1000}}\n"
            "$JS.API.CONSUMER.MSG.NEXT.ORDERS.d {\"batch\":2,\"expires\":1000000000}\n"
            "A +ACK\n"
            "$JS.API.CONSUMER.MSG.NEXT.ORDERS.d 1\n"
            "A -NAK {\"delay\":1000000000}\n"
            "+1500\n"
            "$JS.API.CONSUMER.MSG.NEXT.ORDERS.d {\"batch\":5,\"no_wait\":true}\n"
            "A +WPI\n"
            "A +TERM\n"
            "+31000\n"
            "$JS.API.CONSUMER.INFO.ORDERS.d \n"
            "$JS.API.CONSUMER.NAMES.ORDERS {}\n"
            "$JS.API.CONSUMER.LIST.ORDERS {\"offset\":0}\n"
            "$JS.API.CONSUMER.DELETE.ORDERS.d \n");
  Write(out / "push-consumer",
        create +
            "orders.1 one\n"
            "$JS.API.CONSUMER.CREATE.ORDERS {\"stream_name\":\"ORDERS\",\"config\":{\"deliver_subject\":"
            "\"deliver.x\",\"deliver_policy\":\"last\",\"ack_policy\":\"all\",\"idle_heartbeat\":5000000000,"
            "\"flow_control\":true,\"max_deliver\":3,\"ack_wait\":2000000000}}\n"
            "orders.2 two\n"
            "A +ACK\n"
            "+6000\n"
            "$JS.API.CONSUMER.CREATE.ORDERS.e.orders.2 {\"stream_name\":\"ORDERS\",\"config\":{\"name\":\"e\","
            "\"durable_name\":\"e\",\"filter_subject\":\"orders.2\",\"ack_policy\":\"none\","
            "\"deliver_policy\":\"by_start_sequence\",\"opt_start_seq\":1}}\n"
            "$JS.API.CONSUMER.CREATE.ORDERS.f.orders.* {\"stream_name\":\"ORDERS\",\"config\":{\"name\":\"f\","
            "\"deliver_policy\":\"by_start_time\",\"opt_start_time\":\"2027-01-15T08:00:00Z\"}}\n");
  Write(out / "workqueue",
        "$JS.API.STREAM.CREATE.Q {\"name\":\"Q\",\"subjects\":[\"q.*\"],\"retention\":\"workqueue\","
        "\"sync\":\"always\",\"discard\":\"new\",\"max_msgs\":3,\"max_msgs_per_subject\":2}\n"
        "q.a 1\nq.a 2\nq.a 3\nq.b 4\n"
        "$JS.API.CONSUMER.DURABLE.CREATE.Q.w {\"config\":{\"ack_policy\":\"explicit\"}}\n"
        "$JS.API.CONSUMER.MSG.NEXT.Q.w 3\n"
        "A +ACK\n"
        "$JS.API.STREAM.INFO.Q \n");
}

void SublistSeeds(const fs::path& out) {
  // Opcodes (sublist_fuzzer.cc): 0-2 insert SUBJ QUEUE, 3 remove #k,
  // 4 remove a removed one, 5-6 match SUBJ, 7 match once SUBJ, 8 cache op.
  // SUBJ = [shape: 1 + shape % 5 tokens][token index...]; token table:
  // 0 a, 1 b, 2 c, 3 foo, 4 bar, 5 *, 6 >, 10 "", 11 "x y".
  const std::vector<std::vector<uint8_t>> seeds = {
      {0, 1, 0, 5, 0,  0, 1, 0, 6, 2,  0, 2, 0, 1, 2, 2,  5, 2, 0, 1, 2,  5, 1, 0, 1,  3, 0,  5, 1, 0, 1,  4, 0},
      {0, 2, 3, 5, 6, 0,  1, 2, 3, 1, 4, 3,  8, 1,  6, 2, 3, 4, 4,  8, 0,  7, 2, 3, 4, 4},
      {0, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9,  5, 255, 1, 2, 3,  0, 1, 0, 10, 0,  0, 0, 11, 0},
  };
  for (size_t i = 0; i < seeds.size(); ++i) {
    Write(out / ("program-" + std::to_string(i)), std::string(seeds[i].begin(), seeds[i].end()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds CORPUS_DIR (fuzz/corpus)\n");
    return 2;
  }
  const fs::path out = argv[1];
  const fs::path scratch = fs::temp_directory_path() / ("make_seeds." + std::to_string(::getpid()));
  fs::remove_all(scratch);
  SegmentSeeds(out / "segment_fuzzer", scratch);
  ParserSeeds(out / "parser_fuzzer");
  ApiSeeds(out / "jetstream_api_fuzzer");
  SublistSeeds(out / "sublist_fuzzer");
  fs::remove_all(scratch);
  return 0;
}
