#pragma once
// The span the benchmarks record: a typical server span (5 attributes).
#include <cstring>

#include "wire/span.hpp"

inline agent_run::wire::Span bench_span(uint32_t n) {
  using namespace agent_run::wire;
  Span s;
  for (int i = 0; i < 16; ++i) s.trace_id[i] = uint8_t(i * 7 + 3);
  std::memcpy(s.trace_id, &n, 4);
  for (int i = 0; i < 8; ++i) s.span_id[i] = uint8_t(i * 13 + 1);
  std::memcpy(s.span_id, &n, 4);
  s.parent_span_id[0] = 9;
  s.name = "GET /api/items/{item_id}";
  s.kind = SpanKind::Server;
  s.start_unix_nano = 1795315197962427671ull + n;
  s.end_unix_nano = s.start_unix_nano + 1500000;
  s.attributes = {{"http.request.method", std::string("GET")},
                  {"http.response.status_code", int64_t(200)},
                  {"url.path", std::string("/api/items/12345")},
                  {"server.address", std::string("localhost")},
                  {"http.route", std::string("/api/items/{item_id}")}};
  return s;
}
