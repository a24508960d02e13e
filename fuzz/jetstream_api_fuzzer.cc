// The JetStream API (server/jetstream_api.cc and the consumer paths behind
// it) driven the way a client drives it: protocol bytes into ServerCore,
// with a real index::Store in a temporary directory and the tests' fake
// host (tests/server/fake_js_host.h: manual clock, timers, Post queue).
//
// The input is lines; each line is one client action:
//   $JS.API.<...> BODY   an API request with reply _INBOX.api.<n>
//   H<subject> HDRS BODY a publish with headers ('|' in HDRS stands for
//                        CRLF), reply _INBOX.ack.<n>
//   A BODY               BODY published to the reply subject of the last
//                        message delivered with one ($JS.ACK...)
//   +<ms>                the clock moves on (timers fire: expiries,
//                        heartbeats, redeliveries)
//   <subject> BODY       a publish, reply _INBOX.ack.<n> (stream capture)
// Checks: nothing crashes (ASan, UBSan, no exception escapes); every API
// request of a form the server answers (docs/jetstream.md) gets exactly one
// answer, a JSON object whose "type" names the API; a request the server
// does not know gets none; the client's connection is never closed; no
// timer spins at one instant (FakeJsHost::spins).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "index/store.h"
#include "nlohmann/json.hpp"
#include "server/absl_view.h"
#include "server/jetstream.h"
#include "server/subject.h"
#include "tests/server/core_test_util.h"
#include "tests/server/fake_js_host.h"

