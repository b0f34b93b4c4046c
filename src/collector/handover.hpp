#pragma once
// What the launcher's collector standby
// (src/launcher/freestanding/collector_standby.cpp) and the collector it
// execs share, so that the handover between them keeps one set of rules.
// Allocation-free, and libc-free where the standby uses it (it runs without
// libc: raw system calls only).
//
// The stop signals: both block them and read them through a signalfd.
// SIGTERM, SIGINT and SIGQUIT stop them (after a drain); SIGHUP is read and
// ignored. The standby blocks them and the mask survives its execve of the
// collector, so a signal sent in between waits for the collector instead of
// killing it.
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "common/raw_syscall.hpp"

namespace agent_run::collector {

constexpr int kStopSignals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};

// As the kernel's signal mask (bit signal - 1), for raw system calls.
constexpr uint64_t stop_signal_bits() {
  uint64_t bits = 0;
  for (int s : kStopSignals) bits |= uint64_t(1) << (s - 1);
  return bits;
}

inline sigset_t stop_signals() {
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : kStopSignals) sigaddset(&mask, s);
  return mask;
}

// A connection in the listening socket's backlog, not accepted yet (an app
// process's first flush).
inline bool connection_pending(int listen_fd) {
  if (listen_fd < 0) return false;
  pollfd p{listen_fd, POLLIN, 0};
  timespec zero{0, 0};
  constexpr long kKernelSigsetBytes = 8;
  return raw_syscall(SYS_ppoll, long(&p), 1, long(&zero), 0, kKernelSigsetBytes) == 1 && (p.revents & POLLIN);
}

// The options every launch puts right after the collector's path (the rest
// of its command line comes from the configuration, or from a launch plan).
constexpr char kSocketOption[] = "--socket=";
constexpr char kAppPidOption[] = "--app-pid=";

// The launcher passes the OTLP headers to the collector in this variable
// ("key=value" lines), never on its command line, which ps shows.
constexpr char kHeadersEntryPrefix[] = "AGENT_RUN_COLLECTOR_OTLP_HEADERS=";

}  // namespace agent_run::collector
