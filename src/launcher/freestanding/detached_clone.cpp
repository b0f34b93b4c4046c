#include "launcher/freestanding/detached_clone.hpp"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>

#include "launcher/freestanding/child_setup.hpp"
#include "launcher/freestanding/raw_clone.hpp"
#include "common/raw_syscall.hpp"

namespace agent_run::launcher::freestanding {

namespace {

// The intermediate runs a few system calls; the target runs the standby (a
// few pages). Only the pages touched are faulted in.
constexpr unsigned long kIntermediateStackBytes = 16 * 1024;
constexpr unsigned long kTargetStackBytes = 64 * 1024;

// Above the target's stack, in the mapping the caller never unmaps: what
// the target reads while the caller runs on.
struct TargetData {
  int fds[kMaxPlacedFds];
  int nfds;
  uint64_t blocked;
  void (*run)(void*);
  void* arg;
  bool restore_cpus;
  CpuSet cpus;
};

// The intermediate's view; in the caller's frame, which is suspended until
// the intermediate exits (CLONE_VFORK).
struct Shared {
  TargetData* target;
  char* target_stack_top;
  volatile long result;  // the target's PID or -errno
  const char* volatile step;
};

int target_main(void* arg) {
  TargetData* t = static_cast<TargetData*>(arg);
  // The caller's descriptors go first: a copy of its stdout pipe kept open
  // would keep a reader of the app's output waiting for EOF.
  if (place_fds(t->fds, t->nfds) < 0) raw_syscall(SYS_exit_group, 127);
  raw_syscall(SYS_chdir, long("/"));  // keeps no directory busy; a failure is harmless
  set_signal_mask(t->blocked);
  t->run(t->arg);
  raw_syscall(SYS_exit_group, 0);
  return 0;
}

// A new session, the target in it, and exit, so that the target is
// reparented away from the caller (and from the program that execs in its
// place). It is in the session but not its leader: it can never acquire a
// controlling terminal.
int intermediate_main(void* arg) {
  Shared* s = static_cast<Shared*>(arg);
  const long sid = raw_syscall(SYS_setsid);
  if (sid < 0) {
    s->result = sid;
    s->step = "setsid";
    return 1;
  }
  // The target is not waited for: with the caller's affinity back, it
  // starts on the idlest CPU and runs beside the caller instead of taking
  // turns with it on the CPU the caller pinned.
  if (s->target->restore_cpus) restore_affinity(s->target->cpus);
  const long pid = raw_clone(CLONE_VM | SIGCHLD, s->target_stack_top, target_main, s->target);
  s->result = pid;
  if (pid < 0) s->step = "clone";
  return 0;
}

}  // namespace

long spawn_in_place(const InPlaceTarget& t, const char** step) {
  *step = "spawn";
  if (t.nfds < 0 || t.nfds > kMaxPlacedFds || !t.run) return -EINVAL;
  // The stacks and TargetData above the target's, mapped: only the pages
  // the children touch are faulted in. Stacks grow down on every
  // architecture this builds for: pass their tops.
  const unsigned long map_bytes = kIntermediateStackBytes + kTargetStackBytes + sizeof(TargetData);
  const long map = raw_syscall(SYS_mmap, 0, long(map_bytes), PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (map < 0) {
    *step = "mmap";
    return map;
  }
  char* base = reinterpret_cast<char*>(map);
  char* target_top = base + kIntermediateStackBytes + kTargetStackBytes;
  TargetData* data = reinterpret_cast<TargetData*>(target_top);
  for (int i = 0; i < t.nfds; ++i) data->fds[i] = t.fds[i];
  data->nfds = t.nfds;
  data->blocked = t.blocked;
  data->run = t.run;
  data->arg = t.arg;
  // The intermediate runs on this CPU (it inherits the affinity) while we
  // wait for it: a new task goes to the idlest CPU, and waking an idle vCPU
  // took 100-400 us on the build VM. It gives the target the affinity back.
  CpuSet before;
  data->restore_cpus = pin_to_this_cpu(before);
  if (data->restore_cpus) copy_cpus(before, data->cpus);

  Shared s;
  s.target = data;
  s.target_stack_top = target_top;
  s.result = -ECHILD;
  s.step = "clone";
  uint64_t old_mask = 0;
  set_signal_mask(~uint64_t(0), &old_mask);
  const long mid = raw_clone(CLONE_VM | CLONE_VFORK | CLONE_FILES | CLONE_FS | CLONE_SIGHAND | SIGCHLD,
                             base + kIntermediateStackBytes, intermediate_main, &s);
  if (mid > 0) {
    // Reap it now: the program that execs in our place would otherwise
    // inherit a zombie child (gunicorn's and uWSGI's masters log unknown
    // ones). ECHILD: SIGCHLD is ignored here and the kernel reaped it.
    while (raw_syscall(SYS_wait4, mid, 0, 0, 0) == -EINTR) {
    }
  }
  set_signal_mask(old_mask);
  if (data->restore_cpus) restore_affinity(before);

  if (mid < 0 || s.result < 0) {
    raw_syscall(SYS_munmap, map, long(map_bytes));
    *step = mid < 0 ? "clone" : s.step;
    return mid < 0 ? mid : s.result;
  }
  return s.result;  // the mapping is the target's: never unmapped here (our exec hands it over)
}

}  // namespace agent_run::launcher::freestanding
