#include "tools/nats_client.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/json_text.h"

namespace shortbus::tools {
namespace {

constexpr size_t kWriteBatch = 64 * 1024;

// Appends protocol text made of std::string_views and numbers (absl::StrCat
// takes absl::string_view, which this Abseil build keeps distinct).
void Put(std::string* o, std::string_view s) { o->append(s); }
void Put(std::string* o, uint64_t v) { o->append(std::to_string(v)); }
template <typename... T>
void Append(std::string* o, const T&... parts) {
  (Put(o, parts), ...);
}

absl::Status Errno(std::string_view what, const ServerAddress& a) {
  return absl::UnavailableError(absl::StrCat(std::string(what), " ", a.ToString(), ": ", std::strerror(errno)));
}

absl::StatusOr<int> Dial(const ServerAddress& a) {
  if (a.unix_socket) {
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    if (a.path.size() >= sizeof sun.sun_path) return absl::InvalidArgumentError("socket path too long");
    std::memcpy(sun.sun_path, a.path.data(), a.path.size());
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Errno("socket", a);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0) {
      absl::Status s = Errno("connect", a);
      ::close(fd);
      return s;
    }
    return fd;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(a.port);
  if (int rc = ::getaddrinfo(a.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return absl::UnavailableError(absl::StrCat("resolve ", a.host, ": ", gai_strerror(rc)));
  }
  absl::Status last = absl::UnavailableError("no address");
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      ::freeaddrinfo(res);
      return fd;
    }
    last = Errno("connect", a);
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return last;
}

// "-ERR 'text'" -> text
std::string ErrText(std::string_view line) {
  absl::string_view t = absl::StripAsciiWhitespace(absl::string_view(line.data() + 4, line.size() - 4));
  if (t.size() >= 2 && t.front() == '\'' && t.back() == '\'') t = t.substr(1, t.size() - 2);
  return std::string(t);
}

int StatusOf(std::string_view headers) {
  // "NATS/1.0 503 ..." on the first line
  if (headers.substr(0, 9) != "NATS/1.0 ") return 0;
  int code = 0;
  std::string_view rest = headers.substr(9, 3);
  return absl::SimpleAtoi(absl::string_view(rest.data(), rest.size()), &code) ? code : 0;
}

}  // namespace

std::string HeaderBlock(const std::vector<std::string>& lines) {
  if (lines.empty()) return "";
  std::string h = "NATS/1.0\r\n";
  for (const std::string& l : lines) absl::StrAppend(&h, l, "\r\n");
  h += "\r\n";
  return h;
}

absl::StatusOr<std::unique_ptr<NatsClient>> NatsClient::Connect(const ServerAddress& address,
                                                              const ClientOptions& options) {
  absl::StatusOr<int> fd = Dial(address);
  if (!fd.ok()) return fd.status();
  std::unique_ptr<NatsClient> c(new NatsClient(*fd));
  const absl::Time deadline = absl::Now() + options.connect_timeout;
  absl::StatusOr<std::string> line = c->ReadLine(deadline);
  if (!line.ok()) return line.status();
  if (line->substr(0, 5) != "INFO ") {
    if (line->substr(0, 4) == "-ERR") return absl::FailedPreconditionError(ErrText(*line));
    return absl::UnavailableError(absl::StrCat(address.ToString(), " does not speak NATS: '", *line, "'"));
  }
  c->info_ = nlohmann::json::parse(line->substr(5), nullptr, false);
  if (c->info_.is_discarded()) return absl::UnavailableError("the server's INFO is not JSON");
  nlohmann::json connect = {{"verbose", false},     {"pedantic", false},   {"lang", "cpp"},
                            {"version", "0.1.0"},   {"protocol", 1},       {"headers", true},
                            {"no_responders", true}, {"echo", options.echo}, {"name", options.name}};
  if (!address.user.empty()) {
    connect["user"] = address.user;
    connect["pass"] = address.password;
  }
  if (!address.token.empty()) connect["auth_token"] = address.token;
  absl::StrAppend(&c->out_, "CONNECT ", server::DumpJson(connect), "\r\n");
  std::mt19937_64 rng(std::random_device{}());
  c->inbox_prefix_ = absl::StrCat("_INBOX.", absl::Hex(rng(), absl::kZeroPad16), ".");
  if (absl::Status s = c->Flush(options.connect_timeout); !s.ok()) return s;
  return c;
}

NatsClient::~NatsClient() {
  if (fd_ >= 0) ::close(fd_);
}

std::string NatsClient::NewInbox() { return absl::StrCat(inbox_prefix_, next_inbox_++); }

absl::Status NatsClient::Publish(std::string_view subject, std::string_view reply, std::string_view headers,
                                 std::string_view payload) {
  if (headers.empty()) {
    Append(&out_, "PUB ", subject, reply.empty() ? "" : " ", reply, " ", payload.size(), "\r\n");
  } else {
    Append(&out_, "HPUB ", subject, reply.empty() ? "" : " ", reply, " ", headers.size(), " ",
           headers.size() + payload.size(), "\r\n", headers);
  }
  Append(&out_, payload, "\r\n");
  return out_.size() >= kWriteBatch ? WriteAll() : absl::OkStatus();
}

absl::StatusOr<uint64_t> NatsClient::Subscribe(std::string_view subject, std::string_view queue) {
  const uint64_t sid = next_sid_++;
  Append(&out_, "SUB ", subject, queue.empty() ? "" : " ", queue, " ", sid, "\r\n");
  if (absl::Status s = WriteAll(); !s.ok()) return s;
  return sid;
}

absl::Status NatsClient::Unsubscribe(uint64_t sid, uint64_t max_msgs) {
  if (max_msgs > 0) Append(&out_, "UNSUB ", sid, " ", max_msgs, "\r\n");
  else Append(&out_, "UNSUB ", sid, "\r\n");
  return WriteAll();
}

absl::Status NatsClient::WriteAll() {
  size_t done = 0;
  while (done < out_.size()) {
    ssize_t n = ::send(fd_, out_.data() + done, out_.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::UnavailableError(absl::StrCat("send: ", std::strerror(errno)));
    done += static_cast<size_t>(n);
  }
  out_.clear();
  return absl::OkStatus();
}

absl::Status NatsClient::Flush(absl::Duration timeout) {
  out_ += "PING\r\n";
  if (absl::Status s = WriteAll(); !s.ok()) return s;
  const uint64_t want = pongs_ + 1;
  const absl::Time deadline = absl::Now() + timeout;
  while (pongs_ < want) {
    bool got = false;
    if (absl::Status s = ReadOne(deadline, &got); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> NatsClient::RoundTrip(absl::Duration timeout) {
  const absl::Time start = absl::Now();
  if (absl::Status s = Flush(timeout); !s.ok()) return s;
  return absl::Now() - start;
}

absl::StatusOr<ClientMessage> NatsClient::NextMessage(absl::Duration timeout) {
  if (!out_.empty()) {
    if (absl::Status s = WriteAll(); !s.ok()) return s;
  }
  const absl::Time deadline = timeout == absl::InfiniteDuration() ? absl::InfiniteFuture() : absl::Now() + timeout;
  while (kept_.empty()) {
    bool got = false;
    if (absl::Status s = ReadOne(deadline, &got); !s.ok()) return s;
  }
  ClientMessage m = std::move(kept_.front());
  kept_.pop_front();
  return m;
}

absl::Status NatsClient::Fill(absl::Time deadline) {
  while (true) {
    int wait_ms = -1;
    if (deadline != absl::InfiniteFuture()) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return absl::DeadlineExceededError("timed out");
      wait_ms = static_cast<int>(std::max<int64_t>(1, absl::ToInt64Milliseconds(left)));
    }
    pollfd p{fd_, POLLIN, 0};
    int rc = ::poll(&p, 1, wait_ms);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return absl::UnavailableError(absl::StrCat("poll: ", std::strerror(errno)));
    if (rc == 0) continue;  // the deadline check above ends it
    char buf[64 * 1024];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::UnavailableError(absl::StrCat("recv: ", std::strerror(errno)));
    if (n == 0) return absl::UnavailableError("the server closed the connection");
    in_.append(buf, static_cast<size_t>(n));
    return absl::OkStatus();
  }
}

absl::StatusOr<std::string> NatsClient::ReadLine(absl::Time deadline) {
  while (true) {
    const size_t end = in_.find("\r\n", in_pos_);
    if (end != std::string::npos) {
      std::string line = in_.substr(in_pos_, end - in_pos_);
      in_pos_ = end + 2;
      return line;
    }
    if (absl::Status s = Fill(deadline); !s.ok()) return s;
  }
}

absl::Status NatsClient::ReadBytes(size_t n, absl::Time deadline, std::string* out) {
  while (in_.size() - in_pos_ < n) {
    if (absl::Status s = Fill(deadline); !s.ok()) return s;
  }
  out->assign(in_, in_pos_, n);
  in_pos_ += n;
  return absl::OkStatus();
}

absl::Status NatsClient::ReadOne(absl::Time deadline, bool* got_msg) {
  if (in_pos_ == in_.size()) {  // everything consumed: start the buffer over
    in_.clear();
    in_pos_ = 0;
  }
  const size_t start = in_pos_;  // a frame cut by the deadline is read again next time
  absl::StatusOr<std::string> line = ReadLine(deadline);
  if (!line.ok()) return line.status();
  std::vector<std::string> f = absl::StrSplit(*line, ' ', absl::SkipEmpty());
  if (f.empty()) return absl::OkStatus();
  const std::string verb = absl::AsciiStrToUpper(f[0]);
  if (verb == "PING") {
    out_ += "PONG\r\n";
    return WriteAll();
  }
  if (verb == "PONG") {
    ++pongs_;
    return absl::OkStatus();
  }
  if (verb == "+OK") return absl::OkStatus();
  if (verb == "-ERR") return absl::FailedPreconditionError(ErrText(*line));
  if (verb == "INFO") {
    nlohmann::json j = nlohmann::json::parse(line->substr(5), nullptr, false);
    if (!j.is_discarded()) info_ = std::move(j);
    return absl::OkStatus();
  }
  const bool hmsg = verb == "HMSG";
  if (verb != "MSG" && !hmsg) return absl::UnavailableError(absl::StrCat("unexpected from the server: '", *line, "'"));
  // MSG subject sid [reply] size | HMSG subject sid [reply] hdr_size total_size
  const size_t sizes = hmsg ? 2 : 1;
  if (f.size() != 3 + sizes && f.size() != 4 + sizes) {
    return absl::UnavailableError(absl::StrCat("malformed from the server: '", *line, "'"));
  }
  ClientMessage m;
  m.subject = f[1];
  uint64_t total = 0, hdr = 0;
  bool ok = absl::SimpleAtoi(f[2], &m.sid) && absl::SimpleAtoi(f.back(), &total);
  if (f.size() == 4 + sizes) m.reply = f[3];
  if (hmsg) ok = ok && absl::SimpleAtoi(f[f.size() - 2], &hdr) && hdr <= total;
  if (!ok) return absl::UnavailableError(absl::StrCat("malformed from the server: '", *line, "'"));
  std::string body;
  if (absl::Status s = ReadBytes(total + 2, deadline, &body); !s.ok()) {
    in_pos_ = start;
    return s;
  }
  m.headers = body.substr(0, hdr);
  m.payload = body.substr(hdr, total - hdr);
  m.status = StatusOf(m.headers);
  kept_.push_back(std::move(m));
  *got_msg = true;
  return absl::OkStatus();
}

}  // namespace shortbus::tools
