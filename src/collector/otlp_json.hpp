#pragma once
// OTLP/JSON encoding of a batch (one ExportTraceServiceRequest per line), per
// the OTLP specification's JSON mapping: lowerCamelCase names, trace and span
// ids as lowercase hex (not base64), 64-bit integers as decimal strings, enums
// as numbers, AnyValue objects for attribute values.
//
// Written as a streaming writer for this one fixed schema because building a
// generic JSON DOM per span (nlohmann::json) costs several times the whole
// rest of the collector's per-span work; tests/collector check its output
// against nlohmann::json and against the OTLP definitions.
#include <string>

#include "collector/span_batch.hpp"

namespace agent_run::collector {

// Appends {"resourceSpans":[...]} and a newline.
void append_otlp_json_line(const SpanBatch& batch, std::string& out);
// The same line written at the start of `buffer`, which grows when needed and
// is never shrunk (its bytes past the returned length are left from earlier
// lines): a buffer reused for every batch is not zero-filled again each time.
size_t write_otlp_json_line(const SpanBatch& batch, std::string& buffer);

// Helpers, exposed for the console exporter and tests.
void append_json_string(std::string& out, const std::string& s);  // with quotes; input must be valid UTF-8
void append_hex(std::string& out, const uint8_t* bytes, size_t n);

}  // namespace agent_run::collector
