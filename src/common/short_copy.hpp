#pragma once
// Copies of the short strings spans are made of (keys, methods, names,
// paths): with two overlapping fixed-size moves, inline, instead of a
// memcpy call. Every read stays inside the source's n bytes and every write
// inside the destination's. Used by the span encoder (wire) and the
// collector's JSON writer.
#include <cstddef>
#include <cstring>

namespace agent_run {

inline void copy_short(void* dst, const void* src, size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  auto* s = static_cast<const unsigned char*>(src);
  if (n >= 8 && n <= 16) {
    std::memcpy(d, s, 8);
    std::memcpy(d + n - 8, s + n - 8, 8);
  } else if (n >= 4 && n < 8) {
    std::memcpy(d, s, 4);
    std::memcpy(d + n - 4, s + n - 4, 4);
  } else if (n > 16) {
    std::memcpy(d, s, n);
  } else {
    for (size_t i = 0; i < n; ++i) d[i] = s[i];
  }
}

}  // namespace agent_run
