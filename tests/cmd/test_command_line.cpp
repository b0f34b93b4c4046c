#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "command_line.hpp"

using agent_run::cmd::parse_plain_command_line;
using agent_run::launcher::LaunchOptions;

namespace {
std::optional<LaunchOptions> parse(std::vector<std::string> args) {
  args.insert(args.begin(), "agent-run");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  return parse_plain_command_line(static_cast<int>(args.size()), argv.data());
}
using Args = std::vector<std::string>;
}  // namespace

TEST_CASE("a program and its arguments, with no options") {
  auto o = parse({"python3", "app.py", "x"});
  REQUIRE(o);
  CHECK(o->argv == Args{"python3", "app.py", "x"});
  CHECK(o->config_file.empty());
  CHECK(o->overrides.empty());
  CHECK_FALSE(o->disable);
  CHECK_FALSE(o->dry_run);
  CHECK_FALSE(o->strict);
}

TEST_CASE("options before the program") {
  auto o = parse({"--disable", "--dry-run", "--strict", "--service-name", "svc", "--log-level", "debug",
                  "--log-file", "/tmp/a.log", "gunicorn", "-w", "4", "wsgi:app"});
  REQUIRE(o);
  CHECK(o->disable);
  CHECK(o->dry_run);
  CHECK(o->strict);
  CHECK(o->overrides == std::map<std::string, std::string>{
                            {"service_name", "svc"}, {"log_level", "debug"}, {"log_file", "/tmp/a.log"}});
  CHECK(o->argv == Args{"gunicorn", "-w", "4", "wsgi:app"});
}

TEST_CASE("the config file: -c FILE, --config FILE, --config=FILE") {
  for (const auto& args : {Args{"-c", "prod.toml", "python3"}, Args{"--config", "prod.toml", "python3"},
                           Args{"--config=prod.toml", "python3"}}) {
    auto o = parse(args);
    REQUIRE(o);
    CHECK(o->config_file == "prod.toml");
    CHECK(o->argv == Args{"python3"});
  }
  auto o = parse({"--log-level=info", "--service-name=a=b", "python3"});
  REQUIRE(o);
  CHECK(o->overrides.at("log_level") == "info");
  CHECK(o->overrides.at("service_name") == "a=b");  // split at the first '='
}

TEST_CASE("the separator -- ends the options, and everything after it is the program's") {
  auto o = parse({"--disable", "--", "python3", "--strict"});
  REQUIRE(o);
  CHECK(o->disable);
  CHECK_FALSE(o->strict);
  CHECK(o->argv == Args{"python3", "--strict"});
  o = parse({"--", "--disable"});  // a program named --disable, as CLI11 reads it
  REQUIRE(o);
  CHECK_FALSE(o->disable);
  CHECK(o->argv == Args{"--disable"});
  o = parse({"--", "--", "x"});
  REQUIRE(o);
  CHECK(o->argv == Args{"--", "x"});
}

TEST_CASE("the program's own options are left untouched") {
  auto o = parse({"python3", "-c", "pass", "--disable", "--config", "x.toml", "--", "--help"});
  REQUIRE(o);
  CHECK_FALSE(o->disable);
  CHECK(o->config_file.empty());
  CHECK(o->argv == Args{"python3", "-c", "pass", "--disable", "--config", "x.toml", "--", "--help"});
}

TEST_CASE("anything else is left to CLI11") {
  // No program: CLI11's path prints "no program given" (exit 2).
  CHECK_FALSE(parse({}));
  CHECK_FALSE(parse({"--disable"}));
  CHECK_FALSE(parse({"--"}));
  // Subcommands, help, version.
  CHECK_FALSE(parse({"report"}));
  CHECK_FALSE(parse({"--disable", "check-config"}));
  CHECK_FALSE(parse({"--", "generate-config"}));
  CHECK_FALSE(parse({"--help"}));
  CHECK_FALSE(parse({"-h", "python3"}));
  CHECK_FALSE(parse({"--version"}));
  // Unknown options (CLI11 takes them for the program: "command not found", 127).
  CHECK_FALSE(parse({"--bogus", "python3"}));
  CHECK_FALSE(parse({"-x", "python3"}));
  CHECK_FALSE(parse({"-"}));
  // An option missing its value, or with a value CLI11 may read otherwise.
  CHECK_FALSE(parse({"--config"}));
  CHECK_FALSE(parse({"-c"}));
  CHECK_FALSE(parse({"--log-file"}));
  CHECK_FALSE(parse({"--config=", "python3"}));
  CHECK_FALSE(parse({"--service-name", "-x", "python3"}));
  CHECK_FALSE(parse({"--config", "report", "python3"}));
  CHECK_FALSE(parse({"--service-name", "", "python3"}));
  // A value --log-level does not allow (CLI11 lists the allowed ones).
  CHECK_FALSE(parse({"--log-level", "verbose", "python3"}));
  CHECK_FALSE(parse({"--log-level", "DEBUG", "python3"}));
  // Unusual spellings and repeats.
  CHECK_FALSE(parse({"-cprod.toml", "python3"}));
  CHECK_FALSE(parse({"-c=prod.toml", "python3"}));
  CHECK_FALSE(parse({"--disable=true", "python3"}));
  CHECK_FALSE(parse({"--log-file", "a", "--log-file", "b", "python3"}));
  CHECK_FALSE(parse({"--disable", "--disable", "python3"}));
  CHECK_FALSE(parse({"", "python3"}));
  CHECK_FALSE(parse({"--", ""}));
}
