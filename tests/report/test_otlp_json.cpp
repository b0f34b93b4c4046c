#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "report/otlp_json.hpp"

using namespace agent_run::report;

namespace {

const std::string kHead = R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},"scopeSpans":[{"spans":[)";
const std::string kTail = "]}]}]}";
const std::string kMinimal = R"({"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"x","kind":2,"startTimeUnixNano":"10","endTimeUnixNano":"25"})";

struct Parse {
  ParsedLine out;
  std::string error;
  bool ok;
  explicit Parse(const std::string& line) {
    OtlpLineParser p;
    ok = p.parse(line, out, error);
  }
};

}  // namespace

TEST_CASE("a span line yields the fields the report needs", "[otlp_json]") {
  Parse p(kHead + R"({"traceId":"0AF7651916CD43DD8448EB211C80319C","spanId":"b7ad6b7169203331","parentSpanId":"00f067aa0ba902b7",
    "name":"SELECT users","kind":3,"startTimeUnixNano":"1763776800005000000","endTimeUnixNano":"1763776800035000000",
    "attributes":[{"key":"db.system","value":{"stringValue":"sqlite"}},{"key":"db.statement","value":{"stringValue":"SELECT * FROM users"}},
                  {"key":"db.rows","value":{"intValue":"3"}},{"key":"tags","value":{"arrayValue":{"values":[{"stringValue":"a"}]}}}],
    "events":[{"name":"exception","timeUnixNano":"1","attributes":[{"value":{"stringValue":"boom"},"key":"exception.message"},{"key":"exception.type","value":{"stringValue":"ValueError"}}]}],
    "links":[{"traceId":"x","spanId":"y"}],
    "status":{"code":2,"message":"failed"}})" + kTail);
  REQUIRE(p.ok);
  REQUIRE(p.out.spans.size() == 1);
  const SpanRecord& s = p.out.spans[0];
  CHECK(to_hex(s.trace_id) == "0af7651916cd43dd8448eb211c80319c");  // hex ids are case-insensitive
  CHECK(to_hex(s.span_id) == "b7ad6b7169203331");
  CHECK(to_hex(s.parent_span_id) == "00f067aa0ba902b7");
  CHECK(s.name == "SELECT users");
  CHECK(s.kind == kKindClient);
  CHECK(s.duration_ns() == 30000000);
  CHECK(s.status_code == kStatusError);
  CHECK(s.status_message == "failed");
  CHECK(s.service == "shop");
  CHECK(s.db_system == "sqlite");
  CHECK(s.db_statement == "SELECT * FROM users");
  CHECK(s.exception == "ValueError: boom");  // key/value order inside an attribute does not matter
}

TEST_CASE("the resource may follow its spans; each resource names its own spans", "[otlp_json]") {
  Parse p(R"({"resourceSpans":[{"scopeSpans":[{"spans":[)" + kMinimal +
          R"(]}],"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"late"}}]}},{"scopeSpans":[{"spans":[)" +
          kMinimal + "," + kMinimal + R"(]}]}]})");
  REQUIRE(p.ok);
  REQUIRE(p.out.spans.size() == 3);
  CHECK(p.out.spans[0].service == "late");
  CHECK(p.out.spans[1].service == "");  // the second resource has no service.name
  CHECK(p.out.spans[2].service == "");
}

TEST_CASE("lenient where the meaning is unambiguous", "[otlp_json]") {
  Parse p(kHead + R"({"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","parentSpanId":"",
    "name":"x","kind":"SPAN_KIND_SERVER","startTimeUnixNano":10,"endTimeUnixNano":25,"status":{"code":"STATUS_CODE_ERROR"},
    "unknownField":{"deep":[{"a":[1,{"b":null}]}]}})" + kTail);
  REQUIRE(p.ok);
  const SpanRecord& s = p.out.spans.at(0);
  CHECK(s.kind == kKindServer);
  CHECK(s.status_code == kStatusError);
  CHECK(s.duration_ns() == 15);
  CHECK(s.parent_span_id == 0);
}

