// The environment layer: AGENT_RUN_* text parsing and errors, each OTEL_*
// mapping, and warnings about unknown AGENT_RUN_* variables.
#include <catch2/catch.hpp>

#include <algorithm>

#include "config/config.hpp"
#include "helpers.hpp"

using namespace agent_run::config;

namespace {
LoadResult env_only(const test::Env& env, std::map<std::string, std::string> overrides = {}) {
  return load(test::sources("", env, std::move(overrides)));
}
using List = std::vector<std::string>;
}  // namespace

TEST_CASE("AGENT_RUN_* variables set keys from text", "[env]") {
  auto r = env_only({{"AGENT_RUN_ENABLED", "no"},
                     {"AGENT_RUN_STRICT", "ON"},
                     {"AGENT_RUN_LOG_LEVEL", "Debug"},
                     {"AGENT_RUN_SPANS_BUFFER_BYTES", " 131072 "},
                     {"AGENT_RUN_PLUGINS_DISABLED", "sqlite3, redis,,"},
                     {"AGENT_RUN_EXPORTER_OTLP_ENDPOINT", "https://collector:4318/v1/traces"}});
  INFO(test::all(r.errors));
  REQUIRE(r.ok());
  CHECK(r.config.get_bool("enabled") == false);
  CHECK(r.config.get_bool("strict") == true);
  CHECK(r.config.get_string("log_level") == "debug");
  CHECK(r.config.get_int("spans.buffer_bytes") == 131072);
  CHECK(r.config.get_list("plugins.disabled") == List{"sqlite3", "redis"});
  CHECK(r.config.get_string("exporter.otlp.endpoint") == "https://collector:4318/v1/traces");
  CHECK(r.config.origin("log_level") == "environment AGENT_RUN_LOG_LEVEL");
}

TEST_CASE("every bool spelling", "[env]") {
  for (const char* t : {"true", "1", "yes", "on", "TRUE"}) {
    CHECK(env_only({{"AGENT_RUN_STRICT", t}}).config.get_bool("strict") == true);
  }
  for (const char* f : {"false", "0", "no", "off", "Off"}) {
    CHECK(env_only({{"AGENT_RUN_ENABLED", f}}).config.get_bool("enabled") == false);
  }
}

TEST_CASE("a bad AGENT_RUN_* value is an error naming the variable", "[env]") {
  auto one = [](const std::string& var, const std::string& value) {
    auto r = env_only({{var, value}});
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].where == "environment " + var);
    return r.errors[0].message;
  };
  CHECK(one("AGENT_RUN_LOG_LEVEL", "loud") ==
        "AGENT_RUN_LOG_LEVEL=\"loud\" is not allowed; use one of: debug, info, warning, error, off");
  CHECK(one("AGENT_RUN_ENABLED", "maybe") ==
        "AGENT_RUN_ENABLED=\"maybe\" is not allowed; use true or false (or 1/0, yes/no, on/off)");
  CHECK(one("AGENT_RUN_SPANS_MAX_ATTRIBUTES", "12abc") ==
        "AGENT_RUN_SPANS_MAX_ATTRIBUTES=\"12abc\" is not allowed; use an integer from 1 to 10000");
  CHECK(one("AGENT_RUN_SPANS_MAX_ATTRIBUTES", "99999999999999999999999") ==
        "AGENT_RUN_SPANS_MAX_ATTRIBUTES=\"99999999999999999999999\" is not allowed; use an integer from 1 to 10000");
  CHECK(one("AGENT_RUN_RESOURCE_ATTRIBUTES", "team=a,oops").find("\"oops\" is not \"key=value\"") !=
        std::string::npos);
  // The bad value did not apply.
  CHECK(env_only({{"AGENT_RUN_LOG_LEVEL", "loud"}}).config.get_string("log_level") == "warning");
}

TEST_CASE("an empty variable counts as unset", "[env]") {
  auto r = env_only({{"AGENT_RUN_LOG_LEVEL", ""}, {"OTEL_SERVICE_NAME", "  "}});
  CHECK(r.ok());
  CHECK(r.config.origin("log_level") == "default");
  CHECK(r.config.origin("service_name") == "default");
}

TEST_CASE("unknown AGENT_RUN_* variables warn with a suggestion; launcher variables do not", "[env]") {
  test::Env env{{"AGENT_RUN_LOG_LEVL", "info"}, {"AGENT_RUN_SOMETHING_ELSE_ENTIRELY", "1"}, {"HOME", "/root"}};
  for (const auto& v : kLauncherVariables) env[v.name] = "x";
  auto r = env_only(env);
  CHECK(r.ok());
  REQUIRE(r.warnings.size() == 2);
  CHECK(r.warnings[0].where == "environment AGENT_RUN_LOG_LEVL");
  CHECK(r.warnings[0].message ==
        "AGENT_RUN_LOG_LEVL is not an agent-run setting and is ignored (did you mean 'AGENT_RUN_LOG_LEVEL'?)");
  CHECK(r.warnings[1].message == "AGENT_RUN_SOMETHING_ELSE_ENTIRELY is not an agent-run setting and is ignored");
}

