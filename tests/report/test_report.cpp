// run_report end to end over the fixtures in data/.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <sstream>

#include <nlohmann/json.hpp>

#include "report/report.hpp"
#include "test_util.hpp"

using namespace agent_run::report;
using report_test::data;
using report_test::TempDir;
using json = nlohmann::json;

namespace {

struct Run {
  int rc;
  std::string out, err;
  explicit Run(ReportOptions opts) {
    std::ostringstream o, e;
    rc = run_report(opts, o, e);
    out = o.str();
    err = e.str();
  }
};

ReportOptions opts_for(const std::string& path, bool as_json = false, size_t top = 5) {
  ReportOptions o;
  o.path = path;
  o.json = as_json;
  o.top = top;
  return o;
}

}  // namespace

TEST_CASE("percentiles of a known distribution, text and JSON", "[report]") {
  Run text(opts_for(data("percentiles.jsonl")));
  REQUIRE(text.rc == 0);
  CHECK(text.err.empty());
  // 20 spans of 1..20 ms, 2 errors: p50 10, p95 19, p99 20.
  CHECK_THAT(text.out, Catch::Contains("users    server  GET /users/{id}     20  10.00%   10.00   19.00   20.00"));

  Run js(opts_for(data("percentiles.jsonl"), true));
  REQUIRE(js.rc == 0);
  const json j = json::parse(js.out);
  REQUIRE(j["operations"].size() == 1);
  const json& op = j["operations"][0];
  CHECK(op["count"] == 20);
  CHECK(op["errors"] == 2);
  CHECK(op["error_rate"].get<double>() == Approx(0.1));
  CHECK(op["p50_ms"].get<double>() == Approx(10.0));
  CHECK(op["p95_ms"].get<double>() == Approx(19.0));
  CHECK(op["p99_ms"].get<double>() == Approx(20.0));
  CHECK(op["percentiles_exact"] == true);
  CHECK(j["totals"]["spans"] == 20);
  CHECK(j["slowest_traces"].size() == 5);
  CHECK(j["slowest_traces"][0]["duration_ms"].get<double>() == Approx(20.0));
}

TEST_CASE("the slowest trace is a tree across lines and files", "[report]") {
  Run text(opts_for(data("store")));
  REQUIRE(text.rc == 0);
  // Children by start time, two spaces per level, errors marked, the span from traces-2.jsonl included.
  const std::string tree =
      "       +ms   DURATION  SPAN\n"
      "     +0.00  100.00 ms  GET /orders/{id} [server]\n"
      "     +5.00   30.00 ms    SELECT * FROM orders WHERE id = ? [client]\n"
      "    +40.00   50.00 ms    render [internal]  ERROR: template failed\n"
      "    +45.00   20.00 ms      load_template [internal]\n"
      "    +91.00    8.00 ms    INSERT INTO audit VALUES (?) [client]\n";
  CHECK_THAT(text.out, Catch::Contains(tree));
  CHECK_THAT(text.out, Catch::Contains("#1 100.00 ms  GET /orders/{id}  (shop)  trace aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1"));
  CHECK_THAT(text.out, Catch::Contains("POST /checkout [server]  (parent span not in the store)"));

  Run js(opts_for(data("store"), true));
  const json j = json::parse(js.out);
  const json& traces = j["slowest_traces"];
  REQUIRE(traces.size() == 4);  // all 4 traces in the store, longest first
  CHECK(traces[0]["trace_id"] == "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1");
  CHECK(traces[1]["trace_id"] == "ddddddddddddddddddddddddddddddd1");
  CHECK(traces[2]["trace_id"] == "ccccccccccccccccccccccccccccccc1");
  CHECK(traces[3]["trace_id"] == "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb1");
  CHECK(traces[0]["spans"] == 5);
  const json& root = traces[0]["roots"].at(0);
  CHECK(root["name"] == "GET /orders/{id}");
  CHECK(root["status"] == "UNSET");  // code 0: neither OK nor ERROR
  REQUIRE(root["children"].size() == 3);
  CHECK(root["children"][1]["name"] == "render");
  CHECK(root["children"][1]["status"] == "ERROR");
  CHECK(root["children"][1]["error_message"] == "template failed");
  CHECK(root["children"][1]["children"][0]["name"] == "load_template");
  CHECK(root["children"][2]["statement"] == "INSERT INTO audit VALUES (?)");
  CHECK(traces[1]["roots"][0]["parent_missing"] == true);
  CHECK(traces[1]["roots"][0]["children"][0]["children"][0]["name"] == "db");  // 3 levels
}

