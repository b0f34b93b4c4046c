#pragma once
// Span timestamps: CLOCK_MONOTONIC (never jumps back, vDSO-fast) anchored
// once per process to CLOCK_REALTIME, so that start/end are wall-clock
// nanoseconds since the epoch (as OTLP wants) and durations stay exact even
// when the wall clock is stepped. The monotonic clock is system wide, so the
// anchor stays valid in forked children.
#include <cstdint>

namespace agent_run::spans {

uint64_t monotonic_ns();
// Wall-clock nanoseconds since the epoch for a monotonic reading.
uint64_t to_unix_ns(uint64_t mono_ns);
inline uint64_t now_unix_ns() { return to_unix_ns(monotonic_ns()); }

}  // namespace agent_run::spans
