#include "bench/load/conn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace shortbus::load {

namespace {
std::string error_json_prefix;  // see SetErrorJson
}  // namespace

void SetErrorJson(const std::string& prefix) { error_json_prefix = prefix; }

std::string JsonString(std::string_view s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) q += c;
  }
  return q + "\"";
}

void Die(const std::string& message) {
  if (!error_json_prefix.empty()) {
    std::printf("%s,\"error\":%s}\n", error_json_prefix.c_str(), JsonString(message).c_str());
  }
  std::fflush(stdout);
  std::fprintf(stderr, "shortbus-load: %s\n", message.c_str());
  std::_Exit(1);
}

Address ParseAddress(const std::string& text) {
  Address a;
  a.text = text;
  std::string_view s = text;
  if (s.substr(0, 7) == "unix://" || s.substr(0, 5) == "unix:") {
    a.unix_socket = true;
    a.path = std::string(s.substr(s.substr(0, 7) == "unix://" ? 7 : 5));
    if (a.path.empty()) Die("empty Unix socket path in " + text);
    return a;
  }
  for (std::string_view scheme : {"tcp://", "nats://"}) {
    if (s.substr(0, scheme.size()) == scheme) s.remove_prefix(scheme.size());
  }
  size_t colon = s.rfind(':');
  if (colon == std::string_view::npos) Die("no port in server address " + text);
  a.host = std::string(s.substr(0, colon));
  std::string_view port = s.substr(colon + 1);
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), a.port);
  if (ec != std::errc() || p != port.data() + port.size() || a.port < 0 || a.port > 65535) {
    Die("bad port in server address " + text);
  }
  if (a.host.empty() || a.host == "localhost") a.host = "127.0.0.1";
  return a;
}

int OpenSocket(const Address& address, sockaddr_storage* sa, socklen_t* len) {
  *sa = sockaddr_storage{};
  if (address.unix_socket) {
    auto* un = reinterpret_cast<sockaddr_un*>(sa);
    un->sun_family = AF_UNIX;
    if (address.path.size() >= sizeof(un->sun_path)) Die("Unix socket path too long: " + address.path);
    std::memcpy(un->sun_path, address.path.data(), address.path.size());
    *len = sizeof(sockaddr_un);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(sa);
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(address.port));
    if (inet_pton(AF_INET, address.host.c_str(), &in->sin_addr) != 1) {
      Die("not an IPv4 address: " + address.host);
    }
    *len = sizeof(sockaddr_in);
  }
  int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) Die(std::string("socket: ") + std::strerror(errno));
  return fd;
}

Conn Conn::Dial(const Address& address, size_t in_size, size_t out_size) {
  Conn c;
  c.name_ = address.text;
  sockaddr_storage sa;
  socklen_t len;
  c.fd_ = OpenSocket(address, &sa, &len);
  if (!address.unix_socket) {
    int one = 1;
    setsockopt(c.fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  if (connect(c.fd_, reinterpret_cast<sockaddr*>(&sa), len) != 0) {
    Die("connect " + address.text + ": " + std::strerror(errno));
  }
  c.in_.resize(in_size);
  c.out_.resize(out_size);
  return c;
}

Conn::Conn(Conn&& o) noexcept { *this = std::move(o); }

Conn& Conn::operator=(Conn&& o) noexcept {
  if (this != &o) {
    Close();
    fd_ = std::exchange(o.fd_, -1);
    name_ = std::move(o.name_);
    in_ = std::move(o.in_);
    out_ = std::move(o.out_);
    rpos_ = o.rpos_;
    rend_ = o.rend_;
    out_len_ = o.out_len_;
    timed_out_ = o.timed_out_;
    on_block_ = std::move(o.on_block_);
  }
  return *this;
}

Conn::~Conn() { Close(); }

void Conn::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

void Conn::SendConnect(const char* name, bool headers) {
  const char* h = headers ? "true" : "false";
  std::string connect =
      std::string("CONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":false,"
                  "\"name\":\"") + name +
      "\",\"lang\":\"shortbus-load\",\"version\":\"0.1.0\",\"protocol\":1,"
      "\"echo\":false,\"headers\":" + h + ",\"no_responders\":" + h + "}\r\nPING\r\n";
  Write(connect);
  Flush();
}

void Conn::Handshake(const char* name, bool headers) {
  Frame f;
  if (!Next(&f)) Die(name_ + ": closed before INFO");
  if (f.kind != Frame::kInfo) Die(name_ + ": expected INFO, got: " + std::string(f.line));
  SendConnect(name, headers);
  if (!WaitPong()) Die(name_ + ": closed during the handshake");
}

bool Conn::WaitPong() {
  Frame f;
  while (Next(&f)) {
    if (f.kind == Frame::kPong) return true;
    if (f.kind == Frame::kPing) Write("PONG\r\n");
  }
  return false;
}

bool Conn::PingPong() {
  Write("PING\r\n");
  return WaitPong();
}

void Conn::WriteAll(const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd_, data, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int err = errno;
      // The server may have said why before closing: read what is pending
      // (Next dies on its -ERR line).
      out_len_ = 0;
      SetReadTimeout(1);
      Frame f;
      while (Next(&f)) {
      }
      Die(name_ + ": write: " + std::strerror(err));
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
}

void Conn::Write(const char* data, size_t n) {
  if (out_len_ + n > out_.size()) Flush();
  if (n >= out_.size()) {
    WriteAll(data, n);
    return;
  }
  std::memcpy(out_.data() + out_len_, data, n);
  out_len_ += n;
}

void Conn::Flush() {
  size_t len = std::exchange(out_len_, 0);
  WriteAll(out_.data(), len);
}

bool Conn::Fill(size_t need) {
  // `need` bytes from rpos_ must fit: compact, then grow if still short.
  if (rpos_ > 0 && (in_.size() - rpos_ < need || in_.size() - rend_ < 4096)) {
    std::memmove(in_.data(), in_.data() + rpos_, rend_ - rpos_);
    rend_ -= rpos_;
    rpos_ = 0;
  }
  if (in_.size() - rpos_ < need) in_.resize(std::max(need, 2 * in_.size()));
  if (out_len_ > 0) Flush();
  if (on_block_) on_block_();
  for (;;) {
    ssize_t r = recv(fd_, in_.data() + rend_, in_.size() - rend_, 0);
    if (r > 0) {
      rend_ += static_cast<size_t>(r);
      return true;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) timed_out_ = true;
    return false;
  }
}

namespace {

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); i++) {
    char c = s[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != prefix[i]) return false;
  }
  return true;
}