TEST_CASE("the top option limits the trees", "[report]") {
  Run js(opts_for(data("store"), true, 2));
  const json j = json::parse(js.out);
  REQUIRE(j["slowest_traces"].size() == 2);
  CHECK(j["slowest_traces"][1]["duration_ms"].get<double>() == Approx(80.0));
  Run none(opts_for(data("store"), true, 0));
  CHECK(json::parse(none.out)["slowest_traces"].empty());
  Run too_many(opts_for(data("store"), false, 5000));
  CHECK(too_many.rc == 2);
  CHECK_THAT(too_many.err, Catch::Contains("--top 5000"));
}

TEST_CASE("operations, statements and agent health of the store", "[report]") {
  Run js(opts_for(data("store"), true));
  const json j = json::parse(js.out);
  auto find_op = [&](const std::string& service, const std::string& kind, const std::string& name) {
    for (const auto& op : j["operations"])
      if (op["service"] == service && op["kind"] == kind && op["name"] == name) return op;
    FAIL("no operation " << service << " " << kind << " " << name);
    return json();
  };
  const json orders = find_op("shop", "server", "GET /orders/{id}");
  CHECK(orders["count"] == 2);
  CHECK(orders["p50_ms"].get<double>() == Approx(60.0));
  CHECK(orders["p95_ms"].get<double>() == Approx(100.0));
  CHECK(find_op("shop", "client", "sqlite SELECT")["count"] == 3);
  CHECK(find_op("shop", "internal", "render")["error_rate"].get<double>() == Approx(1.0));
  CHECK(find_op("billing", "client", "sqlite INSERT")["count"] == 1);
  CHECK(j["operations"].size() == 9);

  const json& st = j["statements"];
  CHECK(st["distinct"] == 2);
  CHECK(st["most_frequent"][0]["statement"] == "SELECT * FROM orders WHERE id = ?");
  CHECK(st["most_frequent"][0]["count"] == 3);
  CHECK(st["most_frequent"][0]["total_ms"].get<double>() == Approx(42.0));
  CHECK(st["slowest_by_total"][0]["statement"] == "INSERT INTO audit VALUES (?)");
  CHECK(st["slowest_by_total"][0]["total_ms"].get<double>() == Approx(53.0));
  CHECK(st["slowest_by_max"][0]["max_ms"].get<double>() == Approx(45.0));

  const json& agent = j["agent"];
  CHECK(agent["stats_seen"] == true);
  CHECK(agent["dropped_spans_total"] == 7);  // shop's latest running total (5) + billing (2)
  const json& sqlite = agent["plugins"][0];
  CHECK(sqlite["name"] == "sqlite3");
  CHECK(sqlite["state"] == "unplugged");
  CHECK(sqlite["calls"] == 27);
  CHECK(sqlite["errors"] == 5);
  CHECK(sqlite["last_error"] == "OperationalError: database is locked");

  Run text(opts_for(data("store")));
  CHECK_THAT(text.out, Catch::Contains("7 spans dropped in total"));
  CHECK_THAT(text.out, Catch::Contains("sqlite3   unplugged     27       5          2  OperationalError: database is locked  [unplugged in billing (pid 202)]"));
  CHECK_THAT(text.out, Catch::Contains("      3       0     42.00   30.00  SELECT * FROM orders WHERE id = ?"));
}

TEST_CASE("malformed lines are reported and the rest is used", "[report]") {
  Run text(opts_for(data("malformed.jsonl")));
  REQUIRE(text.rc == 0);
  CHECK_THAT(text.out, Catch::Contains("4 malformed lines skipped in " + data("malformed.jsonl") + " (first at line 2"));
  CHECK_THAT(text.out, Catch::Contains("the last line of " + data("malformed.jsonl") + " is incomplete"));
  CHECK_THAT(text.out, Catch::Contains("svc      server  GET /ok        2   0.00%    5.00   15.00   15.00"));

  Run js(opts_for(data("malformed.jsonl"), true));
  const json f = json::parse(js.out)["source"]["files"][0];
  CHECK(f["malformed_lines"] == 4);
  CHECK(f["first_malformed_line"] == 2);
  CHECK(f["incomplete_last_line"] == true);
  CHECK(json::parse(js.out)["agent"]["dropped_spans_total"] == 0);
  CHECK_THAT(text.out, Catch::Contains("Dropped spans\n  none (1 process reported)"));
}

