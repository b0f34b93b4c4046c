#pragma once
// The signals the collector, and the standby that becomes it, block and read
// through a signalfd: SIGTERM, SIGINT and SIGQUIT stop them (after a drain),
// SIGHUP is read and ignored. The standby blocks them and the mask survives
// its execve of the collector, so a signal sent in between waits for the
// collector instead of killing it.
#include <signal.h>

#include <initializer_list>

namespace agent_run::collector {

inline sigset_t stop_signals() {
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGQUIT}) sigaddset(&mask, s);
  return mask;
}

}  // namespace agent_run::collector
