#include <catch2/catch.hpp>

#include <string>

#include "report/json_events.hpp"

using agent_run::report::JsonEvents;

namespace {

// Records the events as a compact text, e.g. {k:s(v),a:[u(1),i(-2)]}.
struct Recorder {
  std::string log;
  bool null() { return add("null"); }
  bool boolean(bool b) { return add(b ? "true" : "false"); }
  bool number_integer(int64_t v) { return add("i(" + std::to_string(v) + ")"); }
  bool number_unsigned(uint64_t v) { return add("u(" + std::to_string(v) + ")"); }
  bool number_float(double, const std::string& raw) { return add("f(" + raw + ")"); }
  bool string(std::string& s) { return add("s(" + s + ")"); }
  bool key(std::string& k) {
    log += k + ":";
    return true;
  }
  bool start_object(std::size_t) { return add("{"); }
  bool end_object() { return add("}"); }
  bool start_array(std::size_t) { return add("["); }
  bool end_array() { return add("]"); }
  bool add(const std::string& e) {
    log += e;
    return true;
  }
};

std::string events(const std::string& text, std::string* error = nullptr) {
  Recorder r;
  std::string err;
  const bool ok = JsonEvents<Recorder>(text, r, err).parse();
  if (error) *error = err;
  return ok ? r.log : "FAIL";
}

}  // namespace

TEST_CASE("json events: values", "[json_events]") {
  CHECK(events(R"( {"a" : [1, -2, 3.5, 1e3, true, false, null, "x"], "b": {}} )") ==
        "{a:[u(1)i(-2)f(3.5)f(1e3)truefalsenulls(x)]b:{}}");
  CHECK(events("18446744073709551615") == "u(18446744073709551615)");
  CHECK(events("18446744073709551616") == "f(18446744073709551616)");  // beyond uint64
  CHECK(events("-0") == "i(0)");
  CHECK(events("[]") == "[]");
}

TEST_CASE("json events: string escapes become UTF-8", "[json_events]") {
  CHECK(events(R"("a\"b\\c\/d\n\t")") == "s(a\"b\\c/d\n\t)");
  CHECK(events(R"("\u00e9\u4e2d")") == "s(\xC3\xA9\xE4\xB8\xAD)");
  CHECK(events(R"("\ud83d\ude00")") == "s(\xF0\x9F\x98\x80)");  // a surrogate pair
  CHECK(events("\"caf\xC3\xA9\"") == "s(caf\xC3\xA9)");         // raw UTF-8 passes through
}

TEST_CASE("json events: invalid JSON is rejected with a position", "[json_events]") {
  std::string err;
  for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "{a:1}", "01", "1.", "-", "1e", "tru", "nul",
                          "\"abc", "\"a\\x\"", "\"\\ud83d\"", "\"\\udc00\"", "\"\\u12\"", "\"a\nb\"", "1 2", "[1]]"}) {
    INFO("input: " << bad);
    CHECK(events(bad, &err) == "FAIL");
    CHECK_THAT(err, Catch::StartsWith("not valid JSON (at byte "));
  }
  events("[1,]", &err);
  CHECK(err == "not valid JSON (at byte 4: unexpected character)");
}

TEST_CASE("json events: deep nesting is refused, not recursed into", "[json_events]") {
  std::string err;
  CHECK(events(std::string(100000, '['), &err) == "FAIL");
  CHECK_THAT(err, Catch::Contains("nested too deeply"));
  const std::string ok_depth = std::string(JsonEvents<Recorder>::kMaxDepth, '[') + std::string(JsonEvents<Recorder>::kMaxDepth, ']');
  CHECK(events(ok_depth) != "FAIL");
}

TEST_CASE("json events: the handler can stop the parse", "[json_events]") {
  struct Stopper : Recorder {
    bool string(std::string&) { return false; }
  } s;
  std::string err;
  CHECK_FALSE(JsonEvents<Stopper>(R"(["x", 1])", s, err).parse());
  CHECK(err.empty());  // not a syntax error: the handler said why, if anything
  CHECK(s.log == "[");
}
