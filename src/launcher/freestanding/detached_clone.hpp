#pragma once
// A process that is not our child and needs no exec: clone(CLONE_VM) an
// intermediate (suspended-parent, CLONE_VFORK), which calls setsid, clones
// the target with CLONE_VM on a stack of its own and exits. The target is
// reparented to init (or the nearest subreaper), so the program that later
// execs in our place (and keeps our PID) never sees it as its child; and it
// keeps our address space, which becomes its own when we exec (or exit):
// no exec, no page table copied. This is how the collector's standby starts
// for the price of two clones (collector_standby.hpp).
//
// The target runs at once, beside us, on our memory and (until we exec) our
// thread pointer: it may use raw system calls only and read only what was
// made for it and is never changed or freed. It starts with its descriptors
// in place (fd i a copy of fds[i], every other one closed), in "/", with
// `blocked` as its signal mask and our signal dispositions: the caller must
// have no signal handler (neither launcher installs one), and a target that
// execs resets any ignored disposition it must not pass on
// (child_setup.hpp). It exits (exit_group(0)) when run returns.
//
// Every signal is blocked in the caller around the clones. The intermediate
// shares our descriptor table, filesystem context and signal handlers (it
// changes none of them) and runs on our CPU while we wait for it (we pin
// ourselves around the clones: waking an idle vCPU for it cost 100-400 us
// on the build VM); it gives the target our affinity back before cloning
// it, so the target runs beside us rather than in turns with us.
// Freestanding: the launcher and the quick launch use it.
#include <stdint.h>

#include "launcher/freestanding/child_setup.hpp"

namespace agent_run::launcher::freestanding {

struct InPlaceTarget {
  const int* fds = nullptr;  // fds[i] must be open in the caller
  int nfds = 0;
  uint64_t blocked = 0;      // the kernel's signal mask: bit (signal - 1)
  void (*run)(void* arg) = nullptr;
  void* arg = nullptr;
};

// The target's PID, or -errno; *step then names what failed ("clone",
// "setsid", ...).
long spawn_in_place(const InPlaceTarget& target, const char** step);

}  // namespace agent_run::launcher::freestanding
