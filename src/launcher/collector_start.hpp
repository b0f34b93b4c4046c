#pragma once
// Starting the collector: called by the launcher just before it execs the
// program. The launcher makes the listening socket and hands it over, so the
// app can connect at once and nobody waits for the collector to come up. The
// collector is not a child of the app (spawn_detached: two clones and
// setsid), so a pre-fork server's master never reaps or logs it; it watches
// the app's PID (the launcher's, which the program keeps) and exits after
// draining when the app is gone.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace agent_run::launcher {

struct CollectorLaunch {
  std::string collector_path;         // <exe dir>/../libexec/agent-run/collector
  std::string config_path;            // for the collector's log only (values below are resolved)
  std::string service_name;
  // Config keys -> fields: exporter.type -> exporters ("local" = "store");
  // exporter.local.path (or <data_dir>/traces) -> store_dir; exporter.local.max_file_bytes,
  // max_files -> store_*; exporter.otlp.endpoint (a full URL) -> otlp_traces_endpoint;
  // exporter.otlp.headers -> otlp_headers; exporter.otlp.{timeout_ms,compression,
  // queue_spans,max_retry_ms} -> otlp_*; collector.drain_timeout_ms -> drain_timeout_ms;
  // collector.batch_max_{spans,delay_ms} -> batch_*.
  std::vector<std::string> exporters = {"store"};  // any of: store|local, otlp, console, none
  std::string store_dir;              // trace files: <store_dir>/traces-N.jsonl
  std::string data_dir;               // used when store_dir is empty: <data_dir>/traces
  uint64_t store_max_file_bytes = 0;  // 0: collector default (64 MiB)
  uint32_t store_max_files = 0;       // 0: collector default (5)
  std::string otlp_endpoint;          // a base URL: /v1/traces is appended
  std::string otlp_traces_endpoint;   // a full URL (wins)
  std::vector<std::string> otlp_headers;  // "key=value" each; passed in the environment, never on the command line
  uint32_t otlp_timeout_ms = 0;       // 0: default 10000
  std::string otlp_compression;       // "gzip" | "none"; empty: gzip
  uint64_t otlp_queue_spans = 0;      // 0: default 100000
  int64_t otlp_max_retry_ms = -1;     // -1: default 30000
  std::string console_path;           // console exporter output; empty: the collector log
  uint32_t drain_timeout_ms = 5000;
  uint32_t batch_max_spans = 0;       // 0: collector default (512)
  uint32_t batch_max_delay_ms = 0;    // 0: collector default (200)
  std::string log_path;               // empty: collector.log in the socket directory
  int app_pid = 0;                    // 0: getpid() (the PID the program keeps after exec)
  std::string private_bootstrap;      // the launch's private bootstrap: removed once the app is gone
  std::vector<std::string> extra_args;  // more --key=value options for the collector
  // Start a standby first (freestanding/collector_standby.hpp), in the launcher's own
  // memory: the collector is exec'd only when an app process connects.
  // False: the collector is exec'd at once (tests use this).
  bool standby = false;
};

// The collector's argv for these settings, its path first, without the two
// options each launch adds after the path: --socket=PATH and --app-pid=PID.
// (A launch plan stores this: launch_plan_writer.hpp.)
std::vector<std::string> collector_options(const CollectorLaunch& params);

// Creates a private socket directory (0700, a random name: under
// $XDG_RUNTIME_DIR when it is private to this user, else in /dev/shm when it
// is a sticky tmpfs, else in /tmp) and the listening socket in it,
// spawns the collector (or its standby, which execs it on the first
// connection, and needs this process to exec or exit soon) detached (fd 3:
// the socket; stdin and stdout on /dev/null; stderr: this process's, for the
// collector's startup errors only; no other fds) and returns the socket path for AGENT_RUN_COLLECTOR_SOCKET
// without waiting for it. On failure (the collector cannot be executed, say):
// nullopt and `error` says why (one warning line for the user); nothing is
// left running or on disk.
std::optional<std::string> start_collector(const CollectorLaunch& params, std::string& error);

}  // namespace agent_run::launcher