TEST_CASE("an empty request is valid and holds no spans", "[otlp_json]") {
  Parse p(R"({"resourceSpans":[]})");
  CHECK(p.ok);
  CHECK(p.out.spans.empty());
}

TEST_CASE("agent stats lines, with unknown fields", "[otlp_json]") {
  Parse p(R"({"agentRunStats":{"service":"shop","pid":101,"dropped_spans":5,"new":{"x":[1]},
    "plugins":[{"name":"sqlite3","state":"unplugged","errors":4,"calls":7,"last_error":"locked","since":"x"},{"name":"requests"}]}})");
  REQUIRE(p.ok);
  REQUIRE(p.out.stats.size() == 1);
  const StatsRecord& st = p.out.stats[0];
  CHECK(st.service == "shop");
  CHECK(st.pid == 101);
  CHECK(st.has_dropped_spans);
  CHECK(st.dropped_spans == 5);
  REQUIRE(st.plugins.size() == 2);
  CHECK(st.plugins[0].name == "sqlite3");
  CHECK(st.plugins[0].state == "unplugged");
  CHECK(st.plugins[0].errors == 4);
  CHECK(st.plugins[0].calls == 7);
  CHECK(st.plugins[0].last_error == "locked");
  CHECK(st.plugins[1].name == "requests");
}

TEST_CASE("agent stats counters may be decimal strings", "[otlp_json]") {
  Parse p(R"({"agentRunStats":{"service":"s","pid":"12","dropped_spans":"3","plugins":[{"name":"x","errors":"2","calls":"9"}]}})");
  REQUIRE(p.ok);
  CHECK(p.out.stats.at(0).pid == 12);
  CHECK(p.out.stats.at(0).dropped_spans == 3);
  CHECK(p.out.stats.at(0).plugins.at(0).errors == 2);
  CHECK(p.out.stats.at(0).plugins.at(0).calls == 9);
  Parse bad(R"({"agentRunStats":{"service":"s","dropped_spans":"many"}})");
  CHECK_FALSE(bad.ok);
  CHECK_THAT(bad.error, Catch::Contains("\"many\" is not a count"));
}

TEST_CASE("agent stats with per-cause drop counters instead of a total", "[otlp_json]") {
  Parse p(R"({"agentRunStats":{"service":"s","pid":1,"dropped_buffer_full":2,"dropped_no_collector":"3","dropped_too_large":4}})");
  REQUIRE(p.ok);
  CHECK(p.out.stats.at(0).has_dropped_spans);
  CHECK(p.out.stats.at(0).dropped_spans == 9);
  Parse both(R"({"agentRunStats":{"dropped_spans":5,"dropped_buffer_full":2}})");
  REQUIRE(both.ok);
  CHECK(both.out.stats.at(0).dropped_spans == 5);  // the total wins
}