TEST_CASE("OTEL_SDK_DISABLED", "[env][otel]") {
  auto r = env_only({{"OTEL_SDK_DISABLED", "TRUE"}});
  CHECK(r.config.get_bool("enabled") == false);
  CHECK(r.config.origin("enabled") == "environment OTEL_SDK_DISABLED");
  CHECK(env_only({{"OTEL_SDK_DISABLED", "false"}}).config.get_bool("enabled") == true);
  auto bad = env_only({{"OTEL_SDK_DISABLED", "yes please"}});
  CHECK(bad.ok());  // another tool's variable: a warning only
  REQUIRE(bad.warnings.size() == 1);
  CHECK(bad.warnings[0].where == "environment OTEL_SDK_DISABLED");
  CHECK(bad.config.get_bool("enabled") == true);
  // AGENT_RUN_* beats OTEL_*.
  CHECK(env_only({{"OTEL_SDK_DISABLED", "true"}, {"AGENT_RUN_ENABLED", "true"}}).config.get_bool("enabled"));
}

TEST_CASE("OTEL_SERVICE_NAME and service.name in OTEL_RESOURCE_ATTRIBUTES", "[env][otel]") {
  auto r = env_only({{"OTEL_SERVICE_NAME", "checkout"}});
  CHECK(r.config.get_string("service_name") == "checkout");
  CHECK(r.config.origin("service_name") == "environment OTEL_SERVICE_NAME");
  auto r2 = env_only({{"OTEL_RESOURCE_ATTRIBUTES", "service.name=billing,team=x"}});
  CHECK(r2.config.get_string("service_name") == "billing");
  auto r3 = env_only({{"OTEL_RESOURCE_ATTRIBUTES", "service.name=billing"}, {"OTEL_SERVICE_NAME", "checkout"}});
  CHECK(r3.config.get_string("service_name") == "checkout");
  auto r4 = env_only({{"OTEL_SERVICE_NAME", "checkout"}, {"AGENT_RUN_SERVICE_NAME", "mine"}});
  CHECK(r4.config.get_string("service_name") == "mine");
}

TEST_CASE("OTEL_RESOURCE_ATTRIBUTES is split, trimmed and percent-decoded", "[env][otel]") {
  auto r = env_only({{"OTEL_RESOURCE_ATTRIBUTES", " deployment.environment = prod , note=a%2Cb%3Dc%20d ,k=%E2%9C%93"}});
  INFO(test::all(r.warnings));
  CHECK(r.warnings.empty());
  CHECK(r.config.get_list("resource_attributes") == List{"deployment.environment=prod", "note=a,b=c d", "k=\xE2\x9C\x93"});
  CHECK(r.config.origin("resource_attributes") == "environment OTEL_RESOURCE_ATTRIBUTES");
  SECTION("a malformed entry discards the whole value, with a warning") {
    for (const char* bad : {"a=1,broken", "a=%zz", "=v"}) {
      auto b = env_only({{"OTEL_RESOURCE_ATTRIBUTES", bad}});
      INFO(bad);
      CHECK(b.ok());
      REQUIRE(b.warnings.size() == 1);
      CHECK(b.warnings[0].where == "environment OTEL_RESOURCE_ATTRIBUTES");
      CHECK(b.config.get_list("resource_attributes").empty());
    }
  }
}

TEST_CASE("OTEL_TRACES_EXPORTER", "[env][otel]") {
  CHECK(env_only({{"OTEL_TRACES_EXPORTER", "otlp"}}).config.get_string("exporter.type") == "otlp");
  CHECK(env_only({{"OTEL_TRACES_EXPORTER", "Console"}}).config.get_string("exporter.type") == "console");
  auto none = env_only({{"OTEL_TRACES_EXPORTER", "none"}});
  CHECK(none.config.get_bool("enabled") == false);
  CHECK(none.config.origin("enabled") == "environment OTEL_TRACES_EXPORTER");
  auto zipkin = env_only({{"OTEL_TRACES_EXPORTER", "zipkin"}});
  CHECK(zipkin.ok());
  REQUIRE(zipkin.warnings.size() == 1);
  CHECK(zipkin.config.get_string("exporter.type") == "local");
  auto two = env_only({{"OTEL_TRACES_EXPORTER", "console,otlp"}});
  CHECK(two.config.get_string("exporter.type") == "console");
  CHECK(two.warnings.size() == 1);
  // AGENT_RUN_EXPORTER_TYPE decides alone, "none" included.
  auto mine = env_only({{"OTEL_TRACES_EXPORTER", "none"}, {"AGENT_RUN_EXPORTER_TYPE", "local"}});
  CHECK(mine.config.get_bool("enabled") == true);
  CHECK(mine.config.get_string("exporter.type") == "local");
}

