#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "report/otlp_json.hpp"
#include "report/store_reader.hpp"
#include "test_util.hpp"

using namespace agent_run::report;
using report_test::data;
using report_test::TempDir;

namespace {

// Reads with the real parser, as run_report does.
StoreReader::LineFn parse_fn(std::vector<std::string>* seen = nullptr) {
  return [seen](std::string_view line, std::string& reason) {
    static OtlpLineParser parser;
    ParsedLine out;
    if (seen) seen->emplace_back(line);
    return parser.parse(line, out, reason) ? LineVerdict::Ok : LineVerdict::Malformed;
  };
}

}  // namespace

TEST_CASE("a store directory is its traces-N.jsonl files in rotation order", "[store_reader]") {
  const ResolvedStore s = resolve_store(data("store"));
  REQUIRE(s.error.empty());
  REQUIRE(s.files.size() == 3);  // notes.txt is not part of the store
  CHECK(s.files[0] == data("store") + "/traces-1.jsonl");
  CHECK(s.files[1] == data("store") + "/traces-2.jsonl");
  CHECK(s.files[2] == data("store") + "/traces-10.jsonl");  // numeric, not lexical, order
}

TEST_CASE("the data dir is accepted for its traces/ subdirectory", "[store_reader]") {
  TempDir dir;
  dir.write("traces/traces-3.jsonl", "");
  const ResolvedStore s = resolve_store(dir.path());
  REQUIRE(s.error.empty());
  REQUIRE(s.files.size() == 1);
  CHECK(s.files[0] == dir.path() + "/traces/traces-3.jsonl");
}

TEST_CASE("a single file is a store of one file", "[store_reader]") {
  const ResolvedStore s = resolve_store(data("percentiles.jsonl"));
  REQUIRE(s.error.empty());
  CHECK(s.files == std::vector<std::string>{data("percentiles.jsonl")});
}

TEST_CASE("a missing path or an empty directory is an error that says what to do", "[store_reader]") {
  const ResolvedStore missing = resolve_store("/nonexistent/agent-run-store");
  CHECK(missing.files.empty());
  CHECK_THAT(missing.error, Catch::Contains("/nonexistent/agent-run-store") &&
                                Catch::Contains("does not exist") && Catch::Contains("under agent-run"));
  TempDir empty;
  const ResolvedStore none = resolve_store(empty.path());
  CHECK(none.files.empty());
  CHECK_THAT(none.error, Catch::Contains("no traces-N.jsonl files in " + empty.path()));
}

TEST_CASE("malformed lines are skipped and counted, with the first line number", "[store_reader]") {
  StoreReader reader({data("malformed.jsonl")}, 1u << 20);
  reader.scan(parse_fn(), true);
  const FileSummary& f = reader.summaries().at(0);
  CHECK(f.lines == 8);  // the blank line is not counted
  CHECK(f.malformed == 4);
  CHECK(f.first_malformed_line == 2);
  CHECK_THAT(f.first_malformed_reason, Catch::Contains("not valid JSON"));
  // The unterminated last line is a write in progress, not a malformed line.
  CHECK(f.incomplete_tail);
}

TEST_CASE("a second pass does not count again", "[store_reader]") {
  StoreReader reader({data("malformed.jsonl")}, 1u << 20);
  reader.scan(parse_fn(), true);
  reader.scan(parse_fn(), false);
  CHECK(reader.summaries().at(0).malformed == 4);
  CHECK(reader.summaries().at(0).lines == 8);
}

TEST_CASE("lines longer than the read buffer are reassembled; longer than the limit are malformed", "[store_reader]") {
  TempDir dir;
  const std::string big(3u << 20, 'x');  // 3 MiB: three times the initial buffer
  const std::string file = dir.write("big.jsonl", "a\r\n" + big + "\nb\n" + big + big + "\nc");
  std::vector<std::string> seen;
  auto collect = [&](std::string_view line, std::string&) {
    seen.emplace_back(line);
    return LineVerdict::Ok;
  };
  SECTION("within the limit") {
    StoreReader reader({file}, 8u << 20);
    reader.scan(collect, true);
    REQUIRE(seen.size() == 5);
    CHECK(seen[0] == "a");  // CR of a CRLF line dropped
    CHECK(seen[1] == big);
    CHECK(seen[2] == "b");
    CHECK(seen[3].size() == 2 * big.size());
    CHECK(seen[4] == "c");
    CHECK(reader.summaries()[0].malformed == 0);
  }
  SECTION("beyond the limit") {
    StoreReader reader({file}, 2u << 20);
    reader.scan(collect, true);
    CHECK(seen == std::vector<std::string>{"a", "b", "c"});
    CHECK(reader.summaries()[0].malformed == 2);
    CHECK(reader.summaries()[0].first_malformed_line == 2);
    CHECK_THAT(reader.summaries()[0].first_malformed_reason, Catch::Contains("exceeds"));
  }
}

TEST_CASE("a file that vanished is reported, the others still read", "[store_reader]") {
  StoreReader reader({"/nonexistent/traces-1.jsonl", data("percentiles.jsonl")}, 1u << 20);
  std::vector<std::string> seen;
  reader.scan(parse_fn(&seen), true);
  CHECK_THAT(reader.summaries()[0].read_error, Catch::Contains("cannot open"));
  CHECK(seen.size() == 4);
}
