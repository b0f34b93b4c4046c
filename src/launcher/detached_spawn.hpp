#pragma once
// Starting a process that is not our child, without copying our address
// space: clone(CLONE_VM|CLONE_VFORK) an intermediate on a stack of its own,
// which calls setsid and clones the target the same way, then exits. The
// target is reparented to init (or the nearest subreaper), so a program that
// later execs in our place (and keeps our PID) never sees it as its child.
//
// Neither child copies the page tables (fork() of the launcher cost
// copy-on-write faults at ~25 us each), and both share our memory while we
// are suspended, so: every signal is blocked around the clones, the target
// resets every disposition to SIG_DFL before it sets its own mask (empty, or
// DetachedSpawn::blocked), and an execve
// failure comes back through a shared errno slot.
#include <signal.h>

#include <string>

namespace agent_run::launcher {

struct DetachedSpawn {
  const char* path = nullptr;         // executed as given (no PATH search)
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  // The target's descriptors: fd i is a copy of fds[i] (i < nfds); every
  // other descriptor is closed. fds[i] must be open in the caller.
  const int* fds = nullptr;
  int nfds = 0;
  // The target's signal mask across execve (null: nothing blocked). A target
  // that handles signals itself blocks them here, so that none arrives
  // between its exec and its own sigprocmask with the default action.
  const sigset_t* blocked = nullptr;
};

// Returns the target's PID once it has exec'd (the intermediate is reaped).
// On failure: -1, and `error` says which step failed and why (e.g. "cannot
// execute /x/collector: Permission denied").
int spawn_detached(const DetachedSpawn& spawn, std::string& error);

}  // namespace agent_run::launcher
