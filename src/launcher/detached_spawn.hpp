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
//   - run_in_place(arg, caller), without any exec: the target keeps our
//     address space, which becomes its own when we exec the program (or
//     exit). It runs at once, beside us, with its descriptors in place and
//     every signal blocked, on its own stack; until caller.wait() returns it
//     may use raw system calls only (raw_syscall.hpp: libc's wrappers would
//     write our errno) and read only what was made for it. This is how the
//     collector's standby starts for the price of two clones, and waits for
//     the app without even waking when we exec (collector_standby.hpp).
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
  // The target's signal mask across execve, or once an in-place target's
  // caller is gone (null: nothing blocked). A target that handles signals
  // itself blocks them here, so that none arrives before it reads them.
  const sigset_t* blocked = nullptr;
  // Set: no execve (path, argv and envp only name the target): the target
  // calls run_in_place(arg, caller) and exits when it returns. What it reads
  // must outlive this process's use of its memory: made for it and never
  // freed.
  void (*run_in_place)(void* arg, class CallerGone& caller) = nullptr;
  void* arg = nullptr;
};

// An in-place target's wait for the caller (the process that spawned it) to
// exec or exit.
class CallerGone {
 public:
  // spawn_detached makes it: the read end of the caller's pipe, and the mask
  // to set once the caller is gone.
  CallerGone(int pipe_fd, const sigset_t* blocked) : pipe_fd_(pipe_fd), blocked_(blocked) {}
  // Blocks until then (a close-on-exec pipe of the caller's hangs up). From
  // its return the memory is the target's alone and all of libc may be
  // used; every signal disposition is SIG_DFL and the signal mask is
  // DetachedSpawn::blocked. Returns at once when called again.
  void wait();

 private:
  int pipe_fd_;
  const sigset_t* blocked_;
};

// Returns the target's PID (the intermediate is reaped): once it has exec'd,
// or at once with run_in_place. On failure: -1, and `error` says which
// step failed and why (e.g. "cannot execute /x/collector: Permission denied").
int spawn_detached(const DetachedSpawn& spawn, std::string& error);

}  // namespace agent_run::launcher
