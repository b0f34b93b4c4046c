#pragma once
// Starting an executable as a process that is not our child, without
// copying our address space: clone(CLONE_VM|CLONE_VFORK) an intermediate on
// a stack of its own, which calls setsid, clones the target (CLONE_VM|
// CLONE_VFORK again) and exits. The target runs on our memory, while we are
// suspended, until its execve; an execve failure comes back through a
// shared slot. It is reparented to init (or the nearest subreaper), so a
// program that later execs in our place (and keeps our PID) never sees it
// as its child. No page table is copied (fork() of the launcher cost
// copy-on-write faults at ~25 us each).
//
// The collector's standby, which needs no exec at all, starts with
// freestanding/detached_clone.hpp instead; both share the child's set-up
// (freestanding/child_setup.hpp): descriptors placed, every disposition
// SIG_DFL, the mask set, our CPU affinity given back.
#include <signal.h>

#include <string>

namespace agent_run::launcher {

struct DetachedSpawn {
  const char* path = nullptr;         // executed as given (no PATH search); names the target in errors
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  // The target's descriptors: fd i is a copy of fds[i] (i < nfds); every
  // other descriptor is closed. fds[i] must be open in the caller.
  const int* fds = nullptr;
  int nfds = 0;
  // The target's signal mask across execve (null: nothing blocked). A
  // target that handles signals itself blocks them here, so that none
  // arrives before it reads them.
  const sigset_t* blocked = nullptr;
};

// Returns the target's PID once it has exec'd (the intermediate is reaped).
// On failure: -1, and `error` says which step failed and why (e.g. "cannot
// execute /x/collector: Permission denied").
int spawn_detached(const DetachedSpawn& spawn, std::string& error);

}  // namespace agent_run::launcher
