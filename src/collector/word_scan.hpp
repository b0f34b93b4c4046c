#pragma once
// Eight bytes at a time over a short string: the collector checks every
// string it receives (UTF-8) and writes (JSON escapes), and most are a few
// to a few dozen bytes, for which a byte loop over the tail cost more than
// the words before it.
#include <cstddef>
#include <cstdint>

#include "common/unaligned_load.hpp"

namespace agent_run::collector {

// The OR of bits(w) over 8-byte words that together hold every byte of
// p[0..n), some bytes twice, and no byte outside it: for tests that ask
// whether any byte is of a kind (order and repeats do not matter).
template <typename Bits>
inline uint64_t any_byte_bits(const char* p, size_t n, Bits bits) {
  if (n >= 8) {
    uint64_t acc = 0;
    size_t i = 0;
    for (; i + 8 < n; i += 8) acc |= bits(load_native_u64(p + i));
    return acc | bits(load_native_u64(p + n - 8));  // the last eight, overlapping
  }
  if (n >= 4) return bits(uint64_t(load_native_u32(p)) | uint64_t(load_native_u32(p + n - 4)) << 32);
  if (n == 0) return 0;
  // 1-3 bytes: p[0], p[n/2] and p[n-1] are all of them; p[0] fills the rest.
  const uint64_t b0 = static_cast<unsigned char>(p[0]);
  const uint64_t b1 = static_cast<unsigned char>(p[n / 2]);
  const uint64_t b2 = static_cast<unsigned char>(p[n - 1]);
  return bits((b0 * 0x0101010101010101ull & ~0xFFFF00ull) | b1 << 8 | b2 << 16);
}

}  // namespace agent_run::collector
