#include <catch2/catch.hpp>

#include <cstring>

#include "hook/spans/traceparent.hpp"

using namespace agent_run::spans;

static const char* kValid = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

TEST_CASE("traceparent: the spec's example parses and formats back", "[traceparent]") {
  TraceParent p;
  REQUIRE(parse_traceparent(kValid, p));
  CHECK(to_hex(p.trace_id, 16) == "0af7651916cd43dd8448eb211c80319c");
  CHECK(to_hex(p.span_id, 8) == "b7ad6b7169203331");
  CHECK(p.flags == 1);
  CHECK(format_traceparent(p.trace_id, p.span_id, p.flags) == kValid);
}

TEST_CASE("traceparent: optional whitespace around the value is ignored", "[traceparent]") {
  TraceParent p;
  CHECK(parse_traceparent(std::string(" \t") + kValid + " ", p));
}

TEST_CASE("traceparent: strict validation", "[traceparent]") {
  TraceParent p;
  const char* bad[] = {
      "",
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0",     // short flags
      "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",    // upper case
      "00-00000000000000000000000000000000-b7ad6b7169203331-01",    // zero trace id
      "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",    // zero span id
      "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",    // version ff
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x",  // v00 with extra
      "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",    // separator
      "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",    // non-hex
      "0-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      "cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x",   // future, no dash after
  };
  for (const char* b : bad) {
    INFO(b);
    CHECK_FALSE(parse_traceparent(b, p));
  }
}

TEST_CASE("traceparent: a future version may carry more fields", "[traceparent]") {
  TraceParent p;
  REQUIRE(parse_traceparent("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00-what-the-future", p));
  CHECK(p.flags == 0);
  REQUIRE(parse_traceparent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03", p));
  CHECK(p.flags == 3);
}
