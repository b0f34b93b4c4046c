#include "launcher/detached_spawn.hpp"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <new>

#include "launcher/raw_syscall.hpp"

#ifndef SYS_close_range
#define SYS_close_range 436  // the same on every architecture
#endif

namespace agent_run::launcher {

namespace {

constexpr int kMaxFds = 16;
// The intermediate runs a few libc wrappers: a page or two. The target runs
// a few wrappers before its execve, or the whole run_in_place (the
// collector's standby: a few pages). Only the pages touched are faulted in.
constexpr size_t kIntermediateStackBytes = 16 * 1024;
constexpr size_t kTargetStackBytes = 64 * 1024;

// What a target started with run_in_place reads while the caller runs
// on: in the mapping above its stack, which the caller never unmaps.
struct InPlace {
  int fds[kMaxFds + 1];  // the caller's fds, then the read end of the pipe that hangs up at its exec
  int nfds = 0;
  bool restore_cpus = false;  // the spawn pinned us to one CPU: restore `cpus`
  cpu_set_t cpus;
  sigset_t blocked;
  void (*run)(void*, CallerGone&) = nullptr;
  void* arg = nullptr;
};

// Lives in the caller's frame; the intermediate (and an exec'ing target)
// write to it while the caller is suspended (CLONE_VFORK), so it is read
// only after the first clone returns.
struct Shared {
  const DetachedSpawn* spawn;
  const cpu_set_t* cpus;       // the caller's affinity, if the spawn pinned it
  char* target_stack_top;
  InPlace* in_place;           // null: the target execs
  volatile int error;          // errno of the failed step, 0 if none
  const char* volatile step;   // which step failed
  volatile pid_t target_pid;
};

void fail(Shared* s, const char* step, int err) {
  s->error = err;
  s->step = step;
}

// fd i becomes a copy of fds[i]: each is first copied above the range, so
// that placing one never overwrites the source of another (dup3 clears
// close-on-exec on the copies); then everything from n up is closed. Raw
// system calls: an in-place target runs this beside the caller.
// Returns 0 or -errno.
long place_fds(const int* fds, int n) {
  int high[kMaxFds + 1];
  for (int i = 0; i < n; ++i) {
    const long fd = raw_syscall(SYS_fcntl, fds[i], F_DUPFD_CLOEXEC, n);
    if (fd < 0) return fd;
    high[i] = int(fd);
  }
  for (int i = 0; i < n; ++i) {
    const long rc = raw_syscall(SYS_dup3, high[i], i, 0);
    if (rc < 0) return rc;
  }
  if (raw_syscall(SYS_close_range, n, long(~0U), 0) == 0) return 0;
  rlimit lim{};
  long max = raw_syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, long(&lim)) == 0 ? long(lim.rlim_cur) : 1024;
  if (max > 65536) max = 65536;
  for (long fd = n; fd < max; ++fd) raw_syscall(SYS_close, fd);
  return 0;
}

// Every disposition to SIG_DFL (a handler of the caller's must never run in
// the target, and an ignored SIGTERM, say from nohup, must not be
// inherited). The mask is left as it is: every signal blocked.
void default_dispositions() {
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < _NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);  // reserved ones fail: fine
}

// Gives back the affinity the spawn took away: the program that execs in
// our place and the target inherit it, and a pre-fork server pinned to one
// CPU would be a disaster. Should the old set be refused (a cpuset changed
// meanwhile), every CPU: the kernel keeps it within the cpuset. Raw system
// calls: an in-place target runs this beside the caller.
void restore_affinity(const cpu_set_t& cpus) {
  if (raw_syscall(SYS_sched_setaffinity, 0, sizeof cpus, long(&cpus)) == 0) return;
  cpu_set_t all;
  std::memset(&all, 0xff, sizeof all);
  raw_syscall(SYS_sched_setaffinity, 0, sizeof all, long(&all));
}

// Pins this thread to the CPU it runs on; `before` gets the affinity to
// restore. False (nothing changed) where affinity cannot be read or set.
bool pin_to_this_cpu(cpu_set_t& before) {
  const int cpu = ::sched_getcpu();
  if (cpu < 0 || ::sched_getaffinity(0, sizeof before, &before) != 0 || !CPU_ISSET(cpu, &before)) return false;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  return ::sched_setaffinity(0, sizeof one, &one) == 0;
}

sigset_t wanted_mask(const DetachedSpawn& sp) {
  sigset_t mask;
  if (sp.blocked)
    mask = *sp.blocked;
  else
    sigemptyset(&mask);
  return mask;
}

// The exec'ing target: runs on the caller's memory, the caller suspended,
// until execve replaces it. No allocation, no writes but to `Shared`.
int exec_target_main(void* arg) {
  Shared* s = static_cast<Shared*>(arg);
  const DetachedSpawn& sp = *s->spawn;
  default_dispositions();
  if (const long rc = place_fds(sp.fds, sp.nfds); rc < 0) {
    fail(s, "cannot pass a descriptor to", int(-rc));
    ::_exit(127);
  }
  if (::chdir("/") != 0) {
    // Not needed to run: the target only keeps no directory busy.
  }
  if (s->cpus) restore_affinity(*s->cpus);
  const sigset_t mask = wanted_mask(sp);
  ::sigprocmask(SIG_SETMASK, &mask, nullptr);
  ::execve(sp.path, sp.argv, sp.envp);
  fail(s, "cannot execute", errno);
  ::_exit(127);
}