TEST_CASE("lines that are not JSON or not the expected shape are rejected with a reason", "[otlp_json]") {
  auto reason = [](const std::string& line) {
    Parse p(line);
    CHECK_FALSE(p.ok);
    return p.error;
  };
  CHECK_THAT(reason(R"({"resourceSpans":[)"), Catch::Contains("not valid JSON"));
  CHECK_THAT(reason("[1,2]"), Catch::Contains("array"));
  CHECK_THAT(reason("42"), Catch::Contains("not an object"));
  CHECK_THAT(reason(R"({"hello":"world"})"), Catch::Contains("neither resourceSpans nor agentRunStats"));
  CHECK_THAT(reason(R"({"resourceSpans":{}})"), Catch::Contains("resourceSpans must be an array"));
  CHECK_THAT(reason(R"({"resourceSpans":[{"scopeSpans":[{"spans":{}}]}]})"), Catch::Contains("spans must be an array"));
  CHECK_THAT(reason(kHead + R"({"traceId":"xyz","spanId":"b7ad6b7169203331","startTimeUnixNano":"1","endTimeUnixNano":"2"})" + kTail),
             Catch::Contains("traceId \"xyz\""));
  CHECK_THAT(reason(kHead + R"({"traceId":"0af7651916cd43dd8448eb211c80319c","startTimeUnixNano":"1","endTimeUnixNano":"2"})" + kTail),
             Catch::Contains("without a valid spanId"));
  CHECK_THAT(reason(kHead + R"({"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","endTimeUnixNano":"2"})" + kTail),
             Catch::Contains("startTimeUnixNano"));
  CHECK_THAT(reason(kHead + R"({"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","startTimeUnixNano":"soon","endTimeUnixNano":"2"})" + kTail),
             Catch::Contains("startTimeUnixNano is not an unsigned integer"));
  CHECK_THAT(reason(kHead + R"({"traceId":"00000000000000000000000000000000","spanId":"b7ad6b7169203331","startTimeUnixNano":"1","endTimeUnixNano":"2"})" + kTail),
             Catch::Contains("traceId"));  // all-zero ids are invalid
  CHECK_THAT(reason(R"({"resourceSpans":[5]})"), Catch::Contains("objects are expected"));
}

TEST_CASE("a rejected line after a good one starts from a clean slate", "[otlp_json]") {
  OtlpLineParser parser;
  ParsedLine out;
  std::string error;
  REQUIRE(parser.parse(kHead + kMinimal + kTail, out, error));
  CHECK(out.spans.size() == 1);
  CHECK_FALSE(parser.parse("{", out, error));
  REQUIRE(parser.parse(R"({"resourceSpans":[]})", out, error));
  CHECK(out.spans.empty());
  CHECK(error.empty());
}

TEST_CASE("mentions_trace finds trace ids without parsing", "[otlp_json]") {
  const std::vector<std::string> ids{"0af7651916cd43dd8448eb211c80319c", "ffffffffffffffffffffffffffffffff"};  // sorted
  CHECK(mentions_trace(kHead + kMinimal + kTail, ids));
  CHECK(mentions_trace(R"({"traceId" : "0AF7651916CD43DD8448EB211C80319C"})", ids));
  CHECK_FALSE(mentions_trace(R"({"traceId":"1af7651916cd43dd8448eb211c80319c"})", ids));
  CHECK_FALSE(mentions_trace(R"({"spanId":"0af7651916cd43dd8448eb211c80319c"})", ids));
  CHECK_FALSE(mentions_trace(R"({"traceId":"0af7)", ids));  // cut short: no out-of-bounds read
}

TEST_CASE("corrupted lines are parsed or rejected with a reason, never crash", "[otlp_json]") {
  const std::string good = kHead + R"({"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","parentSpanId":"00f067aa0ba902b7",
    "name":"q\u00e9","kind":3,"startTimeUnixNano":"5","endTimeUnixNano":"35","attributes":[{"key":"db.statement","value":{"stringValue":"SELECT 1"}}],
    "events":[{"name":"exception","attributes":[{"key":"exception.type","value":{"stringValue":"E"}}]}],"status":{"code":2}})" + kTail;
  std::mt19937 rng(1234);  // fixed seed: the same corruptions every run
  OtlpLineParser parser;
  ParsedLine out;
  std::string error;
  size_t rejected = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string line = good;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !line.empty(); ++e) {
      const size_t pos = rng() % line.size();
      switch (rng() % 3) {
        case 0: line[pos] = static_cast<char>(rng() % 256); break;
        case 1: line.erase(pos, 1 + rng() % 8); break;
        default: line.insert(pos, 1, "{}[],:\"\\0a-"[rng() % 11]); break;
      }
    }
    if (!parser.parse(line, out, error)) {
      ++rejected;
      CHECK_FALSE(error.empty());
    }
  }
  CHECK(rejected > 2500);  // most corruptions break JSON or the shape
}
