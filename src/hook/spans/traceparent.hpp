#pragma once
// W3C Trace Context `traceparent` header (https://www.w3.org/TR/trace-context/):
//   version "-" trace-id "-" parent-id "-" trace-flags
//   00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
// Strict: lowercase hex only, exact field lengths, version ff invalid,
// all-zero trace id or parent id invalid. A version 00 header must be exactly
// 55 characters; a higher version may carry more fields after a '-'
// (parsed as version 00, as the spec asks).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace agent_run::spans {

struct TraceParent {
  uint8_t trace_id[16] = {};
  uint8_t span_id[8] = {};
  uint8_t flags = 0;
};

// Leading/trailing spaces and tabs (optional whitespace in HTTP) are ignored.
bool parse_traceparent(std::string_view text, TraceParent& out);
std::string format_traceparent(const uint8_t trace_id[16], const uint8_t span_id[8], uint8_t flags);

void hex_encode(const uint8_t* bytes, size_t n, char* out);  // 2n lowercase chars, no NUL
std::string to_hex(const uint8_t* bytes, size_t n);

}  // namespace agent_run::spans