namespace shortbus::server {
namespace {

constexpr int64_t kStart = int64_t{1'800'000'000} * 1'000'000'000;
constexpr ClientId kClient = 1;
constexpr char kConnect[] = R"({"verbose":false,"pedantic":false,"headers":true,"no_responders":true})";
constexpr size_t kMaxActions = 64;

[[noreturn]] void Fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "jetstream_api_fuzzer: %s: %.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

std::vector<std::string_view> Tokens(std::string_view s) {
  std::vector<std::string_view> t;
  for (size_t start = 0;;) {
    const size_t dot = s.find('.', start);
    t.push_back(s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) return t;
    start = dot + 1;
  }
}

enum class Answer {
  kNone,      // a request the server does not know: no answer
  kJson,      // exactly one typed JSON object
  kMessages,  // a pull request: messages or statuses, any number
};

// How the server answers an API request on $JS.API.<api>, from the list
// in docs/jetstream.md.
Answer Expected(std::string_view api) {
  const std::vector<std::string_view> t = Tokens(api);
  const size_t n = t.size();
  if (n == 1) return t[0] == "INFO" ? Answer::kJson : Answer::kNone;
  if (t[0] == "STREAM") {
    if (n == 2 && (t[1] == "NAMES" || t[1] == "LIST")) return Answer::kJson;
    if (n == 3 &&
        (t[1] == "CREATE" || t[1] == "UPDATE" || t[1] == "DELETE" || t[1] == "INFO" || t[1] == "PURGE")) {
      return Answer::kJson;
    }
    if (n == 4 && t[1] == "MSG" && (t[2] == "GET" || t[2] == "DELETE")) return Answer::kJson;
  }
  if (t[0] == "CONSUMER") {
    if (n == 5 && t[1] == "MSG" && t[2] == "NEXT") return Answer::kMessages;
    if (n >= 3 && t[1] == "CREATE") return Answer::kJson;
    if (n == 5 && t[1] == "DURABLE" && t[2] == "CREATE") return Answer::kJson;
    if (n == 4 && (t[1] == "INFO" || t[1] == "DELETE")) return Answer::kJson;
    if (n == 3 && (t[1] == "NAMES" || t[1] == "LIST")) return Answer::kJson;
  }
  return Answer::kNone;
}

struct OutMsg {
  std::string subject, reply, headers, payload;
};

// Splits what the server wrote into MSG/HMSG frames; PING, PONG, +OK are
// skipped; anything else (-ERR) fails the case.
std::vector<OutMsg> ParseOut(std::string_view out) {
  std::vector<OutMsg> msgs;
  size_t pos = 0;
  while (pos < out.size()) {
    const size_t eol = out.find("\r\n", pos);
    if (eol == std::string_view::npos) Fail("unterminated line from the server", out.substr(pos));
    const std::string_view line = out.substr(pos, eol - pos);
    pos = eol + 2;
    std::vector<std::string_view> w;
    for (size_t i = 0; i < line.size();) {
      const size_t sp = std::min(line.find(' ', i), line.size());
      if (sp > i) w.push_back(line.substr(i, sp - i));
      i = sp + 1;
    }
    if (w.empty()) Fail("empty line from the server", out);
    if (w[0] == "PING" || w[0] == "PONG" || w[0] == "+OK") continue;
    const bool hmsg = w[0] == "HMSG";
    if ((w[0] != "MSG" && !hmsg) || w.size() < (hmsg ? 5u : 4u) || w.size() > (hmsg ? 6u : 5u)) {
      Fail("unexpected line from the server", line);
    }
    size_t hdr = 0, total = 0;
    if (!absl::SimpleAtoi(Av(w.back()), &total) || (hmsg && !absl::SimpleAtoi(Av(w[w.size() - 2]), &hdr)) || hdr > total ||
        pos + total + 2 > out.size() || out.substr(pos + total, 2) != "\r\n") {
      Fail("malformed frame from the server", line);
    }
    OutMsg m;
    m.subject = std::string(w[1]);
    if (w.size() == (hmsg ? 6u : 5u)) m.reply = std::string(w[3]);
    m.headers = std::string(out.substr(pos, hdr));
    m.payload = std::string(out.substr(pos + hdr, total - hdr));
    pos += total + 2;
    msgs.push_back(std::move(m));
  }
  return msgs;
}

class Case {
 public:
  explicit Case(const std::string& dir) : dir_(dir) {
    host_.set_start_marker(kStart);
    index::StoreOptions o;
    o.clock = host_.Clock();
    absl::StatusOr<std::unique_ptr<index::Store>> s = index::Store::Open(dir_, o);
    if (!s.ok()) Fail("Store::Open", Sv(s.status().message()));
    store_ = *std::move(s);
    js_ = std::make_unique<JetStream>(store_.get(), h_.core.get(), &host_, JsDefaults{});
    if (absl::Status st = js_->Start(); !st.ok()) Fail("JetStream::Start", Sv(st.message()));
    h_.core->SetPublishObserver(js_.get());
    h_.Connect(kClient, kConnect);
    h_.Type(kClient, "SUB _INBOX.> 1\r\nSUB deliver.> 2\r\n");
    Collect();
  }

  ~Case() {
    host_.DrainPosts();
    js_->Stop();
    h_.core->SetPublishObserver(nullptr);
    if (absl::Status s = store_->Close(); !s.ok()) Fail("Store::Close", Sv(s.message()));
    host_.DiscardPosts();
    js_.reset();
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void Act(std::string_view line) {
    if (line.empty()) return;
    if (line[0] == '+') {
      int64_t ms = 0;
      if (absl::SimpleAtoi(Av(line.substr(1)), &ms) && ms > 0 && ms <= 3'600'000) {
        host_.Advance(absl::Milliseconds(ms));
        CheckSpins();
        Collect();
      }
      return;
    }
    if (line[0] == 'A' && (line.size() == 1 || line[1] == ' ')) {
      if (last_ack_reply_.empty()) return;
      Publish(last_ack_reply_, "", {}, line.size() > 2 ? line.substr(2) : std::string_view(), false);
      return;
    }
    const bool with_headers = line[0] == 'H';
    if (with_headers) line.remove_prefix(1);
    const size_t sp = line.find(' ');
    const std::string_view subject = line.substr(0, sp);
    std::string_view rest = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
    // The subject must stay one argument of the PUB line.
    if (subject.empty() || subject.find_first_of(" \t\r\n") != std::string_view::npos) return;
    std::string headers;
    if (with_headers) {
      const size_t hsp = rest.find(' ');
      for (char c : rest.substr(0, hsp)) {
        if (c == '|') {
          headers += "\r\n";
        } else {
          headers += c;
        }
      }
      rest = hsp == std::string_view::npos ? std::string_view() : rest.substr(hsp + 1);
    }
    if (subject.starts_with("$JS.API.")) {
      const std::string reply = absl::StrCat("_INBOX.api.", ++requests_);
      Publish(subject, reply, headers, rest, with_headers);
      const Answer want = IsValidSubscribeSubject(subject) ? Expected(subject.substr(8)) : Answer::kNone;
      if (want == Answer::kMessages) return;
      size_t answers = 0;
      for (const OutMsg& m : last_) {
        if (m.subject != reply) continue;
        ++answers;
        const nlohmann::json j = nlohmann::json::parse(m.payload, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("type") || !j["type"].is_string() ||
            !j["type"].get<std::string>().starts_with("io.nats.jetstream.api.v1.")) {
          Fail("API answer is not a typed JSON object", std::string(line) + " -> " + m.payload);
        }
      }
      if (want == Answer::kJson && answers != 1) Fail("API request not answered exactly once", line);
      if (want == Answer::kNone && answers != 0) Fail("answer to a request the server does not know", line);
      return;
    }
    Publish(subject, absl::StrCat("_INBOX.ack.", ++publishes_), headers, rest, with_headers);
  }

 private:
  void Publish(std::string_view subject, std::string_view reply, std::string_view headers, std::string_view payload,
               bool with_headers) {
    std::string frame = with_headers ? "HPUB " : "PUB ";
    frame += subject;
    if (!reply.empty()) (frame += ' ') += reply;
    if (with_headers) (frame += ' ') += std::to_string(headers.size());
    frame += ' ';
    frame += std::to_string(headers.size() + payload.size());
    frame += "\r\n";
    frame += headers;
    frame += payload;
    frame += "\r\n";
    h_.Type(kClient, frame);
    host_.DrainPosts();
    CheckSpins();
    Collect();
  }

  void Collect() {
    if (h_.transport.closed(kClient)) Fail("the server closed the client", h_.Out(kClient));
    last_ = ParseOut(h_.Out(kClient));
    // JETSTREAM_API_FUZZER_VERBOSE=1: what came back, to study a case.
    static const bool verbose = std::getenv("JETSTREAM_API_FUZZER_VERBOSE") != nullptr;
    for (const OutMsg& m : last_) {
      if (verbose) std::fprintf(stderr, "  <- %s [%s] %s\n", m.subject.c_str(), m.reply.c_str(), m.payload.c_str());
    }
    for (const OutMsg& m : last_) {
      if (m.reply.starts_with("$JS.ACK.")) last_ack_reply_ = m.reply;
    }
  }

  void CheckSpins() {
    if (host_.spins() != 0) Fail("a timer re-armed itself without letting time pass", "");
  }

  std::string dir_;
  FakeJsHost host_{kStart};
  CoreHarness h_;
  std::unique_ptr<index::Store> store_;
  std::unique_ptr<JetStream> js_;
  std::vector<OutMsg> last_;
  std::string last_ack_reply_;
  uint64_t requests_ = 0, publishes_ = 0;
};

const std::string& Root() {
  static const std::string* root = [] {
    const char* shm = "/dev/shm";
    std::string base = std::filesystem::is_directory(shm) ? shm : std::filesystem::temp_directory_path().string();
    auto* r = new std::string(base + "/jetstream_api_fuzzer.XXXXXX");
    if (::mkdtemp(r->data()) == nullptr) Fail("mkdtemp", *r);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(Root(), ec);
    });
    return r;
  }();
  return *root;
}

}  // namespace
}  // namespace shortbus::server

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shortbus::server;
  static uint64_t cases = 0;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  Case c(Root() + "/case" + std::to_string(cases++));
  size_t actions = 0;
  for (size_t pos = 0; pos < in.size() && actions < kMaxActions; ++actions) {
    const size_t nl = std::min(in.find('\n', pos), in.size());
    c.Act(in.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return 0;
}
