#include "launcher/detached_spawn.hpp"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

namespace agent_run::launcher {

namespace {

constexpr int kMaxFds = 16;
// Each child runs a few libc wrappers (no allocation, no stdio): a page or
// two of stack. Only the pages touched are faulted in.
constexpr size_t kStackBytes = 32 * 1024;

// Lives in the caller's frame; both children write to it while the caller is
// suspended (CLONE_VFORK), so it is read only after the first clone returns.
struct Shared {
  const DetachedSpawn* spawn;
  char* target_stack_top;
  volatile int error;          // errno of the failed step, 0 if none
  const char* volatile step;   // which step failed
  volatile pid_t target_pid;
};

void fail(Shared* s, const char* step, int err) {
  s->error = err;
  s->step = step;
}

void close_from(int first) {
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, first, ~0U, 0) == 0) return;
#endif
  long max = ::sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > 65536) max = 65536;
  for (int fd = first; fd < max; ++fd) ::close(fd);
}

// The target: runs on the launcher's memory until execve replaces it. Only
// async-signal-safe calls, no allocation, no writes but to `Shared`.
int target_main(void* arg) {
  Shared* s = static_cast<Shared*>(arg);
  const DetachedSpawn& sp = *s->spawn;

  // A handler of the launcher's must never run here (the memory is the
  // launcher's), and the program starts with default dispositions (an ignored
  // SIGTERM, say from nohup, would otherwise be inherited). Then unblock.
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < _NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);  // reserved ones fail: fine

  // Copy each wanted descriptor above the target range first, so that
  // placing one never overwrites the source of another; dup2 clears
  // close-on-exec on the copies; then close everything else.
  int high[kMaxFds];
  for (int i = 0; i < sp.nfds; ++i) {
    high[i] = ::fcntl(sp.fds[i], F_DUPFD_CLOEXEC, sp.nfds);
    if (high[i] < 0) {
      fail(s, "cannot pass a descriptor to", errno);
      ::_exit(127);
    }
  }
  for (int i = 0; i < sp.nfds; ++i) {
    if (::dup2(high[i], i) < 0) {
      fail(s, "cannot pass a descriptor to", errno);
      ::_exit(127);
    }
  }
  close_from(sp.nfds);
  if (::chdir("/") != 0) {
    // Not needed to run: the target only keeps no directory busy.
  }

  sigset_t mask;
  if (sp.blocked)
    mask = *sp.blocked;
  else
    sigemptyset(&mask);
  ::sigprocmask(SIG_SETMASK, &mask, nullptr);
  ::execve(sp.path, sp.argv, sp.envp);
  fail(s, "cannot execute", errno);
  ::_exit(127);
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
  pid_t pid = ::clone(target_main, s->target_stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, s);
  if (pid < 0)
    fail(s, "clone() failed for", errno);
  else
    s->target_pid = pid;
  ::_exit(0);
}

}  // namespace

int spawn_detached(const DetachedSpawn& sp, std::string& error) {
  if (sp.nfds < 0 || sp.nfds > kMaxFds) {
    error = "spawn_detached: too many descriptors";
    return -1;
  }
  // Two stacks, mapped (only the pages the children touch are faulted in; an
  // array in this frame would be probed page by page under
  // -fstack-clash-protection). Stacks grow down on every architecture this
  // builds for: pass their tops.
  void* map = ::mmap(nullptr, 2 * kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (map == MAP_FAILED) {
    error = std::string("cannot map a stack to start ") + sp.path + ": " + std::strerror(errno);
    return -1;
  }
  char* stacks = static_cast<char*>(map);
  Shared s{};
  s.spawn = &sp;
  s.target_stack_top = stacks + 2 * kStackBytes;
  s.error = 0;
  s.step = nullptr;
  s.target_pid = -1;

  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t mid = ::clone(intermediate_main, stacks + kStackBytes, CLONE_VM | CLONE_VFORK | SIGCHLD, &s);
  int clone_errno = errno;
  if (mid > 0) {
    // Reap it now: the program that execs in our place would otherwise
    // inherit a zombie child (gunicorn's and uWSGI's masters log unknown ones).
    // ECHILD: SIGCHLD is ignored here and the kernel reaped it.
    while (::waitpid(mid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::munmap(map, 2 * kStackBytes);

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
