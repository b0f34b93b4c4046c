#include "collector/otlp_json.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "agent_run/version.hpp"

namespace agent_run::collector {

void append_hex(std::string& out, const uint8_t* b, size_t n) {
  static const char digits[] = "0123456789abcdef";
  size_t old = out.size();
  out.resize(old + 2 * n);
  char* p = &out[old];
  for (size_t i = 0; i < n; ++i) {
    p[2 * i] = digits[b[i] >> 4];
    p[2 * i + 1] = digits[b[i] & 15];
  }
}

void append_json_string(std::string& out, const std::string& s) {
  out.push_back('"');
  size_t run = 0;  // start of the pending unescaped run
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s, run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      }
    }
  }
  out.append(s, run, std::string::npos);
  out.push_back('"');
}

namespace {

inline void append_u64_string(std::string& out, uint64_t v) {
  out.push_back('"');
  fmt::format_to(std::back_inserter(out), "{}", v);
  out.push_back('"');
}

void append_value(std::string& out, const wire::AttributeValue& v) {
  switch (v.index()) {
    case 0:
      out += "{\"stringValue\":";
      append_json_string(out, std::get<std::string>(v));
      out += '}';
      break;
    case 1:
      out += "{\"intValue\":\"";
      fmt::format_to(std::back_inserter(out), "{}", std::get<int64_t>(v));
      out += "\"}";
      break;
    case 2: {
      double d = std::get<double>(v);
      out += "{\"doubleValue\":";
      if (std::isnan(d))
        out += "\"NaN\"";
      else if (std::isinf(d))
        out += d > 0 ? "\"Infinity\"" : "\"-Infinity\"";
      else
        fmt::format_to(std::back_inserter(out), "{}", d);
      out += '}';
      break;
    }
    default:
      out += std::get<bool>(v) ? "{\"boolValue\":true}" : "{\"boolValue\":false}";
      break;
  }
}

void append_attributes(std::string& out, const std::vector<wire::Attribute>& attrs) {
  out += "\"attributes\":[";
  for (size_t i = 0; i < attrs.size(); ++i) {
    if (i) out += ',';
    out += "{\"key\":";
    append_json_string(out, attrs[i].key);
    out += ",\"value\":";
    append_value(out, attrs[i].value);
    out += '}';
  }
  out += ']';
}

void append_span(std::string& out, const wire::Span& s) {
  static const uint8_t zero[8] = {};
  out += "{\"traceId\":\"";
  append_hex(out, s.trace_id, 16);
  out += "\",\"spanId\":\"";
  append_hex(out, s.span_id, 8);
  out += '"';
  if (std::memcmp(s.parent_span_id, zero, 8) != 0) {
    out += ",\"parentSpanId\":\"";
    append_hex(out, s.parent_span_id, 8);
    out += '"';
  }
  fmt::format_to(std::back_inserter(out), ",\"flags\":{},\"name\":", unsigned(s.trace_flags));
  append_json_string(out, s.name);
  fmt::format_to(std::back_inserter(out), ",\"kind\":{},\"startTimeUnixNano\":", int(s.kind));
  append_u64_string(out, s.start_unix_nano);
  out += ",\"endTimeUnixNano\":";
  append_u64_string(out, s.end_unix_nano);
  out += ',';
  append_attributes(out, s.attributes);
  if (s.dropped_attributes_count)
    fmt::format_to(std::back_inserter(out), ",\"droppedAttributesCount\":{}", s.dropped_attributes_count);
  if (!s.events.empty()) {
    out += ",\"events\":[";
    for (size_t i = 0; i < s.events.size(); ++i) {
      const wire::Event& e = s.events[i];
      if (i) out += ',';
      out += "{\"timeUnixNano\":";
      append_u64_string(out, e.time_unix_nano);
      out += ",\"name\":";
      append_json_string(out, e.name);
      out += ',';
      append_attributes(out, e.attributes);
      out += '}';
    }
    out += ']';
  }
  fmt::format_to(std::back_inserter(out), ",\"status\":{{\"code\":{}", int(s.status_code));
  if (!s.status_message.empty()) {
    out += ",\"message\":";
    append_json_string(out, s.status_message);
  }
  out += "}}";
}

void append_resource(std::string& out, const ResourceInfo& r) {
  out += "\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":";
  append_json_string(out, r.service_name);
  fmt::format_to(std::back_inserter(out),
                 "}}}},{{\"key\":\"process.pid\",\"value\":{{\"intValue\":\"{}\"}}}},"
                 "{{\"key\":\"telemetry.sdk.name\",\"value\":{{\"stringValue\":\"agent-run\"}}}},"
                 "{{\"key\":\"telemetry.sdk.language\",\"value\":{{\"stringValue\":\"python\"}}}},"
                 "{{\"key\":\"telemetry.sdk.version\",\"value\":{{\"stringValue\":",
                 r.pid);
  append_json_string(out, r.agent_version);
  out += "}}]}";
}

}  // namespace

void append_otlp_json_line(const SpanBatch& batch, std::string& out) {
  out += "{\"resourceSpans\":[";
  auto groups = batch.by_resource();
  bool first_group = true;
  for (size_t r = 0; r < groups.size(); ++r) {
    if (groups[r].empty()) continue;
    if (!first_group) out += ',';
    first_group = false;
    out += '{';
    append_resource(out, *batch.resources[r]);
    out += ",\"scopeSpans\":[{\"scope\":{\"name\":\"agent-run\",\"version\":\"";
    out += agent_run::kVersion;
    out += "\"},\"spans\":[";
    bool first = true;
    for (uint32_t i : groups[r]) {
      if (!first) out += ',';
      first = false;
      append_span(out, batch.spans[i]);
    }
    out += "]}]}";
  }
  out += "]}\n";
}

}  // namespace agent_run::collector
