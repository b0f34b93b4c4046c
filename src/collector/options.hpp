#pragma once
// The collector's settings, from its command line (the launcher resolves the
// configuration and passes the values; secrets such as OTLP headers come in
// the environment, never on the command line).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace agent_run::collector {

struct Options {
  std::string socket_path;
  int socket_mode = 0600;
  int app_pid = 0;                  // 0: no app to watch (runs until SIGTERM)
  int listen_fd = -1;               // a listening socket made by the launcher (bound at socket_path); -1: bind here
  bool release_stderr = false;      // stderr is the app's: startup errors only, then /dev/null once running
  int ready_fd = -1;                // one byte written once listening (tests and benchmarks)
  std::string log_path;             // empty: collector.log in the socket directory, removed after a clean run
  bool remove_socket_dir = false;   // remove the socket's directory at exit
  std::string private_bootstrap;    // the launch's private bootstrap: removed at exit if the app is gone
  std::string service_name = "unknown_service";
  std::vector<std::string> exporters = {"store"};  // store (alias: local) | otlp | console | none
  uint32_t drain_timeout_ms = 5000;
  // 512, as OpenTelemetry's batch span processor: a batch's spans and its
  // JSON line (~300 KB) stay in the caches while it is written. With 2048
  // the collector used ~18 % more CPU per span (docs/benchmarks.md).
  uint32_t batch_max_spans = 512;
  uint32_t batch_max_delay_ms = 200;

  // store
  std::string data_dir;             // the trace files' directory (exporter.local.path)
  uint64_t store_max_file_bytes = 64ull << 20;
  uint32_t store_max_files = 5;

  // otlp
  std::string otlp_endpoint;        // base URL: /v1/traces is appended
  std::string otlp_traces_endpoint; // full URL (wins)
  std::string otlp_headers;         // "k=v,k2=v2" (values URL-encoded), or one "k=v" per line (raw)
  uint32_t otlp_timeout_ms = 10000;
  std::string otlp_compression = "gzip";  // gzip | none
  uint64_t otlp_queue_spans = 100000;
  uint32_t otlp_max_request_spans = 4096;
  uint32_t otlp_retry_initial_ms = 200;
  uint32_t otlp_backoff_max_ms = 5000;  // longest wait between two attempts
  uint32_t otlp_max_retry_ms = 30000;   // a batch failing for this long is dropped

  // console
  std::string console_path;         // empty: the collector log
};

// Parses --key=value arguments. On error, returns nullopt and sets `error`.
std::optional<Options> parse_options(int argc, char** argv, std::string& error);
std::string usage();

}  // namespace agent_run::collector