// Splits on spaces and tabs into at most `max` tokens; returns the count.
int Split(std::string_view s, std::string_view* tokens, int max) {
  int n = 0;
  size_t i = 0;
  while (i < s.size() && n < max) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) i++;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t') j++;
    if (j > i) tokens[n++] = s.substr(i, j - i);
    i = j;
  }
  return n;
}

bool ParseSize(std::string_view s, size_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

bool Conn::Next(Frame* f) {
  for (;;) {
    char* b = in_.data() + rpos_;
    size_t avail = rend_ - rpos_;
    char* nl = avail ? static_cast<char*>(std::memchr(b, '\n', avail)) : nullptr;
    if (nl == nullptr) {
      if (!Fill(avail + 4096)) return false;
      continue;
    }
    size_t line_len = static_cast<size_t>(nl - b) + 1;
    std::string_view line(b, line_len - 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    f->line = line;
    bool hmsg = StartsWithNoCase(line, "HMSG ");
    if (hmsg || StartsWithNoCase(line, "MSG ")) {
      // MSG subject sid [reply] size / HMSG subject sid [reply] hdr total
      std::string_view t[6];
      int n = Split(line.substr(hmsg ? 5 : 4), t, 6);
      int fixed = hmsg ? 4 : 3;  // tokens without reply
      size_t size = 0, hdr = 0;
      if ((n != fixed && n != fixed + 1) || !ParseSize(t[n - 1], &size) ||
          (hmsg && (!ParseSize(t[n - 2], &hdr) || hdr > size))) {
        Die(name_ + ": bad message line: " + std::string(line));
      }
      size_t need = line_len + size + 2;
      if (avail < need) {
        if (!Fill(need)) return false;
        continue;
      }
      f->kind = Frame::kMsg;
      f->subject = t[0];
      f->sid = t[1];
      f->reply = n == fixed + 1 ? t[2] : std::string_view();
      f->headers = std::string_view(b + line_len, hdr);
      f->payload = std::string_view(b + line_len + hdr, size - hdr);
      rpos_ += need;
      return true;
    }
    rpos_ += line_len;
    if (StartsWithNoCase(line, "PING")) {
      f->kind = Frame::kPing;
    } else if (StartsWithNoCase(line, "PONG")) {
      f->kind = Frame::kPong;
    } else if (StartsWithNoCase(line, "+OK")) {
      f->kind = Frame::kOk;
    } else if (StartsWithNoCase(line, "INFO")) {
      f->kind = Frame::kInfo;
    } else if (StartsWithNoCase(line, "-ERR")) {
      Die(name_ + ": server said: " + std::string(line));
    } else {
      f->kind = Frame::kOther;
    }
    return true;
  }
}

void Conn::StopReading() { shutdown(fd_, SHUT_RD); }

void Conn::SetReadTimeout(double seconds) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(seconds);
  tv.tv_usec = static_cast<suseconds_t>((seconds - static_cast<double>(tv.tv_sec)) * 1e6);
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

std::string PubFrame(std::string_view subject, std::string_view reply, size_t size) {
  std::string f = "PUB ";
  f += subject;
  f += ' ';
  if (!reply.empty()) {
    f += reply;
    f += ' ';
  }
  f += std::to_string(size);
  f += "\r\n";
  f.append(size, 'x');
  f += "\r\n";
  return f;
}

}  // namespace shortbus::load
