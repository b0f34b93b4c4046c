#pragma once
#include <cstring>
#include <string>

#include "wire/span.hpp"

namespace wire_test {

inline agent_run::wire::Span sample_span(uint32_t n) {
  using namespace agent_run::wire;
  Span s;
  for (int i = 0; i < 16; ++i) s.trace_id[i] = uint8_t(i + 1);
  std::memcpy(s.trace_id, &n, 4);
  for (int i = 0; i < 8; ++i) s.span_id[i] = uint8_t(0xA0 + i);
  std::memcpy(s.span_id, &n, 4);
  for (int i = 0; i < 8; ++i) s.parent_span_id[i] = uint8_t(0x10 + i);
  s.trace_flags = 1;
  s.name = "GET /users/{id} \xC3\xA9";
  s.kind = SpanKind::Server;
  s.start_unix_nano = 1700000000000000000ull + n;
  s.end_unix_nano = 1700000000001000000ull + n;
  s.status_code = StatusCode::Error;
  s.status_message = "boom";
  s.attributes = {{"http.method", std::string("GET")}, {"http.status_code", int64_t(-500)},
                  {"ratio", 0.25}, {"cached", true}, {"empty", std::string()}};
  s.events = {{1700000000000500000ull, "exception", {{"exception.type", std::string("ValueError")}}}};
  s.dropped_attributes_count = 3;
  return s;
}

}  // namespace wire_test
