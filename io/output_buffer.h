// A growable byte queue for one connection's output: append at the end,
// consume from the front. Reused for the connection's whole life, so a
// connection in steady state appends without allocating.
#ifndef SHORTBUS_IO_OUTPUT_BUFFER_H_
#define SHORTBUS_IO_OUTPUT_BUFFER_H_

#include <cstddef>
#include <memory>
#include <string_view>

namespace shortbus::io {

class OutputBuffer {
 public:
  // Capacity kept after a full drain; a larger buffer (grown by a burst) is
  // released when it drains so a slow consumer's peak does not stay resident.
  static constexpr size_t kKeepCapacity = size_t{1} << 20;

  OutputBuffer() = default;
  OutputBuffer(const OutputBuffer&) = delete;
  OutputBuffer& operator=(const OutputBuffer&) = delete;

  // Returns n writable bytes at the end (growing or compacting as needed).
  // REQUIRES: nothing outside this buffer points into it (the kernel is not
  // reading it); the pointer is valid until the next Reserve/Append/Consume.
  char* Reserve(size_t n);
  // Makes the first n reserved bytes part of the queue. REQUIRES: n <= the
  // last Reserve's n.
  void Commit(size_t n) { end_ += n; }
  void Append(const void* data, size_t n);

  // The queued bytes, valid until the next mutating call.
  std::string_view Pending() const { return {data_.get() + begin_, end_ - begin_}; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return end_ == begin_; }
  // Drops n bytes from the front. REQUIRES: n <= size().
  void Consume(size_t n);
  // Drops everything and releases memory beyond kKeepCapacity.
  void Clear();
  // Releases the memory if nothing is queued (an idle connection's buffer).
  void ReleaseIfEmpty();
  size_t capacity() const { return capacity_; }

 private:
  // Invariant: begin_ <= end_ <= capacity_.
  std::unique_ptr<char[]> data_;
  size_t begin_ = 0;
  size_t end_ = 0;
  size_t capacity_ = 0;
};

}  // namespace shortbus::io

#endif  // SHORTBUS_IO_OUTPUT_BUFFER_H_
