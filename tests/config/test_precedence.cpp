// defaults < file < OTEL_* < AGENT_RUN_* < command line, and command-line errors.
#include <catch2/catch.hpp>

#include "config/config.hpp"
#include "helpers.hpp"

using namespace agent_run::config;

TEST_CASE("each layer beats the one below it", "[precedence]") {
  test::TempDir dir;
  const std::string file = dir.file("agent-run.toml");
  test::write_file(file, "service_name = \"from-file\"\nlog_level = \"info\"\n[spans]\nmax_attributes = 10\n");

  SECTION("defaults") {
    auto r = load(test::sources(""));
    CHECK(r.config.get_string("service_name").empty());
    CHECK(r.config.origin("service_name") == "default");
  }
  SECTION("file over defaults") {
    auto r = load(test::sources(file));
    CHECK(r.config.get_string("service_name") == "from-file");
    CHECK(r.config.origin("service_name") == "file " + file + ":1:1");
  }
  SECTION("OTEL_* over file") {
    auto r = load(test::sources(file, {{"OTEL_SERVICE_NAME", "from-otel"}}));
    CHECK(r.config.get_string("service_name") == "from-otel");
  }
  SECTION("AGENT_RUN_* over OTEL_*") {
    auto r = load(test::sources(file, {{"OTEL_SERVICE_NAME", "from-otel"}, {"AGENT_RUN_SERVICE_NAME", "from-env"}}));
    CHECK(r.config.get_string("service_name") == "from-env");
    CHECK(r.config.origin("service_name") == "environment AGENT_RUN_SERVICE_NAME");
  }
  SECTION("command line over everything") {
    auto r = load(test::sources(file, {{"OTEL_SERVICE_NAME", "from-otel"}, {"AGENT_RUN_SERVICE_NAME", "from-env"}},
                                {{"service_name", "from-cli"}, {"spans.max_attributes", "20"}}));
    CHECK(r.config.get_string("service_name") == "from-cli");
    CHECK(r.config.origin("service_name") == "command line --service-name");
    CHECK(r.config.get_int("spans.max_attributes") == 20);
  }
  SECTION("layers that do not mention a key leave it alone") {
    auto r = load(test::sources(file, {{"AGENT_RUN_SERVICE_NAME", "from-env"}}, {{"enabled", "false"}}));
    CHECK(r.config.get_string("log_level") == "info");
    CHECK(r.config.get_int("spans.max_attributes") == 10);
    CHECK(r.config.origin("log_file") == "default");
  }
}

TEST_CASE("command-line errors name the option", "[precedence]") {
  auto r = load(test::sources("", {}, {{"log_level", "loud"}, {"log_levle", "info"}}));
  REQUIRE(r.errors.size() == 2);
  CHECK(r.errors[0].where == "command line --log-level");
  CHECK(r.errors[0].message == "--log-level=\"loud\" is not allowed; use one of: debug, info, warning, error, off");
  CHECK(r.errors[1].where == "command line --log-levle");
  CHECK(r.errors[1].message == "unknown setting 'log_levle' (did you mean 'log_level'?)");
}

TEST_CASE("strict is known even when the configuration is bad", "[precedence]") {
  test::TempDir dir;
  auto in_file = test::load_text(dir, "strict = true\nlog_level = \"loud\"\n");
  CHECK_FALSE(in_file.ok());
  CHECK(in_file.config.get_bool("strict"));
  auto on_command_line = load(test::sources("", {{"AGENT_RUN_LOG_LEVEL", "loud"}}, {{"strict", "true"}}));
  CHECK_FALSE(on_command_line.ok());
  CHECK(on_command_line.config.get_bool("strict"));
}
