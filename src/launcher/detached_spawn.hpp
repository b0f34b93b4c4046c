#pragma once
// Starting a process that is not our child, without copying our address
// space: clone(CLONE_VM|CLONE_VFORK) an intermediate on a stack of its own,
// which calls setsid, clones the target and exits. The target is reparented
// to init (or the nearest subreaper), so a program that later execs in our
// place (and keeps our PID) never sees it as its child. No page table is
// copied (fork() of the launcher cost copy-on-write faults at ~25 us each).
//
// The target then does one of two things:
//   - execve(path): it runs on our memory until then, while we are suspended
//     (CLONE_VFORK), and an execve failure comes back through a shared slot;
//   - run_after_caller(arg), without any exec: the target keeps our address
//     space, which becomes its own when we exec the program (or exit). Until
//     then it runs beside us, so it only moves its descriptors and waits
//     (raw system calls on its own stack: no errno, no allocation), for a
//     close-on-exec pipe of ours to hang up. This is how the collector's
//     standby starts for the price of two clones (collector_standby.hpp).
// Either way every signal is blocked around the clones, and the target
// resets every disposition to SIG_DFL before it sets its own mask (empty, or
// DetachedSpawn::blocked). The intermediate shares our descriptor table,
// filesystem context and signal handlers (it changes none of them), and
// both children run on our CPU while we wait for them (we pin ourselves
// around the clones; each restores the caller's affinity): waking an idle
// vCPU for them cost 100-400 us on the build VM.
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
  // The target's signal mask across execve, or while run_after_caller runs
  // (null: nothing blocked). A target that handles signals itself blocks
  // them here, so that none arrives before it reads them.
  const sigset_t* blocked = nullptr;
  // Set: no execve (path, argv and envp only name the target); the target
  // calls run_after_caller(arg) once this process has exec'd or exited, and
  // exits when it returns. What it reads must outlive this process's use of
  // its memory: allocated for it and never freed.
  void (*run_after_caller)(void* arg) = nullptr;
  void* arg = nullptr;
};

// Returns the target's PID (the intermediate is reaped): once it has exec'd,
// or at once with run_after_caller. On failure: -1, and `error` says which
// step failed and why (e.g. "cannot execute /x/collector: Permission denied").
int spawn_detached(const DetachedSpawn& spawn, std::string& error);

}  // namespace agent_run::launcher
