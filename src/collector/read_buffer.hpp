#pragma once
// A connection's receive buffer. A flusher sends a batch of spans as one
// message, often a megabyte or more, and the whole message is read before it
// is decoded: growing a std::vector for it zero-filled every byte first (a
// visible share of the collector's CPU under load). This one grows without
// filling, keeping the bytes already received.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>

namespace agent_run::collector {

class ReadBuffer {
 public:
  uint8_t* data() { return data_.get(); }
  size_t size() const { return size_; }

  // n bytes; the first min(keep, n) are kept, the rest are uninitialized.
  void resize(size_t n, size_t keep) {
    std::unique_ptr<uint8_t[]> fresh(new uint8_t[n]);
    if (keep > 0) std::memcpy(fresh.get(), data_.get(), std::min(keep, n));
    data_ = std::move(fresh);
    size_ = n;
  }

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0;
};

}  // namespace agent_run::collector
