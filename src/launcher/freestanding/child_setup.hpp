#pragma once
// What a detached child does to itself before it runs (detached_clone.cpp,
// and the launcher's exec'ing spawn, detached_spawn.cpp), and the CPU pin
// around the clones. Freestanding: raw system calls only, so a child that
// shares the caller's memory may run it.
#include <stdint.h>

namespace agent_run::launcher::freestanding {

constexpr int kMaxPlacedFds = 16;
constexpr long kKernelSigsetBytes = 8;  // the kernel's sigset (64 signals), not glibc's 128 bytes

struct CpuSet {
  unsigned char bits[128];
};

// fd i becomes a copy of fds[i] (i < n <= kMaxPlacedFds); every other
// descriptor is closed. Returns 0 or -errno.
long place_fds(const int* fds, int n);

// Every signal disposition to SIG_DFL: a handler of the caller's must never
// run in the child, and an ignored SIGTERM (say from nohup) must not be
// inherited.
void default_dispositions();

// The signal mask (bit signal - 1); `old` gets the previous one.
void set_signal_mask(uint64_t mask, uint64_t* old = nullptr);

// Pins this thread to the CPU it runs on; `before` gets the affinity to
// restore. False (nothing changed) where affinity cannot be read or set.
bool pin_to_this_cpu(CpuSet& before);

// Gives back an affinity (should it be refused, a cpuset changed meanwhile:
// every CPU, which the kernel keeps within the cpuset).
void restore_affinity(const CpuSet& cpus);

void copy_cpus(const CpuSet& from, CpuSet& to);

}  // namespace agent_run::launcher::freestanding
