#pragma once
// W3C trace context ids: 16-byte trace ids and 8-byte span ids from a fast
// per-thread xoshiro256** generator. Each thread's state is seeded from
// getrandom() mixed with the pid, the thread and a counter; a pthread_atfork
// child handler bumps a generation number so that every thread of a forked
// child reseeds before its next id (a pre-fork server's workers never share
// a sequence with each other or with the master).
#include <cstdint>

namespace agent_run::spans {

void new_trace_id(uint8_t out[16]);  // never all zero
void new_span_id(uint8_t out[8]);    // never all zero
uint64_t random_u64();

// For tests: how many times this process has (re)seeded a generator.
uint64_t reseed_count();

}  // namespace agent_run::spans
