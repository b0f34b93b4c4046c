#pragma once
// An exporter takes batches from the collector's event loop. export_batch()
// must not block on the network: exporters that talk to a backend queue the
// batch (bounded) and send from their own thread.
#include <cstdint>
#include <memory>
#include <string>

#include "collector/options.hpp"
#include "collector/span_batch.hpp"

namespace agent_run::collector {

struct ExporterStats {
  uint64_t exported_spans = 0;   // written / accepted by the backend
  uint64_t dropped_spans = 0;    // queue full, backend refused, shutdown deadline, write error
  uint64_t requests = 0;         // lines written / HTTP requests made
  uint64_t retries = 0;
};

class Exporter {
 public:
  virtual ~Exporter() = default;
  virtual const char* name() const = 0;
  virtual void export_batch(SpanBatch&& batch) = 0;
  // Sends what is queued, waiting until `deadline_ms` (monotonic_ms()) at most;
  // what is still queued then is dropped and counted.
  virtual void shutdown(uint64_t deadline_ms) = 0;
  virtual ExporterStats stats() const = 0;
  // The app's own counters (one line of JSON per process, the store's
  // agentRunStats lines that `agent-run report` reads); called once, at the
  // drain, before shutdown(). Exporters to a backend have nowhere to put it.
  virtual void export_app_stats(const std::string& json_line) { (void)json_line; }
};

// Factories (nullptr and `error` set when the exporter cannot start).
std::unique_ptr<Exporter> make_local_store_exporter(const Options& o, std::string& error);
std::unique_ptr<Exporter> make_otlp_http_exporter(const Options& o, std::string& error);
std::unique_ptr<Exporter> make_console_exporter(const Options& o, std::string& error);

}  // namespace agent_run::collector