// The in-place target: runs `run` beside the caller, which shares its
// memory and thread pointer (so errno too) until the pipe hangs up. Until
// then raw system calls only, on its own stack, reading only `InPlace`;
// every signal stays blocked.
int in_place_target_main(void* arg) {
  InPlace* ip = static_cast<InPlace*>(arg);
  if (ip->restore_cpus) restore_affinity(ip->cpus);
  if (place_fds(ip->fds, ip->nfds) < 0) raw_syscall(SYS_exit_group, 127);
  raw_syscall(SYS_chdir, long("/"));  // keeps no directory busy; a failure is harmless
  CallerGone caller(ip->nfds - 1, &ip->blocked);
  ip->run(ip->arg, caller);
  caller.wait();  // _exit runs libc's exit code: never beside the caller
  ::_exit(0);
}

// The intermediate: a new session, the target in it, and exit, so that the
// target is reparented away from the launcher (and from the program that
// execs in its place). It is in the session but not its leader: it can never
// acquire a controlling terminal.
int intermediate_main(void* arg) {
  Shared* s = static_cast<Shared*>(arg);
  if (::setsid() < 0) {
    fail(s, "setsid() failed for", errno);
    ::_exit(1);
  }
  pid_t pid = s->in_place
                  ? ::clone(in_place_target_main, s->target_stack_top, CLONE_VM | SIGCHLD, s->in_place)
                  : ::clone(exec_target_main, s->target_stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, s);
  if (pid < 0)
    fail(s, "clone() failed for", errno);
  else
    s->target_pid = pid;
  ::_exit(0);
}

}  // namespace

void CallerGone::wait() {
  if (pipe_fd_ < 0) return;
  for (;;) {
    pollfd p{pipe_fd_, POLLIN, 0};
    const long rc = raw_syscall(SYS_ppoll, long(&p), 1, 0, 0);
    if (rc > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL))) break;
    if (rc < 0 && rc != -EINTR) break;
  }
  raw_syscall(SYS_close, pipe_fd_);
  pipe_fd_ = -1;
  // The caller has exec'd (or exited): its old memory is ours alone, libc included.
  default_dispositions();
  ::sigprocmask(SIG_SETMASK, blocked_, nullptr);
}

int spawn_detached(const DetachedSpawn& sp, std::string& error) {
  const bool in_place = sp.run_in_place != nullptr;
  if (sp.nfds < 0 || sp.nfds > kMaxFds) {
    error = "spawn_detached: too many descriptors";
    return -1;
  }
  // In place, the target waits for this pipe to hang up: its write end is
  // ours alone (close-on-exec), so that happens when we exec or exit.
  int exec_pipe[2] = {-1, -1};
  if (in_place && ::pipe2(exec_pipe, O_CLOEXEC) != 0) {
    error = std::string("cannot make a pipe to start ") + sp.path + ": " + std::strerror(errno);
    return -1;
  }
  auto close_pipe = [&] {
    for (int fd : exec_pipe)
      if (fd >= 0) ::close(fd);
  };
  // The stacks (and InPlace above the target's), mapped: only the pages the
  // children touch are faulted in (an array in this frame would be probed
  // page by page under -fstack-clash-protection). Stacks grow down on every
  // architecture this builds for: pass their tops.
  const size_t map_bytes = kIntermediateStackBytes + kTargetStackBytes + sizeof(InPlace);
  void* map = ::mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (map == MAP_FAILED) {
    error = std::string("cannot map a stack to start ") + sp.path + ": " + std::strerror(errno);
    close_pipe();
    return -1;
  }
  char* base = static_cast<char*>(map);
  Shared s{};
  s.spawn = &sp;
  s.target_stack_top = base + kIntermediateStackBytes + kTargetStackBytes;
  s.in_place = nullptr;
  s.cpus = nullptr;
  s.error = 0;
  s.step = nullptr;
  s.target_pid = -1;
  if (in_place) {
    InPlace* ip = new (s.target_stack_top) InPlace;
    for (int i = 0; i < sp.nfds; ++i) ip->fds[i] = sp.fds[i];
    ip->fds[sp.nfds] = exec_pipe[0];
    ip->nfds = sp.nfds + 1;
    ip->blocked = wanted_mask(sp);
    ip->run = sp.run_in_place;
    ip->arg = sp.arg;
    s.in_place = ip;
  }

  // The children run on this CPU (they inherit the affinity) while we wait
  // for them: a new task goes to the idlest CPU, and waking an idle vCPU
  // took 100-400 us on the build VM. The targets restore the affinity for
  // themselves, and we do below.
  cpu_set_t cpus_before;
  const bool pinned = pin_to_this_cpu(cpus_before);
  s.cpus = pinned ? &cpus_before : nullptr;
  if (s.in_place) {
    s.in_place->restore_cpus = pinned;
    s.in_place->cpus = cpus_before;
  }
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  // The intermediate changes nothing but its session: it shares our
  // descriptor table, filesystem context and signal handlers instead of
  // copying them (a third of the spawn's cost on the build VM).
  pid_t mid = ::clone(intermediate_main, base + kIntermediateStackBytes,
                      CLONE_VM | CLONE_VFORK | CLONE_FILES | CLONE_FS | CLONE_SIGHAND | SIGCHLD, &s);
  int clone_errno = errno;
  if (mid > 0) {
    // Reap it now: the program that execs in our place would otherwise
    // inherit a zombie child (gunicorn's and uWSGI's masters log unknown ones).
    // ECHILD: SIGCHLD is ignored here and the kernel reaped it.
    while (::waitpid(mid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pinned) restore_affinity(cpus_before);

  const bool started = mid > 0 && s.error == 0 && s.target_pid > 0;
  if (in_place && started) {
    // The target runs on the mapping and reads InPlace: never unmapped here
    // (our exec hands it over). The write end stays open until then.
    ::close(exec_pipe[0]);
  } else {
    // No target, or one that has exec'd (or exited) already.
    ::munmap(map, map_bytes);
    close_pipe();
  }
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
