#pragma once
// The collector's standby: what the launcher's detached process execs first
// (`agent-run --collector-standby COLLECTOR ARGS...`, recognised at the top
// of main(), not in --help). Most runs of a short program record no span and
// never need a collector; its start (~74 page faults, ~4 ms of CPU) would run
// beside the app's own. The standby is the static agent-run itself (~31 page
// faults), holding what the collector would hold (fd 3: the listening
// socket; fd 2: the app's stderr, for startup errors), and waits:
//   - a connection pending on the socket (an app process's first flush):
//     execve COLLECTOR ARGS... with the same fds and environment, so from
//     there on everything is the collector's (accept, startup errors, release
//     of stderr, drain);
//   - the app's PID gone (or SIGTERM/SIGINT/SIGQUIT) with no connection
//     pending: remove the socket and its private directory, exit 0.
// See docs/collector.md.
namespace agent_run::launcher {

inline constexpr const char* kCollectorStandbyFlag = "--collector-standby";

// argv: agent-run --collector-standby COLLECTOR ARGS... (ARGS as the launcher
// builds them: --socket=PATH and --app-pid=N are read from them). Returns
// only on failure (the exit status); otherwise it execs or exits.
int run_collector_standby(int argc, char** argv);

}  // namespace agent_run::launcher
