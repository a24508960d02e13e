#include "io/output_buffer.h"

#include <algorithm>
#include <cstring>

namespace shortbus::io {

namespace {
constexpr size_t kMinCapacity = 4096;
}  // namespace

char* OutputBuffer::Reserve(size_t n) {
  if (capacity_ - end_ >= n) return data_.get() + end_;
  const size_t live = end_ - begin_;
  if (capacity_ - live >= n && begin_ >= live) {
    // Compacting is cheap (the live part is no larger than the gap).
    std::memcpy(data_.get(), data_.get() + begin_, live);
  } else {
    size_t cap = std::max(capacity_, kMinCapacity);
    while (cap - live < n) cap *= 2;
    if (cap == capacity_ && begin_ > 0) {
      std::memmove(data_.get(), data_.get() + begin_, live);
    } else {
      std::unique_ptr<char[]> grown(new char[cap]);
      if (live > 0) std::memcpy(grown.get(), data_.get() + begin_, live);
      data_ = std::move(grown);
      capacity_ = cap;
    }
  }
  begin_ = 0;
  end_ = live;
  return data_.get() + end_;
}

void OutputBuffer::Append(const void* data, size_t n) {
  if (n == 0) return;
  std::memcpy(Reserve(n), data, n);
  end_ += n;
}

void OutputBuffer::Consume(size_t n) {
  begin_ += n;
  if (begin_ == end_) Clear();
}

void OutputBuffer::Clear() {
  begin_ = end_ = 0;
  if (capacity_ > kKeepCapacity) {
    data_.reset();
    capacity_ = 0;
  }
}

void OutputBuffer::ReleaseIfEmpty() {
  if (!empty()) return;
  begin_ = end_ = 0;
  data_.reset();
  capacity_ = 0;
}

}  // namespace shortbus::io