TEST_CASE("a missing store is an error naming it, with what to do", "[report]") {
  Run r(opts_for("/nonexistent/agent-run/traces"));
  CHECK(r.rc == 1);
  CHECK(r.out.empty());
  CHECK_THAT(r.err, Catch::Contains("/nonexistent/agent-run/traces") && Catch::Contains("Run your application under agent-run"));
}

TEST_CASE("an empty store reports that there is nothing, without failing", "[report]") {
  TempDir dir;
  dir.write("traces-1.jsonl", "");
  Run r(opts_for(dir.path()));
  CHECK(r.rc == 0);
  CHECK_THAT(r.out, Catch::Contains("0 spans"));
  CHECK_THAT(r.out, Catch::Contains("no spans in the store"));
  CHECK_THAT(r.out, Catch::Contains("Dropped spans\n  not recorded: the store has no agentRunStats lines"));
}

TEST_CASE("the default store follows XDG_DATA_HOME, then HOME", "[report]") {
  const char* old = std::getenv("XDG_DATA_HOME");
  const std::string saved = old ? old : "";
  setenv("XDG_DATA_HOME", "/tmp/xdg", 1);
  CHECK(default_store_path() == "/tmp/xdg/agent-run/traces");
  unsetenv("XDG_DATA_HOME");
  CHECK_THAT(default_store_path(), Catch::EndsWith("/.local/share/agent-run/traces"));
  if (old) setenv("XDG_DATA_HOME", saved.c_str(), 1);
}

TEST_CASE("names from the app cannot break the layout or the terminal", "[report]") {
  TempDir dir;
  dir.write("traces-0.jsonl",
            R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"caf\u00e9"}}]},)"
            R"("scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331",)"
            R"("name":"GET /\u001b[31mred","kind":2,"startTimeUnixNano":"1","endTimeUnixNano":"2000001"}]}]}]})"
            "\n");
  Run r(opts_for(dir.path()));
  REQUIRE(r.rc == 0);
  CHECK(r.out.find('\x1b') == std::string::npos);
  CHECK_THAT(r.out, Catch::Contains("  caf\xC3\xA9     server  GET /?[31mred"));  // padded by characters, not bytes
  CHECK_THAT(r.out, Catch::Contains("(1 file, 1 span, 1 root span,"));
}

TEST_CASE("the memory limits show in the output", "[report]") {
  SECTION("approximate percentiles are marked") {
    ReportOptions o = opts_for(data("percentiles.jsonl"));
    o.limits.max_exact_samples = 5;
    Run text(o);
    CHECK_THAT(text.out, Catch::Contains("GET /users/{id}     20  10.00%   ~9.99  ~18.94  ~20.00"));  // bucket midpoints
    CHECK_THAT(text.out, Catch::Contains("~ approximate (within 0.4%)"));
    o.json = true;
    Run js(o);
    const json op = json::parse(js.out)["operations"][0];
    CHECK(op["percentiles_exact"] == false);
    CHECK(op["p50_ms"].get<double>() == Approx(10.0).epsilon(0.004));
    CHECK(op["p99_ms"].get<double>() == Approx(20.0));  // the max is exact
  }
  SECTION("spans beyond the per-trace cap are counted, the root kept") {
    ReportOptions o = opts_for(data("store"), false, 1);
    o.limits.max_spans_per_trace = 2;
    Run text(o);
    CHECK_THAT(text.out, Catch::Contains("... 2 more spans of this trace not shown (limit per trace)"));
    CHECK_THAT(text.out, Catch::Contains("+0.00  100.00 ms  GET /orders/{id} [server]\n"));
    CHECK_THAT(text.out, Catch::Contains("load_template [internal]  (parent span not in the store)"));
  }
}
