// A NATS client connection for the load generator, spoken over a raw socket
// (TCP or Unix): no client library, blocking I/O, one thread per connection.
// Writes are batched in a large buffer that is flushed when it fills and
// before every blocking read; frames are parsed in place in the read buffer.
#ifndef SHORTBUS_BENCH_LOAD_CONN_H_
#define SHORTBUS_BENCH_LOAD_CONN_H_

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace shortbus::load {

using Clock = std::chrono::steady_clock;

// Prints "shortbus-load: <message>" to stderr and exits with status 1.
// With SetErrorJson("{...fields") called first, also prints
// `{...fields,"error":"<message>"}` on stdout, so that a JSON consumer sees
// the failure of the case.
[[noreturn]] void Die(const std::string& message);
void SetErrorJson(const std::string& prefix);
// `s` as a JSON string literal (quotes, backslashes escaped; control
// characters dropped).
std::string JsonString(std::string_view s);

// --server tcp://HOST:PORT, nats://HOST:PORT, unix:///PATH or unix:PATH.
struct Address {
  bool unix_socket = false;
  std::string host;  // TCP only
  int port = 0;      // TCP only
  std::string path;  // Unix only
  std::string text;  // as given
  std::string transport() const { return unix_socket ? "unix" : "tcp"; }
};
Address ParseAddress(const std::string& text);
// A new stream socket for `address`, and the address to connect or bind it
// to (a sockaddr_un or a sockaddr_in in *sa, its size in *len).
int OpenSocket(const Address& address, sockaddr_storage* sa, socklen_t* len);

// One frame read from the server; the views point into the read buffer and
// stay valid until the next call of Conn::Next.
struct Frame {
  enum Kind { kMsg, kPing, kPong, kOk, kErr, kInfo, kOther };
  Kind kind = kOther;
  std::string_view line;  // the control line without CRLF
  std::string_view subject, sid, reply, payload;  // kMsg (and HMSG)
  // HMSG only: the header block ("NATS/1.0[ status text]\r\n...\r\n\r\n");
  // payload is then what follows it.
  std::string_view headers;
};

class Conn {
 public:
  // A connected socket; no protocol spoken yet. Buffer sizes in bytes.
  static Conn Dial(const Address& address, size_t in_size = 1 << 20,
                   size_t out_size = 256 << 10);
  Conn() = default;
  Conn(Conn&& other) noexcept;
  Conn& operator=(Conn&& other) noexcept;
  ~Conn();

  // Reads INFO, sends CONNECT and PING, and waits for the PONG. With
  // `headers`, CONNECT asks for headers and no-responders statuses (what
  // JetStream clients send); without, for neither.
  void Handshake(const char* name, bool headers = false);
  // Sends CONNECT and PING without waiting (for pipelined handshakes).
  void SendConnect(const char* name, bool headers = false);
  // Flushes, sends PING and reads until its PONG (answering server PINGs,
  // skipping messages). False on end of stream.
  bool PingPong();
  // Reads frames until a PONG (see PingPong).
  bool WaitPong();

  // Appends bytes to the write buffer (written directly when large).
  void Write(const char* data, size_t n);
  void Write(std::string_view s) { Write(s.data(), s.size()); }
  void Flush();

  // The next frame; blocks (flushing first). Answers nothing by itself
  // except that -ERR makes it die with the server's line. False on end of
  // stream, read timeout or a shut-down socket.
  bool Next(Frame* frame);

  // Called by Next each time it is about to block in a read (after the
  // flush), on the thread that calls Next.
  void OnBlock(std::function<void()> f) { on_block_ = std::move(f); }
  // Makes a thread blocked in Next return false (shutdown(SHUT_RD)).
  void StopReading();
  // Fails reads that wait longer than this (SO_RCVTIMEO); 0 = forever.
  void SetReadTimeout(double seconds);
  bool timed_out() const { return timed_out_; }
  int fd() const { return fd_; }
  const std::string& name() const { return name_; }

 private:
  bool Fill(size_t need);
  void WriteAll(const char* data, size_t n);
  void Close();

  int fd_ = -1;
  std::string name_;
  std::vector<char> in_;
  size_t rpos_ = 0, rend_ = 0;
  std::vector<char> out_;
  size_t out_len_ = 0;
  bool timed_out_ = false;
  std::function<void()> on_block_;
};

// "PUB subject [reply] size\r\n<size bytes of 'x'>\r\n".
std::string PubFrame(std::string_view subject, std::string_view reply, size_t size);

// Seconds between two instants.
inline double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace shortbus::load

#endif  // SHORTBUS_BENCH_LOAD_CONN_H_
