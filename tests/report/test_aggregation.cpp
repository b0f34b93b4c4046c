#include <catch2/catch.hpp>

#include <cmath>

#include "report/aggregation.hpp"

using namespace agent_run::report;

namespace {

SpanRecord span(const std::string& name, int kind, uint64_t duration_ns, bool error = false,
                const std::string& statement = "", const std::string& service = "svc") {
  static uint64_t next = 1;
  SpanRecord s;
  s.trace_id = TraceId{0, next};
  s.span_id = next++;
  s.name = name;
  s.kind = kind;
  s.start_unix_nano = 1000;
  s.end_unix_nano = 1000 + duration_ns;
  s.status_code = error ? kStatusError : kStatusUnset;
  s.service = service;
  if (!statement.empty()) {
    s.db_statement = statement;
    s.db_system = "sqlite";
  }
  return s;
}

}  // namespace

TEST_CASE("nearest-rank percentiles on exact values", "[aggregation]") {
  Latencies l;
  for (uint64_t v = 20; v >= 1; --v) l.add(v);  // out of order on purpose
  CHECK(l.percentile(50) == 10);  // rank ceil(0.50 * 20) = 10
  CHECK(l.percentile(95) == 19);  // rank 19
  CHECK(l.percentile(99) == 20);  // rank ceil(19.8) = 20
  CHECK(l.percentile(100) == 20);
  CHECK_FALSE(l.approximate());

  Latencies one;
  one.add(7);
  CHECK(one.percentile(50) == 7);
  CHECK(one.percentile(99) == 7);

  Latencies hundred;
  for (uint64_t v = 1; v <= 100; ++v) hundred.add(v);
  CHECK(hundred.percentile(99) == 99);
  CHECK(hundred.percentile(95) == 95);
  CHECK(hundred.percentile(50) == 50);

  Latencies none;
  CHECK(none.percentile(50) == 0);
}

TEST_CASE("the histogram fallback stays within 0.4%", "[aggregation]") {
  for (uint64_t v : {0ull, 1ull, 255ull, 256ull, 257ull, 1000ull, 123456789ull, 1ull << 40, (1ull << 63) + 12345}) {
    const uint64_t back = Latencies::bucket_value(Latencies::bucket_of(v));
    CHECK(std::fabs(static_cast<double>(back) - static_cast<double>(v)) <= static_cast<double>(v) / 256.0 + 0.5);
  }
  CHECK(Latencies::bucket_of(1000) < Latencies::bucket_of(1010));  // buckets are ordered like values

  Latencies l;
  for (uint64_t v = 1; v <= 1000; ++v) l.add(v * 1000000);  // 1..1000 ms
  l.switch_to_histogram();
  CHECK(l.approximate());
  CHECK(l.exact_samples() == 0);
  l.add(1001 * 1000000ull);
  CHECK(l.count() == 1001);
  const double p50 = static_cast<double>(l.percentile(50)), p99 = static_cast<double>(l.percentile(99));
  CHECK(std::fabs(p50 - 501e6) <= 501e6 / 256);  // exact would be rank 501
  CHECK(std::fabs(p99 - 991e6) <= 991e6 / 256);  // rank ceil(990.99) = 991
  CHECK(l.percentile(100) == 1001 * 1000000ull);  // clamped to the exact max
}

TEST_CASE("the operation of a statement is its first word", "[aggregation]") {
  CHECK(statement_operation("  select * from t") == "SELECT");
  CHECK(statement_operation("/* app=x */ WITH a AS (SELECT 1) SELECT * FROM a") == "WITH");
  CHECK(statement_operation("-- comment\n update t set a = 1") == "UPDATE");
  CHECK(statement_operation("(SELECT 1) UNION (SELECT 2)") == "SELECT");
  CHECK(statement_operation("") == "");
}

TEST_CASE("operations: span name with kind; database calls by system and statement verb", "[aggregation]") {
  CHECK(operation_name(span("GET /users/{id}", kKindServer, 1)) == "GET /users/{id}");
  CHECK(operation_name(span("sqlite3.execute", kKindClient, 1, false, "insert into t values (?)")) == "sqlite INSERT");
  SpanRecord s = span("whatever", kKindClient, 1, false, "SELECT 1");
  s.db_system.clear();
  s.db_operation = "FIND";
  CHECK(operation_name(s) == "FIND");
  CHECK(operation_name(span("GET", kKindClient, 1)) == "GET");  // an HTTP client span keeps its name
  // A statement in an internal span is still a statement, but its operation is its name.
  CHECK(operation_name(span("helper", kKindInternal, 1, false, "SELECT 1")) == "helper");
}

