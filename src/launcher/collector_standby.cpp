#include "launcher/collector_standby.hpp"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "collector/app_watch.hpp"
#include "collector/handover.hpp"
#include "common/write_all.hpp"
#include "launcher/process_title.hpp"
#include "launcher/raw_syscall.hpp"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434  // the same on every architecture
#endif

namespace agent_run::launcher {

namespace {

constexpr int kListenFd = 3;          // as the launcher passes it, and the collector expects it
constexpr int kFallbackPollMs = 50;   // without a pidfd: how often kill(pid, 0) is asked
constexpr long kKernelSigsetBytes = 8;  // the kernel's sigset_t (64 signals), not glibc's 128 bytes

void put(const char* s) { write_all(2, s, std::strlen(s)); }

// The socket and its directory are the launcher's private ones (mkdtemp):
// nothing else is in the directory before the collector's log.
void remove_socket_and_dir(const char* socket_path) {
  if (!socket_path) return;
  ::unlink(socket_path);
  char dir[4096];
  const char* slash = std::strrchr(socket_path, '/');
  const size_t n = slash ? size_t(slash - socket_path) : 0;
  if (n == 0 || n >= sizeof dir) return;
  std::memcpy(dir, socket_path, n);
  dir[n] = '\0';
  ::rmdir(dir);
}

// Becomes the collector (same pid, fds and signal mask). A stop signal read
// from the signalfd is raised again first: pending and blocked, it survives
// execve, and the collector drains on it as if it had got it.
[[noreturn]] void exec_collector(const StandbyPlan& plan, int stop_signal) {
  if (stop_signal) ::kill(::getpid(), stop_signal);
  ::execve(plan.collector_argv[0], plan.collector_argv, plan.envp);
  const int err = errno;
  remove_socket_and_dir(plan.socket_path);
  // The app's stderr is still ours: the user hears it once, as from the launcher.
  put("agent-run: warning: cannot start the collector: cannot execute ");
  put(plan.collector_argv[0]);
  put(": ");
  put(std::strerror(err));
  put(" (reinstall agent-run); the app runs, and the agent records nothing\n");
  ::_exit(1);
}

// Beside the launcher (raw system calls only, see detached_spawn.hpp): waits
// for the first thing that needs an answer (a connection, the app's exit, a
// signal) without waking when the launcher execs the app. Level-triggered
// and nothing is read, so the loop below sees the same event again. False
// when this kernel lacks what it needs (pidfd_open: Linux 5.3): the loop
// below does it all.
bool wait_beside_the_launcher(const StandbyPlan& plan, const sigset_t& stop) {
  const long sfd = raw_syscall(SYS_signalfd4, -1, long(&stop), kKernelSigsetBytes, SFD_NONBLOCK | SFD_CLOEXEC);
  const long pidfd = plan.app_pid > 0 ? raw_syscall(SYS_pidfd_open, plan.app_pid, 0) : -1;
  const bool waited = sfd >= 0 && pidfd >= 0;
  if (waited) {
    pollfd fds[3] = {{kListenFd, POLLIN, 0}, {int(pidfd), POLLIN, 0}, {int(sfd), POLLIN, 0}};
    for (;;) {
      const long rc = raw_syscall(SYS_ppoll, long(fds), 3, 0, 0);
      if (rc > 0 || (rc < 0 && rc != -EINTR)) break;
    }
  }
  if (sfd >= 0) raw_syscall(SYS_close, sfd);
  if (pidfd >= 0) raw_syscall(SYS_close, pidfd);
  return waited;
}

}  // namespace

void run_collector_standby(void* arg, CallerGone& caller) {
  const StandbyPlan& plan = *static_cast<const StandbyPlan*>(arg);
  // Over the launcher's argument strings, which nothing reads any more (the
  // launcher parsed them into copies before it spawned us): ps shows this,
  // not the launcher's command.
  set_process_title("agent-run-standby");
  const sigset_t mask = collector::stop_signals();
  wait_beside_the_launcher(plan, mask);
  caller.wait();

  // The stop signals are blocked (spawn_detached set the mask, which
  // survives the execve of the collector): read them here. It is in a session
  // of its own, so a Ctrl-C at the app's terminal never reaches it.
  const int sfd = ::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

  collector::AppWatch watch;
  bool app_gone = !watch.open(plan.app_pid);
  int stop_signal = 0;
  while (!app_gone && !stop_signal) {
    pollfd fds[3] = {{kListenFd, POLLIN, 0}, {watch.pidfd(), POLLIN, 0}, {sfd, POLLIN, 0}};
    const int rc = ::poll(fds, 3, watch.pidfd() >= 0 ? -1 : kFallbackPollMs);
    if (rc < 0 && errno != EINTR) break;  // cannot wait: let the collector do it
    if (fds[0].revents & POLLIN) exec_collector(plan, 0);
    if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) break;
    if (fds[2].revents & POLLIN) {
      signalfd_siginfo si;
      while (::read(sfd, &si, sizeof si) == ssize_t(sizeof si))
        if (si.ssi_signo != SIGHUP) stop_signal = int(si.ssi_signo);
    }
    app_gone = (fds[1].revents & POLLIN) || (watch.pidfd() < 0 && watch.gone());
  }
  if (!app_gone && !stop_signal) exec_collector(plan, 0);  // not waiting: the collector does

  // No connection so far: take the socket away, so that a late connect fails
  // at once (the sender counts its spans as dropped, as after a collector's
  // drain). One that came in before the unlink still gets its collector,
  // which finds the app gone and drains at once.
  if (plan.socket_path) ::unlink(plan.socket_path);
  if (collector::connection_pending(kListenFd)) exec_collector(plan, stop_signal);
  remove_socket_and_dir(plan.socket_path);
}

}  // namespace agent_run::launcher
