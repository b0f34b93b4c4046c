#include "launcher/detached_spawn.hpp"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "launcher/freestanding/child_setup.hpp"

namespace agent_run::launcher {

namespace fs = freestanding;

namespace {

// The intermediate and the target run a few libc wrappers: a page or two each.
constexpr size_t kIntermediateStackBytes = 16 * 1024;
constexpr size_t kTargetStackBytes = 16 * 1024;

// Lives in the caller's frame; the intermediate and the target write to it
// while the caller is suspended (CLONE_VFORK), so it is read only after
// the first clone returns.
struct Shared {
  const DetachedSpawn* spawn;
  const fs::CpuSet* cpus;      // the caller's affinity, if the spawn pinned it
  char* target_stack_top;
  volatile int error;          // errno of the failed step, 0 if none
  const char* volatile step;   // which step failed
  volatile pid_t target_pid;
};

void fail(Shared* s, const char* step, int err) {
  s->error = err;
  s->step = step;
}

// The target: runs on the caller's memory, the caller suspended, until
// execve replaces it. No allocation, no writes but to `Shared`.
int exec_target_main(void* arg) {
  Shared* s = static_cast<Shared*>(arg);
  const DetachedSpawn& sp = *s->spawn;
  fs::default_dispositions();
  if (const long rc = fs::place_fds(sp.fds, sp.nfds); rc < 0) {
    fail(s, "cannot pass a descriptor to", int(-rc));
    ::_exit(127);
  }
  if (::chdir("/") != 0) {
    // Not needed to run: the target only keeps no directory busy.
  }
  if (s->cpus) fs::restore_affinity(*s->cpus);
  sigset_t mask;
  if (sp.blocked) mask = *sp.blocked;
  else sigemptyset(&mask);
  ::sigprocmask(SIG_SETMASK, &mask, nullptr);
  ::execve(sp.path, sp.argv, sp.envp);
  fail(s, "cannot execute", errno);
  ::_exit(127);
}

// The intermediate: a new session, the target in it, and exit, so that the
// target is reparented away from the launcher (and from the program that
// execs in its place).
int intermediate_main(void* arg) {
  Shared* s = static_cast<Shared*>(arg);
  if (::setsid() < 0) {
    fail(s, "setsid() failed for", errno);
    ::_exit(1);
  }
  pid_t pid = ::clone(exec_target_main, s->target_stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, s);
  if (pid < 0) fail(s, "clone() failed for", errno);
  else s->target_pid = pid;
  ::_exit(0);
}

}  // namespace

int spawn_detached(const DetachedSpawn& sp, std::string& error) {
  if (sp.nfds < 0 || sp.nfds > fs::kMaxPlacedFds) {
    error = "spawn_detached: too many descriptors";
    return -1;
  }
  // Mapped stacks: only the pages the children touch are faulted in (an
  // array in this frame would be probed page by page under
  // -fstack-clash-protection). Stacks grow down: pass their tops.
  const size_t map_bytes = kIntermediateStackBytes + kTargetStackBytes;
  void* map = ::mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (map == MAP_FAILED) {
    error = std::string("cannot map a stack to start ") + sp.path + ": " + std::strerror(errno);
    return -1;
  }
  char* base = static_cast<char*>(map);
  Shared s{};
  s.spawn = &sp;
  s.target_stack_top = base + map_bytes;
  s.error = 0;
  s.step = nullptr;
  s.target_pid = -1;

  // The children run on this CPU while we wait for them (see the header).
  fs::CpuSet cpus_before;
  const bool pinned = fs::pin_to_this_cpu(cpus_before);
  s.cpus = pinned ? &cpus_before : nullptr;
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  // The intermediate changes nothing but its session: it shares our
  // descriptor table, filesystem context and signal handlers instead of
  // copying them.
  pid_t mid = ::clone(intermediate_main, base + kIntermediateStackBytes,
                      CLONE_VM | CLONE_VFORK | CLONE_FILES | CLONE_FS | CLONE_SIGHAND | SIGCHLD, &s);
  int clone_errno = errno;
  if (mid > 0) {
    // Reap it now: the program that execs in our place would otherwise
    // inherit a zombie child. ECHILD: SIGCHLD is ignored and the kernel reaped it.
    while (::waitpid(mid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pinned) fs::restore_affinity(cpus_before);
  ::munmap(map, map_bytes);  // the target has exec'd (or exited)

  if (mid < 0) {
    error = std::string("clone() failed for ") + sp.path + ": " + std::strerror(clone_errno);
    return -1;
  }
  if (s.error != 0) {
    error = std::string(s.step ? s.step : "cannot start") + " " + sp.path + ": " + std::strerror(s.error);
    return -1;
  }
  return s.target_pid;
}

}  // namespace agent_run::launcher
