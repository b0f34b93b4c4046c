#include "hook/spans/ids.hpp"

#include <pthread.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

namespace agent_run::spans {
namespace {

std::atomic<uint64_t> g_generation{1};
std::atomic<uint64_t> g_reseeds{0};
std::atomic<uint64_t> g_seed_counter{0};

inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

inline uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

struct Xoshiro {
  uint64_t s[4] = {0, 0, 0, 0};
  uint64_t generation = 0;

  // Out of line: it runs once per thread and after a fork, and inlined it
  // would spread every id's few hot lines over a cold kilobyte.
  __attribute__((noinline, cold)) void seed() {
    uint64_t entropy[4] = {0, 0, 0, 0};
    ssize_t got = getrandom(entropy, sizeof entropy, GRND_NONBLOCK);
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    // Mixed in even when getrandom worked: two processes forked from one
    // parent must differ even if the kernel's pool were somehow unavailable.
    uint64_t x = entropy[0] ^ (uint64_t(getpid()) << 32) ^ uint64_t(syscall(SYS_gettid)) ^
                 (uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec)) ^
                 (g_seed_counter.fetch_add(1, std::memory_order_relaxed) * 0xd1b54a32d192ed03ull) ^
                 reinterpret_cast<uintptr_t>(this);
    if (got != ssize_t(sizeof entropy)) std::memset(entropy, 0, sizeof entropy);
    for (int i = 0; i < 4; ++i) s[i] = splitmix64(x) ^ entropy[i];
    if ((s[0] | s[1] | s[2] | s[3]) == 0) s[0] = 1;
    g_reseeds.fetch_add(1, std::memory_order_relaxed);
  }

  inline uint64_t next() {
    uint64_t gen = g_generation.load(std::memory_order_relaxed);
    if (__builtin_expect(gen != generation, 0)) {
      seed();
      generation = gen;
    }
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
};

// initial-exec: a fixed offset from the thread pointer instead of a
// __tls_get_addr call per access (a few bytes of glibc's static TLS reserve).
thread_local Xoshiro t_rng __attribute__((tls_model("initial-exec")));

void atfork_child() { g_generation.fetch_add(1, std::memory_order_relaxed); }

struct AtforkRegistration {
  AtforkRegistration() { pthread_atfork(nullptr, nullptr, atfork_child); }
} g_atfork_registration;

}  // namespace

uint64_t random_u64() { return t_rng.next(); }

void new_trace_id(uint8_t out[16]) {
  uint64_t a, b;
  do {
    a = t_rng.next();
    b = t_rng.next();
  } while ((a | b) == 0);
  std::memcpy(out, &a, 8);
  std::memcpy(out + 8, &b, 8);
}

void new_span_id(uint8_t out[8]) {
  uint64_t a;
  do {
    a = t_rng.next();
  } while (a == 0);
  std::memcpy(out, &a, 8);
}

uint64_t reseed_count() { return g_reseeds.load(std::memory_order_relaxed); }

}  // namespace agent_run::spans
