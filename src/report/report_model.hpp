#pragma once
// The report as data: what aggregation and trace_trees compute and what the
// text and JSON renderers print. Durations are nanoseconds throughout; the
// renderers convert to milliseconds.

#include <cstdint>
#include <string>
#include <vector>

namespace agent_run::report {

// What the reader saw in one file of the store.
struct FileSummary {
  std::string path;
  uint64_t lines = 0;                 // non-empty lines read
  uint64_t malformed = 0;             // skipped: not JSON, or not the expected shape
  uint64_t first_malformed_line = 0;  // 1-based; 0 when none
  std::string first_malformed_reason;
  bool incomplete_tail = false;       // last line had no newline and did not parse (still being written)
  std::string read_error;             // the file could not be (fully) read
};

struct OperationRow {
  std::string service;
  std::string kind;  // "server", "client", ...
  std::string name;  // span name, or "<db.system> <OPERATION>" for database client spans
  uint64_t count = 0;
  uint64_t errors = 0;
  uint64_t total_ns = 0;
  uint64_t max_ns = 0;
  uint64_t p50_ns = 0, p95_ns = 0, p99_ns = 0;
  bool approximate = false;  // percentiles from the histogram fallback
};

struct StatementRow {
  std::string statement;
  uint64_t count = 0;
  uint64_t errors = 0;
  uint64_t total_ns = 0;
  uint64_t max_ns = 0;
};

// One span of a printed trace, in pre-order (parents before children,
// siblings by start time); `depth` gives the indentation.
struct TreeNode {
  unsigned depth = 0;
  std::string name;
  std::string kind;
  std::string service;
  std::string statement;
  std::string span_id;        // hex
  uint64_t start_offset_ns = 0;  // from the trace's first span start
  uint64_t duration_ns = 0;
  int status_code = 0;        // OTLP: 0 unset, 1 ok, 2 error
  bool error = false;         // status_code == 2
  std::string error_message;  // status message, else "Type: message" of an exception event
  bool parent_missing = false;  // has a parent id that is not in the store
};

struct TraceTree {
  std::string trace_id;  // hex
  std::string root_name;
  std::string service;
  uint64_t duration_ns = 0;       // of the root span
  uint64_t start_unix_nano = 0;   // of the root span
  uint64_t spans = 0;             // spans found in the store for this trace
  uint64_t spans_left_out = 0;    // beyond Limits::max_spans_per_trace
  std::vector<TreeNode> nodes;
};

struct ProcessDrops {
  std::string service;
  int64_t pid = 0;
  uint64_t dropped_spans = 0;
};

struct PluginRow {
  std::string name;
  std::string state;  // "unplugged" when any process unplugged it, else the last state seen
  uint64_t calls = 0;
  uint64_t errors = 0;
  std::string last_error;
  uint64_t processes = 0;
  std::vector<std::string> unplugged_in;  // "service (pid N)"
};

struct Report {
  std::string path;
  std::vector<FileSummary> files;
  uint64_t spans = 0;
  uint64_t root_spans = 0;
  uint64_t first_start_unix_nano = 0;
  uint64_t last_end_unix_nano = 0;

  std::vector<OperationRow> operations;  // by count, descending
  uint64_t operations_folded = 0;        // spans in the "(other)" row, beyond Limits::max_operations

  std::vector<StatementRow> statements_by_count;
  std::vector<StatementRow> statements_by_total;
  std::vector<StatementRow> statements_by_max;
  uint64_t distinct_statements = 0;
  uint64_t statements_folded = 0;

  std::vector<TraceTree> slowest_traces;
  size_t top = 0;

  bool stats_seen = false;  // any agentRunStats line
  std::vector<ProcessDrops> drops;
  uint64_t dropped_spans_total = 0;
  std::vector<PluginRow> plugins;
};

}  // namespace agent_run::report
