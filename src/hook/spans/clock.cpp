#include "hook/spans/clock.hpp"

#include <time.h>

namespace agent_run::spans {
namespace {

inline uint64_t read(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

struct Anchor {
  int64_t offset;  // realtime - monotonic, at the anchor
  Anchor() {
    // Take the realtime reading between two monotonic ones, use the midpoint.
    uint64_t m0 = read(CLOCK_MONOTONIC);
    uint64_t r = read(CLOCK_REALTIME);
    uint64_t m1 = read(CLOCK_MONOTONIC);
    offset = int64_t(r) - int64_t(m0 + (m1 - m0) / 2);
  }
};

const Anchor& anchor() {
  static const Anchor a;
  return a;
}

[[maybe_unused]] const Anchor& g_eager_anchor = anchor();  // anchored at load time

}  // namespace

uint64_t monotonic_ns() { return read(CLOCK_MONOTONIC); }

uint64_t to_unix_ns(uint64_t mono_ns) { return uint64_t(int64_t(mono_ns) + anchor().offset); }

}  // namespace agent_run::spans
