#pragma once
// The slowest traces, assembled as trees, in two passes over the store.
//
// Spans of one trace can be spread across lines and files (each process
// flushes its own batches, and a root span is written after its children),
// so a trace cannot be assembled from what one pass has seen so far without
// keeping every open trace in memory. Instead:
//   pass 1 (TopTraceSelector): remember only the N traces with the longest
//     root span: O(N) memory;
//   pass 2 (TraceCollector): read the store again, parse only lines that
//     mention one of those N trace ids (a substring check), keep their spans
//     (at most Limits::max_spans_per_trace each) and build the trees.
// Memory is bounded by N traces; the price is a second read of the store,
// most of it not parsed.

#include <cstdint>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "report/otlp_json.hpp"
#include "report/report_model.hpp"

namespace agent_run::report {

class TopTraceSelector {
 public:
  explicit TopTraceSelector(size_t n) : n_(n) {}

  // A trace is ranked by its root span: the span without a parent or, for a
  // trace that entered this machine from another service (its first span has
  // a remote parent), its server / consumer span. A local server span nested
  // under a local client span is shorter than the real root, so taking the
  // longest candidate per trace gives the root.
  void add_span(const SpanRecord& span);

  struct Pick {
    TraceId trace_id;
    uint64_t duration_ns = 0;
    uint64_t root_span_id = 0;
  };
  std::vector<Pick> picks() const;  // longest first

 private:
  size_t n_;
  std::set<std::pair<uint64_t, TraceId>> by_duration_;  // the current top N, shortest first
  std::unordered_map<TraceId, std::pair<uint64_t, uint64_t>, TraceIdHash> best_;  // -> (duration, root span id)
};

class TraceCollector {
 public:
  TraceCollector(std::vector<TopTraceSelector::Pick> picks, size_t max_spans_per_trace);

  const std::vector<std::string>& hex_ids() const { return hex_ids_; }  // sorted
  void add_span(const SpanRecord& span);
  std::vector<TraceTree> build() const;

 private:
  struct Collected {
    TopTraceSelector::Pick pick;
    std::vector<SpanRecord> spans;
    std::unordered_set<uint64_t> span_ids;  // the same span read twice (a rotation during the passes) counts once
    uint64_t left_out = 0;
  };
  std::vector<Collected> traces_;
  std::unordered_map<TraceId, size_t, TraceIdHash> index_;
  std::vector<std::string> hex_ids_;
  size_t max_spans_;
};

// Orders one trace's spans into a tree (pre-order, children by start time).
// Spans whose parent is absent become extra roots marked parent_missing.
TraceTree build_tree(const TraceId& id, uint64_t root_span_id, uint64_t root_duration_ns,
                     const std::vector<SpanRecord>& spans);

}  // namespace agent_run::report
