#pragma once
// One line of the store -> the span records and agent stats it holds.
//
// A line is an OTLP/JSON ExportTraceServiceRequest ({"resourceSpans": [...]})
// or an agent stats record ({"agentRunStats": {...}}). Only the fields the
// report uses are kept; everything else, including unknown fields, is skipped
// without building a DOM (events from json_events.hpp drive a state machine),
// because the store can hold millions of spans.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace agent_run::report {

struct TraceId {
  uint64_t hi = 0, lo = 0;
  bool operator==(const TraceId& o) const { return hi == o.hi && lo == o.lo; }
  bool operator!=(const TraceId& o) const { return !(*this == o); }
  bool operator<(const TraceId& o) const { return hi != o.hi ? hi < o.hi : lo < o.lo; }
};
struct TraceIdHash {
  size_t operator()(const TraceId& t) const { return static_cast<size_t>(t.hi * 0x9E3779B97F4A7C15ull ^ t.lo); }
};

std::string to_hex(const TraceId& id);
std::string to_hex(uint64_t span_id);

// OTLP SpanKind / StatusCode numbering.
enum : int { kKindUnspecified = 0, kKindInternal = 1, kKindServer = 2, kKindClient = 3, kKindProducer = 4, kKindConsumer = 5 };
enum : int { kStatusUnset = 0, kStatusOk = 1, kStatusError = 2 };
const char* kind_name(int kind);

struct SpanRecord {
  TraceId trace_id;
  uint64_t span_id = 0;
  uint64_t parent_span_id = 0;  // 0: no parent (a root span)
  std::string name;
  int kind = kKindUnspecified;
  uint64_t start_unix_nano = 0;
  uint64_t end_unix_nano = 0;
  int status_code = kStatusUnset;
  std::string status_message;
  std::string service;       // resource attribute service.name
  std::string db_statement;  // db.statement (or db.query.text)
  std::string db_operation;  // db.operation (or db.operation.name)
  std::string db_system;     // db.system (or db.system.name)
  std::string exception;     // "Type: message" of the first exception event

  uint64_t duration_ns() const { return end_unix_nano > start_unix_nano ? end_unix_nano - start_unix_nano : 0; }
};

struct PluginStat {
  std::string name;
  std::string state;
  uint64_t errors = 0;
  uint64_t calls = 0;
  std::string last_error;
};

struct StatsRecord {
  std::string service;
  int64_t pid = 0;
  uint64_t dropped_spans = 0;
  bool has_dropped_spans = false;
  std::vector<PluginStat> plugins;
};

struct ParsedLine {
  std::vector<SpanRecord> spans;
  std::vector<StatsRecord> stats;
};

class OtlpLineParser {
 public:
  // Fills `out` (cleared first). Returns false, with `error` saying why, when
  // the line is not JSON or not one of the two expected shapes; `out` is then
  // to be ignored as a whole.
  bool parse(std::string_view line, ParsedLine& out, std::string& error);
};

// Cheap pre-filter for a second pass over the store: does the line have a
// "traceId" whose value is one of `ids` (lowercase hex, sorted)? Lets lines
// of other traces be skipped without parsing them.
bool mentions_trace(std::string_view line, const std::vector<std::string>& ids);

}  // namespace agent_run::report
