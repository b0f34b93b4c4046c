#pragma once
// `agent-run report [PATH]`: reads the local trace store and prints, per
// operation, count / error rate / p50 / p95 / p99; the slowest traces as
// indented trees; the most frequent and slowest statements; dropped-span counts
// and plugin health. Text for the terminal, or JSON (`--json`) for machines.
//
// The launcher parses the command line, resolves the default store path from
// the configured data dir, and calls run_report(). See docs/report.md.

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>

namespace agent_run::report {

// Memory bounds. Defaults suit a store of many millions of spans; the tests
// shrink them to exercise the fallbacks.
struct Limits {
  // Distinct operations / statements tracked; the rest are folded into one
  // "(other)" row so that high-cardinality names cannot exhaust memory.
  size_t max_operations = 10000;
  size_t max_statements = 10000;
  // Longer operation names / statements are cut (and marked "...") before
  // they become keys, so that the two caps above bound memory in bytes too.
  size_t max_name_bytes = 1024;
  size_t max_statement_bytes = 4096;
  // Exact latencies kept across all operations (8 bytes each). Past this, the
  // operation holding the most samples switches to a log histogram (relative
  // error <= 0.4%) and its percentiles are marked approximate.
  size_t max_exact_samples = 16u << 20;  // 128 MiB
  // Spans kept per printed trace (the tree notes how many were left out).
  size_t max_spans_per_trace = 5000;
  // Longest line accepted; longer lines are counted as malformed.
  size_t max_line_bytes = 256u << 20;
};

struct ReportOptions {
  // A store directory (the data dir or its traces/ directory) or one .jsonl
  // file. Empty: default_store_path().
  std::string path;
  bool json = false;
  size_t top = 5;             // slowest traces shown (1..1000)
  size_t statements = 10;     // rows in each statements table
  size_t text_operations = 50;  // operations shown in text mode (JSON: all)
  Limits limits;
};

// $XDG_DATA_HOME/agent-run/traces, else ~/.local/share/agent-run/traces,
// else /tmp/agent-run-<uid>/traces (config::effective_local_path's defaults).
std::string default_store_path();

// Writes the report to `out`, problems to `err`. Returns the process exit
// code: 0 on success (even with malformed lines, which the report counts),
// 1 when PATH does not exist or holds no trace files, 2 for bad options.
int run_report(const ReportOptions& opts, std::ostream& out, std::ostream& err);

}  // namespace agent_run::report
