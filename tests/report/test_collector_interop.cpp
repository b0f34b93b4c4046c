// The report reads what the collector writes: a store produced by the
// collector's own OTLP/JSON writer (collector/otlp_json.hpp), not a fixture
// written by hand. Built only in the full tree, where the collector exists.
#include <catch2/catch.hpp>

#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "collector/otlp_json.hpp"
#include "report/report.hpp"
#include "test_util.hpp"

using namespace agent_run;
using json = nlohmann::json;

namespace {

wire::Span make_span(uint8_t id, uint8_t parent, const char* name, wire::SpanKind kind, uint64_t start_ms, uint64_t end_ms) {
  wire::Span s;
  for (auto& b : s.trace_id) b = 0x4b;
  s.span_id[7] = id;
  if (parent) s.parent_span_id[7] = parent;
  s.name = name;
  s.kind = kind;
  s.start_unix_nano = 1763776800000000000ull + start_ms * 1000000;
  s.end_unix_nano = 1763776800000000000ull + end_ms * 1000000;
  return s;
}

}  // namespace

TEST_CASE("a store written by the collector's OTLP/JSON writer", "[report][interop]") {
  auto shop = std::make_shared<collector::ResourceInfo>();
  shop->pid = 4242;
  shop->service_name = "shop \"eu\" caf\xC3\xA9";
  shop->agent_version = "0.1.0";

  wire::Span db = make_span(2, 1, "SELECT", wire::SpanKind::Client, 10, 30);
  db.attributes.push_back({"db.system", std::string("sqlite")});
  db.attributes.push_back({"db.statement", std::string("SELECT \"name\"\tFROM users WHERE id = ?")});
  db.attributes.push_back({"db.rows", int64_t(1)});
  db.attributes.push_back({"ratio", 0.5});
  db.attributes.push_back({"cached", false});
  wire::Event ev;
  ev.name = "exception";
  ev.time_unix_nano = db.end_unix_nano;
  ev.attributes.push_back({"exception.type", std::string("sqlite3.OperationalError")});
  ev.attributes.push_back({"exception.message", std::string("no such table: users")});
  db.events.push_back(ev);
  db.status_code = wire::StatusCode::Error;
  wire::Span render = make_span(3, 1, "render", wire::SpanKind::Internal, 31, 45);
  wire::Span tmpl = make_span(4, 3, "load_template", wire::SpanKind::Internal, 32, 40);
  wire::Span root = make_span(1, 0, "GET /users/{id}", wire::SpanKind::Server, 0, 50);
  root.attributes.push_back({"http.status_code", int64_t(500)});
  root.status_code = wire::StatusCode::Error;
  root.status_message = "Internal\nServer Error";

  // Children in one batch, the root in a later one, as the collector sees them.
  std::string lines;
  collector::SpanBatch children;
  children.resources.push_back(shop);
  for (const auto* s : {&db, &tmpl, &render}) children.add(0, *s);
  collector::append_otlp_json_line(children, lines);
  collector::SpanBatch roots;
  roots.resources.push_back(shop);
  roots.add(0, root);
  collector::append_otlp_json_line(roots, lines);

  report_test::TempDir dir;
  dir.write("traces/traces-0.jsonl", lines);
  report::ReportOptions opts;
  opts.path = dir.path();  // the data dir: its traces/ is the store
  opts.json = true;
  std::ostringstream out, err;
  REQUIRE(report::run_report(opts, out, err) == 0);
  INFO(err.str());
  const json j = json::parse(out.str());

  CHECK(j["source"]["files"][0]["malformed_lines"] == 0);
  CHECK(j["totals"]["spans"] == 4);
  bool found_db = false;
  for (const auto& op : j["operations"]) {
    CHECK(op["service"] == "shop \"eu\" caf\xC3\xA9");
    if (op["name"] == "sqlite SELECT") {
      found_db = true;
      CHECK(op["kind"] == "client");
      CHECK(op["errors"] == 1);
      CHECK(op["p50_ms"].get<double>() == Approx(20.0));
    }
  }
  CHECK(found_db);
  REQUIRE(j["slowest_traces"].size() == 1);
  const json& t = j["slowest_traces"][0];
  CHECK(t["trace_id"] == "4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b");
  CHECK(t["duration_ms"].get<double>() == Approx(50.0));
  const json& r = t["roots"].at(0);
  CHECK(r["status"] == "ERROR");
  CHECK(r["error_message"] == "Internal\nServer Error");
  REQUIRE(r["children"].size() == 2);
  CHECK(r["children"][0]["error_message"] == "sqlite3.OperationalError: no such table: users");
  CHECK(r["children"][0]["statement"] == "SELECT \"name\"\tFROM users WHERE id = ?");
  CHECK(r["children"][1]["children"][0]["name"] == "load_template");
  CHECK(j["statements"]["most_frequent"][0]["count"] == 1);
}
