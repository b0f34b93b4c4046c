#pragma once
// The collector's standby: the launcher's detached process (spawn_in_place,
// detached_clone.hpp), which keeps the launcher's memory after the launcher
// has exec'd the program, and so costs no exec of its own. Most runs of a
// short program record no span and never need a collector; its start (~74
// page faults, ~4 ms of CPU) would run beside the app's own. The standby
// holds what the collector would hold (fd 3: the listening socket; fd 2:
// the app's stderr, for startup errors), titles itself `agent-run-standby`
// for ps, and waits, with raw system calls only (it runs beside the
// launcher first, and the quick launch has no libc at all), without even
// waking when the launcher execs the app:
//   - a connection pending on the socket (an app process's first flush):
//     execve the collector with the same fds, so from there on everything is
//     the collector's (accept, startup errors, release of stderr, drain);
//   - the app's PID gone (or SIGTERM/SIGINT/SIGQUIT) with no connection
//     pending: remove the socket and its private directory (and, the app
//     gone, the launch's private bootstrap, if it had one), exit 0.
// See docs/collector.md.
#include "launcher/freestanding/process_title.hpp"

namespace agent_run::launcher::freestanding {

struct StandbyPlan {
  char* const* collector_argv = nullptr;  // argv[0]: the collector's path
  char* const* envp = nullptr;
  const char* socket_path = nullptr;      // in its private directory
  int app_pid = 0;
  const char* private_bootstrap = nullptr; // removed once the app is gone (private_bootstrap.hpp)
  ArgsArea title;                          // the launcher's argument strings
};

// For InPlaceTarget::run, with InPlaceTarget::blocked the stop signals
// (collector::stop_signal_bits()): `plan` is a StandbyPlan, never freed.
// Execs the collector or returns once the socket is removed.
void run_collector_standby(void* plan);

}  // namespace agent_run::launcher::freestanding
