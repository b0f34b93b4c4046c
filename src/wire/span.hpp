#pragma once
// A finished span as the app's processes hand it to the collector.
// Field meanings follow OTLP (opentelemetry/proto/trace/v1/trace.proto).

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace agent_run::wire {

using AttributeValue = std::variant<std::string, int64_t, double, bool>;

struct Attribute {
  std::string key;
  AttributeValue value;
};

struct Event {
  uint64_t time_unix_nano = 0;
  std::string name;
  std::vector<Attribute> attributes;
};

// OTLP SpanKind and StatusCode numbering.
enum class SpanKind : uint8_t { Unspecified = 0, Internal = 1, Server = 2, Client = 3, Producer = 4, Consumer = 5 };
enum class StatusCode : uint8_t { Unset = 0, Ok = 1, Error = 2 };

struct Span {
  uint8_t trace_id[16] = {};
  uint8_t span_id[8] = {};
  uint8_t parent_span_id[8] = {};  // all zero: a root span
  uint8_t trace_flags = 1;         // W3C flags; 1 = sampled
  std::string name;
  SpanKind kind = SpanKind::Internal;
  uint64_t start_unix_nano = 0;
  uint64_t end_unix_nano = 0;
  StatusCode status_code = StatusCode::Unset;
  std::string status_message;
  std::vector<Attribute> attributes;
  std::vector<Event> events;
  uint32_t dropped_attributes_count = 0;
};

}  // namespace agent_run::wire
