#include <catch2/catch.hpp>

#include "report/trace_trees.hpp"

using namespace agent_run::report;

namespace {

SpanRecord span(uint64_t trace, uint64_t id, uint64_t parent, const std::string& name, int kind, uint64_t start_ms,
                uint64_t end_ms) {
  SpanRecord s;
  s.trace_id = TraceId{0, trace};
  s.span_id = id;
  s.parent_span_id = parent;
  s.name = name;
  s.kind = kind;
  s.start_unix_nano = start_ms * 1000000;
  s.end_unix_nano = end_ms * 1000000;
  return s;
}

}  // namespace

TEST_CASE("the selector keeps the N traces with the longest root span", "[trace_trees]") {
  TopTraceSelector sel(2);
  sel.add_span(span(1, 11, 0, "a", kKindServer, 0, 10));
  sel.add_span(span(2, 21, 0, "b", kKindServer, 0, 30));
  sel.add_span(span(3, 31, 0, "c", kKindServer, 0, 20));
  sel.add_span(span(4, 42, 41, "child", kKindInternal, 0, 99));    // not a root: ignored
  sel.add_span(span(5, 51, 999, "entry", kKindServer, 0, 25));     // remote parent: its entry span counts
  const auto picks = sel.picks();
  REQUIRE(picks.size() == 2);
  CHECK(picks[0].trace_id.lo == 2);
  CHECK(picks[0].duration_ns == 30000000);
  CHECK(picks[0].root_span_id == 21);
  CHECK(picks[1].trace_id.lo == 5);
}

TEST_CASE("a trace is ranked by its longest root candidate, seen in any order", "[trace_trees]") {
  TopTraceSelector sel(1);
  sel.add_span(span(1, 12, 11, "nested server", kKindServer, 5, 15));  // a local server span under a client span
  sel.add_span(span(2, 21, 0, "other", kKindServer, 0, 12));
  sel.add_span(span(1, 11, 0, "root", kKindServer, 0, 40));
  const auto picks = sel.picks();
  REQUIRE(picks.size() == 1);
  CHECK(picks[0].trace_id.lo == 1);
  CHECK(picks[0].root_span_id == 11);
  CHECK(picks[0].duration_ns == 40000000);
}

TEST_CASE("a tree: pre-order, children by start time, depths, offsets", "[trace_trees]") {
  std::vector<SpanRecord> spans{
      span(1, 4, 3, "grandchild", kKindInternal, 45, 65), span(1, 3, 1, "second", kKindInternal, 40, 90),
      span(1, 2, 1, "first", kKindClient, 5, 35),         span(1, 1, 0, "root", kKindServer, 0, 100),
  };
  spans[1].status_code = kStatusError;
  spans[1].exception = "ValueError: boom";
  const TraceTree t = build_tree(TraceId{0, 1}, 1, 100000000, spans);
  REQUIRE(t.nodes.size() == 4);
  CHECK(t.nodes[0].name == "root");
  CHECK(t.nodes[0].depth == 0);
  CHECK_FALSE(t.nodes[0].parent_missing);
  CHECK(t.nodes[1].name == "first");
  CHECK(t.nodes[1].depth == 1);
  CHECK(t.nodes[2].name == "second");
  CHECK(t.nodes[2].error);
  CHECK(t.nodes[2].error_message == "ValueError: boom");
  CHECK(t.nodes[3].name == "grandchild");
  CHECK(t.nodes[3].depth == 2);
  CHECK(t.nodes[3].start_offset_ns == 45000000);
  CHECK(t.nodes[3].duration_ns == 20000000);
  CHECK(t.root_name == "root");
  CHECK(t.spans == 4);
}

TEST_CASE("spans whose parent is missing are shown as marked roots; cycles terminate", "[trace_trees]") {
  std::vector<SpanRecord> spans{
      span(1, 1, 0, "root", kKindServer, 0, 100),
      span(1, 2, 77, "orphan", kKindInternal, 10, 20),  // its parent was dropped
      span(1, 5, 6, "cycle a", kKindInternal, 1, 2),
      span(1, 6, 5, "cycle b", kKindInternal, 1, 3),
  };
  const TraceTree t = build_tree(TraceId{0, 1}, 1, 100000000, spans);
  REQUIRE(t.nodes.size() == 4);
  CHECK(t.nodes[0].name == "root");
  CHECK(t.nodes[1].name == "orphan");
  CHECK(t.nodes[1].depth == 0);
  CHECK(t.nodes[1].parent_missing);
}

TEST_CASE("the collector keeps only picked traces, once per span, up to the cap", "[trace_trees]") {
  TraceCollector c({TopTraceSelector::Pick{TraceId{0, 1}, 100000000, 1}}, 2);
  REQUIRE(c.hex_ids() == std::vector<std::string>{"00000000000000000000000000000001"});
  c.add_span(span(1, 2, 1, "a", kKindInternal, 1, 2));
  c.add_span(span(1, 2, 1, "a again", kKindInternal, 1, 2));  // read twice: counted once
  c.add_span(span(9, 9, 0, "other trace", kKindServer, 0, 1));
  c.add_span(span(1, 3, 1, "b", kKindInternal, 2, 3));
  c.add_span(span(1, 4, 1, "c", kKindInternal, 3, 4));        // beyond the cap of 2
  c.add_span(span(1, 1, 0, "root", kKindServer, 0, 100));     // the root is kept whatever the cap
  const auto trees = c.build();
  REQUIRE(trees.size() == 1);
  const TraceTree& t = trees[0];
  CHECK(t.spans_left_out == 1);
  CHECK(t.spans == 4);
  REQUIRE(t.nodes.size() == 3);
  CHECK(t.nodes[0].name == "root");
  CHECK(t.nodes[1].name == "a");
}

TEST_CASE("kept spans hold bounded texts", "[trace_trees]") {
  TraceCollector c({TopTraceSelector::Pick{TraceId{0, 1}, 1, 1}}, 10);
  SpanRecord s = span(1, 1, 0, "root", kKindServer, 0, 1);
  s.db_statement = std::string(100000, 'x');
  c.add_span(s);
  const auto trees = c.build();
  REQUIRE(trees.at(0).nodes.size() == 1);
  CHECK(trees[0].nodes[0].statement.size() == 4096 + 3);
  CHECK_THAT(trees[0].nodes[0].statement, Catch::EndsWith("xxx..."));
}