TEST_CASE("aggregating spans into operations and statements", "[aggregation]") {
  Aggregator agg{Limits{}};
  for (uint64_t ms = 1; ms <= 20; ++ms) agg.add_span(span("GET /a", kKindServer, ms * 1000000, ms == 7 || ms == 13));
  agg.add_span(span("GET /a", kKindClient, 5));  // same name, other kind: another operation
  agg.add_span(span("q", kKindClient, 3000000, false, "SELECT a FROM t"));
  agg.add_span(span("q", kKindClient, 1000000, false, "SELECT a FROM t"));
  agg.add_span(span("q", kKindClient, 9000000, true, "DELETE FROM t"));
  Report r;
  agg.finish(r, 10);
  REQUIRE(r.operations.size() == 4);
  const OperationRow& a = r.operations[0];
  CHECK(a.name == "GET /a");
  CHECK(a.kind == "server");
  CHECK(a.service == "svc");
  CHECK(a.count == 20);
  CHECK(a.errors == 2);
  CHECK(a.p50_ns == 10000000);
  CHECK(a.p95_ns == 19000000);
  CHECK(a.p99_ns == 20000000);
  CHECK(a.max_ns == 20000000);
  CHECK(r.operations[1].name == "sqlite SELECT");
  CHECK(r.operations[1].count == 2);
  CHECK(r.spans == 24);

  CHECK(r.distinct_statements == 2);
  REQUIRE(r.statements_by_count.size() == 2);
  CHECK(r.statements_by_count[0].statement == "SELECT a FROM t");
  CHECK(r.statements_by_count[0].count == 2);
  CHECK(r.statements_by_count[0].total_ns == 4000000);
  CHECK(r.statements_by_total[0].statement == "DELETE FROM t");
  CHECK(r.statements_by_max[0].statement == "DELETE FROM t");
  CHECK(r.statements_by_max[0].errors == 1);
}

TEST_CASE("caps fold high-cardinality names and bound the exact samples", "[aggregation]") {
  Limits limits;
  limits.max_operations = 2;
  limits.max_statements = 1;
  limits.max_exact_samples = 10;
  Aggregator agg(limits);
  for (int i = 0; i < 8; ++i) agg.add_span(span("big", kKindServer, 1000 + i));
  agg.add_span(span("small", kKindServer, 5));
  agg.add_span(span("third", kKindServer, 5));  // beyond 2 operations
  agg.add_span(span("fourth", kKindServer, 5));
  agg.add_span(span("q", kKindInternal, 5, false, "SELECT 1"));   // the third operation slot is full too
  agg.add_span(span("q", kKindInternal, 5, false, "SELECT 2"));   // beyond 1 statement
  Report r;
  agg.finish(r, 10);
  REQUIRE(r.operations.size() == 3);
  CHECK(r.operations.back().name == "(other: operations beyond the first 2)");
  CHECK(r.operations.back().count == 4);
  CHECK(r.operations_folded == 4);
  // 13 samples > 10: the biggest operation switched to the histogram.
  CHECK(r.operations[0].name == "big");
  CHECK(r.operations[0].approximate);
  CHECK_FALSE(r.operations[1].approximate);
  CHECK(r.distinct_statements == 1);
  CHECK(r.statements_folded == 1);
}

TEST_CASE("agent stats: the latest record per process, plugins across processes", "[aggregation]") {
  Aggregator agg{Limits{}};
  Report before;
  agg.finish(before, 10);
  CHECK_FALSE(before.stats_seen);

  StatsRecord a{"shop", 1, 3, true, {{"sqlite3", "active", 0, 10, ""}}};
  StatsRecord a2{"shop", 1, 5, true, {{"sqlite3", "active", 1, 20, "constraint"}}};
  StatsRecord b{"billing", 2, 2, true, {{"sqlite3", "unplugged", 4, 7, "locked"}, {"requests", "active", 0, 3, ""}}};
  agg.add_stats(a);
  agg.add_stats(b);
  agg.add_stats(a2);  // running totals: replaces the first record of pid 1
  Report r;
  agg.finish(r, 10);
  CHECK(r.stats_seen);
  CHECK(r.dropped_spans_total == 7);
  REQUIRE(r.drops.size() == 2);
  CHECK(r.drops[0].service == "shop");
  CHECK(r.drops[0].dropped_spans == 5);
  REQUIRE(r.plugins.size() == 2);
  const PluginRow& sqlite = r.plugins[0];  // unplugged first
  CHECK(sqlite.name == "sqlite3");
  CHECK(sqlite.state == "unplugged");
  CHECK(sqlite.calls == 27);
  CHECK(sqlite.errors == 5);
  CHECK(sqlite.processes == 2);
  CHECK(sqlite.last_error == "locked");
  CHECK(sqlite.unplugged_in == std::vector<std::string>{"billing (pid 2)"});
  CHECK(r.plugins[1].name == "requests");
  CHECK(r.plugins[1].state == "active");
}

TEST_CASE("long names and statements are cut before they become keys", "[aggregation]") {
  Limits limits;
  limits.max_name_bytes = 8;
  limits.max_statement_bytes = 12;
  Aggregator agg(limits);
  agg.add_span(span("GET /a/very/long/path/1", kKindServer, 5));
  agg.add_span(span("GET /a/very/long/path/2", kKindServer, 5));
  agg.add_span(span("q", kKindInternal, 5, false, "SELECT a FROM t WHERE x = 1"));
  agg.add_span(span("q", kKindInternal, 5, false, "SELECT a FROM t WHERE x = 2"));
  agg.add_span(span("q", kKindInternal, 5, false, "SELECT \xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"));
  Report r;
  agg.finish(r, 10);
  REQUIRE(r.operations.size() == 2);
  CHECK(r.operations[1].name == "GET /a/v...");  // [0] is "q", 3 spans
  CHECK(r.operations[1].count == 2);
  REQUIRE(r.statements_by_count.size() == 2);
  CHECK(r.statements_by_count[0].statement == "SELECT a FRO...");
  CHECK(r.statements_by_count[0].count == 2);
  CHECK(r.statements_by_count[1].statement == "SELECT \xC3\xA9\xC3\xA9...");  // not inside a character
}
