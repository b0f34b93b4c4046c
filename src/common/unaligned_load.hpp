#pragma once
// Native-order integers loaded from any address: a memcpy, which compiles to
// one move on CPUs that load unaligned words (x86-64, arm64). The wire
// decoder (a little-endian format) and the collector's eight-bytes-at-a-time
// string scans read through these.
#include <cstdint>
#include <cstring>

namespace agent_run {

inline uint32_t load_native_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

inline uint64_t load_native_u64(const void* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

}  // namespace agent_run
