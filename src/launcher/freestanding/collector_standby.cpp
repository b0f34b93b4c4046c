#include "launcher/freestanding/collector_standby.hpp"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <time.h>

#include "collector/handover.hpp"
#include "launcher/freestanding/child_setup.hpp"
#include "launcher/freestanding/private_bootstrap.hpp"
#include "common/raw_syscall.hpp"
#include "launcher/freestanding/socket_dir.hpp"
#include "launcher/freestanding/text.hpp"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434  // the same on every architecture
#endif

namespace agent_run::launcher::freestanding {

namespace {

constexpr int kListenFd = 3;          // as the launcher passes it, and the collector expects it
constexpr long kFallbackPollNs = 50'000'000;  // without a pidfd (Linux < 5.3): how often kill(pid, 0) is asked

// strerror without libc, for the errors an execve of the collector can have.
const char* error_text(long err) {
  switch (err) {
    case ENOENT: return "No such file or directory";
    case EACCES: return "Permission denied";
    case ENOEXEC: return "Exec format error";
    case ENOMEM: return "Cannot allocate memory";
    case E2BIG: return "Argument list too long";
    case ETXTBSY: return "Text file busy";
    case ELOOP: return "Too many levels of symbolic links";
    case ENOTDIR: return "Not a directory";
    default: return "cannot execve";
  }
}

// Becomes the collector (same pid, fds and signal mask). A stop signal read
// from the signalfd is raised again first: pending and blocked, it survives
// execve, and the collector drains on it as if it had got it.
[[noreturn]] void exec_collector(const StandbyPlan& plan, int stop_signal) {
  // An ignored SIGTERM (say from nohup) must not be the collector's; done
  // here, not at the spawn, where 62 system calls would be in the app's way.
  default_dispositions();
  if (stop_signal) raw_syscall(SYS_kill, raw_syscall(SYS_getpid), stop_signal);
  const long rc = raw_syscall(SYS_execve, long(plan.collector_argv[0]), long(plan.collector_argv), long(plan.envp));
  remove_socket_and_dir(plan.socket_path);
  // The app's stderr is still ours: the user hears it once, as from the launcher.
  put_stderr("agent-run: warning: cannot start the collector: cannot execute ");
  put_stderr(plan.collector_argv[0]);
  put_stderr(": ");
  put_stderr(error_text(-rc));
  put_stderr(" (reinstall agent-run); the app runs, and the agent records nothing\n");
  raw_syscall(SYS_exit_group, 1);
  __builtin_unreachable();
}

}  // namespace

void run_collector_standby(void* arg) {
  const StandbyPlan& plan = *static_cast<const StandbyPlan*>(arg);
  // Over the launcher's argument strings, which nothing reads any more (the
  // launcher parsed them into copies, or the quick launch is done with them,
  // before it spawned us): ps shows this, not the launcher's command.
  set_process_title(plan.title, "agent-run-standby");

  // The stop signals are blocked (the spawn set the mask, which survives
  // the execve of the collector): read them here. It is in a session of its
  // own, so a Ctrl-C at the app's terminal never reaches it.
  const uint64_t mask = collector::stop_signal_bits();
  const long sfd = raw_syscall(SYS_signalfd4, -1, long(&mask), kKernelSigsetBytes, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) exec_collector(plan, 0);  // cannot wait here: the collector does
  const long pidfd = plan.app_pid > 0 ? raw_syscall(SYS_pidfd_open, plan.app_pid, 0) : -1;

  bool app_gone = false;
  int stop_signal = 0;
  while (!app_gone && !stop_signal) {
    // Level-triggered and nothing is read but signals: a pending connection
    // is seen again by the check below.
    pollfd fds[3] = {{kListenFd, POLLIN, 0}, {int(pidfd), POLLIN, 0}, {int(sfd), POLLIN, 0}};
    timespec period{0, kFallbackPollNs};
    const long rc = raw_syscall(SYS_ppoll, long(fds), 3, pidfd >= 0 ? 0 : long(&period), 0, kKernelSigsetBytes);
    if (rc < 0 && rc != -EINTR) break;  // cannot wait: let the collector do it
    if (fds[0].revents & POLLIN) exec_collector(plan, 0);
    if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) break;
    if (fds[2].revents & POLLIN) {
      signalfd_siginfo si;
      while (raw_syscall(SYS_read, sfd, long(&si), sizeof si) == long(sizeof si))
        if (si.ssi_signo != SIGHUP) stop_signal = int(si.ssi_signo);
    }
    app_gone = (fds[1].revents & POLLIN) ||
               (pidfd < 0 && raw_syscall(SYS_kill, plan.app_pid, 0) == -ESRCH);
  }
  if (!app_gone && !stop_signal) exec_collector(plan, 0);  // not waiting: the collector does

  // No connection so far: take the socket away, so that a late connect fails
  // at once (the sender counts its spans as dropped, as after a collector's
  // drain). One that came in before the unlink still gets its collector,
  // which finds the app gone and drains at once.
  if (plan.socket_path) raw_syscall(SYS_unlinkat, AT_FDCWD, long(plan.socket_path), 0);
  if (collector::connection_pending(kListenFd)) exec_collector(plan, stop_signal);
  remove_socket_and_dir(plan.socket_path);
  // Not on a stop signal alone: the app may still run from it.
  if (app_gone && plan.private_bootstrap) remove_private_bootstrap(plan.private_bootstrap);
}

}  // namespace agent_run::launcher::freestanding
