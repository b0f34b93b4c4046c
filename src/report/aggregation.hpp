#pragma once
// Streaming aggregation of spans and agent stats into the report's tables:
// per operation (count, errors, nearest-rank percentiles), per statement
// (count, total, max), dropped spans per process, plugin health.
//
// Memory grows with the number of distinct operations and statements (both
// capped, see Limits) and with the latencies kept for exact percentiles
// (capped by Limits::max_exact_samples; past it, log histograms).

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "report/otlp_json.hpp"
#include "report/report.hpp"
#include "report/report_model.hpp"

namespace agent_run::report {

// Latencies of one operation: every value while memory allows (exact
// nearest-rank percentiles), else a log-linear histogram with 128 sub-buckets
// per power of two (values within 0.4%; min and max stay exact).
class Latencies {
 public:
  void add(uint64_t ns);
  uint64_t count() const { return count_; }
  size_t exact_samples() const { return exact_.size(); }
  bool approximate() const { return approximate_; }
  void switch_to_histogram();  // frees the exact samples
  // Nearest-rank percentile, p in (0, 100]: the smallest value such that at
  // least p% of the values are <= it. Reorders the exact samples (selection,
  // linear time), so it is meant for the end of the aggregation.
  uint64_t percentile(double p);

  static uint32_t bucket_of(uint64_t ns);
  static uint64_t bucket_value(uint32_t bucket);  // the bucket's midpoint

 private:
  // A deque, not a vector: it grows in small blocks, so memory stays at 8
  // bytes per sample instead of briefly doubling on reallocation.
  std::deque<uint64_t> exact_;
  bool approximate_ = false;
  std::map<uint32_t, uint64_t> histogram_;
  uint64_t count_ = 0, min_ = UINT64_MAX, max_ = 0;
};

// "SELECT" from "  select * from t", "WITH" from "with x as (...)": the first word, uppercased.
std::string statement_operation(const std::string& statement);

// The operation a span is counted under: its name, except database client
// spans, which are grouped by "<db.system> <operation>" of their statement
// (span names of database calls are often the whole statement or a generic "execute").
std::string operation_name(const SpanRecord& span);

class Aggregator {
 public:
  explicit Aggregator(const Limits& limits) : limits_(limits) {}

  void add_span(const SpanRecord& span);
  void add_stats(const StatsRecord& stats);

  // Fills the operation, statement, drops and plugin parts of `report`.
  void finish(Report& report, size_t statement_rows);

 private:
  struct Op {
    std::string service, kind, name;
    uint64_t errors = 0, total_ns = 0, max_ns = 0;
    Latencies latencies;
  };
  struct Stmt {
    uint64_t count = 0, errors = 0, total_ns = 0, max_ns = 0;
  };
  Op& op_for(const SpanRecord& span);
  void enforce_sample_budget();

  Limits limits_;
  std::unordered_map<std::string, std::unique_ptr<Op>> ops_;
  std::unique_ptr<Op> other_op_;  // beyond max_operations
  uint64_t ops_folded_ = 0;
  size_t exact_samples_ = 0;
  std::string key_;  // reused lookup key

  std::unordered_map<std::string, Stmt> statements_;
  Stmt other_statements_;

  uint64_t spans_ = 0, root_spans_ = 0, first_start_ = UINT64_MAX, last_end_ = 0;

  bool stats_seen_ = false;
  // The latest stats record of each process: the collector writes running
  // totals, so a later line replaces an earlier one.
  std::map<std::pair<std::string, int64_t>, StatsRecord> stats_;
};

}  // namespace agent_run::report
