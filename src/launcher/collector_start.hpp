#pragma once
// Starting the collector: called by the launcher just before it execs the
// program. The collector is not a child of the app (double fork + setsid), so
// a pre-fork server's master never reaps or logs it; it watches the app's PID
// (the launcher's, which the program keeps) and exits after draining when the
// app is gone.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace agent_run::launcher {

struct CollectorLaunch {
  std::string collector_path;         // <exe dir>/../libexec/agent-run/collector
  std::string config_path;            // for the collector's log only (values below are resolved)
  std::string service_name;
  std::vector<std::string> exporters = {"store"};  // any of: store, otlp, console, none
  std::string data_dir;               // store exporter: <data_dir>/traces-N.jsonl
  uint64_t store_max_file_bytes = 0;  // 0: collector default (64 MiB)
  uint32_t store_max_files = 0;       // 0: collector default (10)
  std::string otlp_endpoint;          // OTEL_EXPORTER_OTLP_ENDPOINT: base URL, /v1/traces is appended
  std::string otlp_traces_endpoint;   // OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: full URL (wins)
  std::string otlp_headers;           // "k=v,k2=v2", passed in the environment, never on the command line
  uint32_t otlp_timeout_ms = 0;       // 0: default 10000
  std::string otlp_compression;       // "gzip" | "none"; empty: gzip
  std::string console_path;           // console exporter output; empty: the collector log
  uint32_t drain_timeout_ms = 3000;
  std::string log_path;               // empty: collector.log in the socket directory
  int app_pid = 0;                    // 0: getpid() (the PID the program keeps after exec)
  uint32_t ready_timeout_ms = 1000;   // upper bound; the usual wait is the collector's startup (a few ms)
  std::vector<std::string> extra_args;  // more --key=value options for the collector
};

// Creates a private socket directory (0700: under $XDG_RUNTIME_DIR when it is
// private to this user, else mkdtemp in /tmp), spawns the collector detached
// (its stdio on /dev/null, no other inherited fds), waits until it listens,
// and returns the socket path for AGENT_RUN_COLLECTOR_SOCKET. On failure:
// nullopt and `error` says why (one warning line for the user); nothing is
// left running.
std::optional<std::string> start_collector(const CollectorLaunch& params, std::string& error);

}  // namespace agent_run::launcher