TEST_CASE("OTLP endpoints", "[env][otel]") {
  SECTION("the signal-less endpoint gets /v1/traces and selects otlp") {
    auto r = env_only({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"}});
    CHECK(r.config.get_string("exporter.otlp.endpoint") == "http://collector:4318/v1/traces");
    CHECK(r.config.get_string("exporter.type") == "otlp");
    CHECK(r.config.origin("exporter.type") == "environment OTEL_EXPORTER_OTLP_ENDPOINT");
  }
  SECTION("the traces endpoint is used as is and beats the signal-less one") {
    auto r = env_only({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"},
                       {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://b/custom/path"}});
    CHECK(r.config.get_string("exporter.otlp.endpoint") == "https://b/custom/path");
    CHECK(r.config.get_string("exporter.type") == "otlp");
  }
  SECTION("an exporter type given in env or command line is kept") {
    auto r = env_only({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"}, {"AGENT_RUN_EXPORTER_TYPE", "console"}});
    CHECK(r.config.get_string("exporter.type") == "console");
    CHECK(r.config.get_string("exporter.otlp.endpoint") == "http://a:4318/v1/traces");
    auto c = env_only({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"}}, {{"exporter.type", "local"}});
    CHECK(c.config.get_string("exporter.type") == "local");
    auto t = env_only({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"}, {"OTEL_TRACES_EXPORTER", "console"}});
    CHECK(t.config.get_string("exporter.type") == "console");
  }
  SECTION("it beats the file's exporter.type (environment > file)") {
    test::TempDir dir;
    auto r = test::load_text(dir, "[exporter]\ntype = \"local\"\n", {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"}});
    CHECK(r.config.get_string("exporter.type") == "otlp");
  }
  SECTION("a bad endpoint is a warning and changes nothing") {
    auto r = env_only({{"OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"}});
    CHECK(r.ok());
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0].where == "environment OTEL_EXPORTER_OTLP_ENDPOINT");
    CHECK(r.config.get_string("exporter.type") == "local");
    CHECK(r.config.get_string("exporter.otlp.endpoint") == "http://127.0.0.1:4318/v1/traces");
  }
}

TEST_CASE("OTLP headers, timeout, compression, protocol", "[env][otel]") {
  auto r = env_only({{"OTEL_EXPORTER_OTLP_HEADERS", "api-key=abc%3D%3D,x-tenant = t1"},
                     {"OTEL_EXPORTER_OTLP_TIMEOUT", "2500"},
                     {"OTEL_EXPORTER_OTLP_COMPRESSION", "none"}});
  INFO(test::all(r.warnings));
  CHECK(r.warnings.empty());
  CHECK(r.config.get_list("exporter.otlp.headers") == List{"api-key=abc==", "x-tenant=t1"});
  CHECK(r.config.get_int("exporter.otlp.timeout_ms") == 2500);
  CHECK(r.config.get_string("exporter.otlp.compression") == "none");
  CHECK(r.config.origin("exporter.otlp.timeout_ms") == "environment OTEL_EXPORTER_OTLP_TIMEOUT");

  auto traces = env_only({{"OTEL_EXPORTER_OTLP_TIMEOUT", "2500"}, {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "700"},
                          {"OTEL_EXPORTER_OTLP_HEADERS", "a=1"}, {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "b=2"},
                          {"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip"}, {"OTEL_EXPORTER_OTLP_COMPRESSION", "none"}});
  CHECK(traces.config.get_int("exporter.otlp.timeout_ms") == 700);
  CHECK(traces.config.get_list("exporter.otlp.headers") == List{"b=2"});
  CHECK(traces.config.get_string("exporter.otlp.compression") == "gzip");

  auto bad = env_only({{"OTEL_EXPORTER_OTLP_TIMEOUT", "soon"}, {"OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"},
                       {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}});
  CHECK(bad.ok());
  CHECK(bad.warnings.size() == 3);
  CHECK(bad.config.get_int("exporter.otlp.timeout_ms") == 10000);
  CHECK(env_only({{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"}}).warnings.empty());

  auto mine = env_only({{"OTEL_EXPORTER_OTLP_TIMEOUT", "2500"}, {"AGENT_RUN_EXPORTER_OTLP_TIMEOUT_MS", "900"}});
  CHECK(mine.config.get_int("exporter.otlp.timeout_ms") == 900);
}

TEST_CASE("the batch span processor's variables size the collector's batches", "[env][otel]") {
  auto r = env_only({{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", " 64 "}, {"OTEL_BSP_SCHEDULE_DELAY", "5000"}});
  INFO(test::all(r.warnings));
  CHECK(r.warnings.empty());
  CHECK(r.config.get_int("collector.batch_max_spans") == 64);
  CHECK(r.config.get_int("collector.batch_max_delay_ms") == 5000);
  CHECK(r.config.origin("collector.batch_max_spans") == "environment OTEL_BSP_MAX_EXPORT_BATCH_SIZE");
  CHECK(r.config.origin("collector.batch_max_delay_ms") == "environment OTEL_BSP_SCHEDULE_DELAY");

  // A bad value (it may have been meant for an SDK) is a warning naming it, and the default stays.
  auto bad = env_only({{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "lots"}, {"OTEL_BSP_SCHEDULE_DELAY", "0"}});
  CHECK(bad.ok());
  REQUIRE(bad.warnings.size() == 2);
  CHECK(bad.warnings[0].where == "environment OTEL_BSP_MAX_EXPORT_BATCH_SIZE");
  CHECK(bad.warnings[1].where == "environment OTEL_BSP_SCHEDULE_DELAY");
  CHECK(bad.warnings[1].message.find("10") != std::string::npos);  // the range's lower end
  CHECK(bad.config.get_int("collector.batch_max_spans") == 512);
  CHECK(bad.config.get_int("collector.batch_max_delay_ms") == 200);

  auto mine = env_only({{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "64"}, {"AGENT_RUN_COLLECTOR_BATCH_MAX_SPANS", "8"}});
  CHECK(mine.config.get_int("collector.batch_max_spans") == 8);
  CHECK(mine.config.origin("collector.batch_max_spans") == "environment AGENT_RUN_COLLECTOR_BATCH_MAX_SPANS");
}

TEST_CASE("the process environment's names are its AGENT_RUN_* ones, and they warn like any", "[env]") {
  ::setenv("AGENT_RUN_LOG_LEVLE", "info", 1);
  ::setenv("AGENT_RUN_TEST_NOT_A_KEY_OTHER", "1", 1);
  const auto names = process_environment_names()();
  CHECK(std::find(names.begin(), names.end(), "AGENT_RUN_LOG_LEVLE") != names.end());
  for (const auto& n : names) CHECK(n.rfind("AGENT_RUN_", 0) == 0);
  Sources s;
  s.env = process_environment();
  s.env_names = process_environment_names();
  auto r = load(s);
  bool suggested = false;
  for (const auto& w : r.warnings)
    if (w.where == "environment AGENT_RUN_LOG_LEVLE")
      suggested = w.message.find("did you mean 'AGENT_RUN_LOG_LEVEL'") != std::string::npos;
  CHECK(suggested);
  ::unsetenv("AGENT_RUN_LOG_LEVLE");
  ::unsetenv("AGENT_RUN_TEST_NOT_A_KEY_OTHER");
}

TEST_CASE("the ids of the warnings the launcher showed", "[env][warnings]") {
  auto r = env_only({{"OTEL_BSP_SCHEDULE_DELAY", "abc"}, {"OTEL_SDK_DISABLED", "maybe"}});
  REQUIRE(r.warnings.size() == 2);
  const std::string ids = warning_ids(r.warnings);
  CHECK(ids.size() == 16 * 2 + 1);
  CHECK(warning_shown(ids, r.warnings[0]));
  CHECK(warning_shown(ids, r.warnings[1]));
  CHECK(warning_id(r.warnings[0]) != warning_id(r.warnings[1]));
  // Another value is another warning; the place and the text both count.
  auto other = env_only({{"OTEL_BSP_SCHEDULE_DELAY", "x"}});
  REQUIRE(other.warnings.size() == 1);
  CHECK_FALSE(warning_shown(ids, other.warnings[0]));
  CHECK_FALSE(warning_shown(ids, Diagnostic{r.warnings[0].where + "x", r.warnings[0].message}));
  CHECK(warning_id({"ab", "c"}) != warning_id({"a", "bc"}));
  // Not a prefix or a piece of an id: whole ids only.
  CHECK_FALSE(warning_shown(ids.substr(0, 15), r.warnings[0]));
  CHECK_FALSE(warning_shown("", r.warnings[0]));
  CHECK_FALSE(warning_shown(",,", r.warnings[0]));
}
