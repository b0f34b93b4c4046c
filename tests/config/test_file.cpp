// The file layer: syntax errors, unknown keys and tables, bad values, with
// file:line:column; empty and missing files.
#include <catch2/catch.hpp>

#include "config/config.hpp"
#include "helpers.hpp"

using namespace agent_run::config;
using test::TempDir;

TEST_CASE("a valid file sets values and records file:line:column as origin", "[file]") {
  TempDir dir;
  auto r = test::load_text(dir,
                           "service_name = \"shop\"\n"
                           "log_level = \"INFO\"\n"
                           "[spans]\n"
                           "max_attributes = 64\n"
                           "[exporter.otlp]\n"
                           "headers = [\"api-key=abc\"]\n");
  INFO(test::all(r.errors));
  REQUIRE(r.ok());
  CHECK(r.config.get_string("service_name") == "shop");
  CHECK(r.config.get_string("log_level") == "info");  // enum case normalized
  CHECK(r.config.get_int("spans.max_attributes") == 64);
  CHECK(r.config.get_list("exporter.otlp.headers") == std::vector<std::string>{"api-key=abc"});
  CHECK(r.config.origin("service_name") == "file " + dir.file("prod.toml") + ":1:1");
  CHECK(r.config.origin("spans.max_attributes") == "file " + dir.file("prod.toml") + ":4:1");
  CHECK(r.config.origin("enabled") == "default");
}

TEST_CASE("dotted keys and inline tables work like tables", "[file]") {
  TempDir dir;
  auto r = test::load_text(dir, "exporter.otlp.timeout_ms = 2500\nplugins = { error_limit = 7 }\n");
  INFO(test::all(r.errors));
  REQUIRE(r.ok());
  CHECK(r.config.get_int("exporter.otlp.timeout_ms") == 2500);
  CHECK(r.config.get_int("plugins.error_limit") == 7);
}

TEST_CASE("a syntax error names file, line and column", "[file]") {
  TempDir dir;
  SECTION("a bare word as value") {
    auto r = test::load_text(dir, "service_name = \"x\"\n\nlog_level = loud\n");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].where == dir.file("prod.toml") + ":3:13");
    CHECK(r.errors[0].message.find("strings need double quotes") != std::string::npos);
  }
  SECTION("an unterminated table header") {
    auto r = test::load_text(dir, "enabled = true\n[spans\nmax_attributes = 3\n");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].where == dir.file("prod.toml") + ":2:7");  // where the ']' is missing
    CHECK(r.errors[0].message.find("expected ']'") != std::string::npos);
  }
  SECTION("a duplicate key") {
    auto r = test::load_text(dir, "enabled = true\nenabled = false\n");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].where == dir.file("prod.toml") + ":2:11");
    CHECK(r.errors[0].message.find("'enabled'") != std::string::npos);
  }
}

TEST_CASE("after a syntax error a top-level strict = true still counts", "[file]") {
  TempDir dir;
  auto r = test::load_text(dir, "# comment\nstrict = true  # stop on errors\nlog_level = [\n");
  CHECK_FALSE(r.ok());
  CHECK(r.config.get_bool("strict"));
  auto r2 = test::load_text(dir, "log_level = [\n[x]\nstrict = true\n", {}, "other.toml");
  CHECK_FALSE(r2.config.get_bool("strict"));  // inside a table: not the top-level key
}

TEST_CASE("an unknown key is reported at its position with a suggestion", "[file]") {
  TempDir dir;
  auto r = test::load_text(dir, "enabled = true\n\nlog_levl = \"info\"\n");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].where == dir.file("prod.toml") + ":3:1");
  CHECK(r.errors[0].message == "unknown key 'log_levl' (did you mean 'log_level'?)");

  auto r2 = test::load_text(dir, "[exporter.otlp]\n  endpont = \"http://x:4318/v1/traces\"\n", {}, "b.toml");
  REQUIRE(r2.errors.size() == 1);
  CHECK(r2.errors[0].where == dir.file("b.toml") + ":2:3");
  CHECK(r2.errors[0].message == "unknown key 'exporter.otlp.endpont' (did you mean 'exporter.otlp.endpoint'?)");

  auto r3 = test::load_text(dir, "frobnicate_everything = 1\n", {}, "c.toml");
  REQUIRE(r3.errors.size() == 1);
  CHECK(r3.errors[0].message == "unknown key 'frobnicate_everything'");
}

TEST_CASE("an unknown table is reported once, with a suggestion", "[file]") {
  TempDir dir;
  auto r = test::load_text(dir, "[exporter.otpl]\nendpoint = \"http://x\"\ntimeout_ms = 5\n");
  REQUIRE(r.errors.size() == 1);
  // The position is the misspelt part of the header: [exporter.otpl] column 11.
  CHECK(r.errors[0].where == dir.file("prod.toml") + ":1:11");
  CHECK(r.errors[0].message == "unknown table 'exporter.otpl' (did you mean 'exporter.otlp'?)");

  auto r2 = test::load_text(dir, "[plugin]\ndisabled = []\n", {}, "b.toml");
  REQUIRE(r2.errors.size() == 1);
  CHECK(r2.errors[0].message == "unknown table 'plugin' (did you mean 'plugins'?)");
}

TEST_CASE("a table where a value belongs, and a value where a table belongs", "[file]") {
  TempDir dir;
  auto r = test::load_text(dir, "plugins = 3\n[log_level]\nx = 1\n");
  REQUIRE(r.errors.size() == 2);
  // In file order, although toml++ hands the keys over sorted by name.
  CHECK(r.errors[0].where == dir.file("prod.toml") + ":1:1");
  CHECK(r.errors[0].message.find("'plugins' is a table of settings, not a value") == 0);
  CHECK(r.errors[1].where == dir.file("prod.toml") + ":2:2");
  CHECK(r.errors[1].message.find("'log_level' is a setting, not a table") == 0);
}

TEST_CASE("each type's bad value names the key, what was given and what is allowed", "[file]") {
  TempDir dir;
  const std::string f = dir.file("prod.toml");
  auto one = [&](const std::string& text) {
    auto r = test::load_text(dir, text);
    REQUIRE(r.errors.size() == 1);
    return r.errors[0];
  };
  SECTION("enum") {
    auto e = one("log_level = \"loud\"\n");
    CHECK(e.where == f + ":1:13");
    CHECK(e.message == "log_level = \"loud\" is not allowed; use one of: debug, info, warning, error, off");
    CHECK(one("log_level = 3\n").message == "log_level = 3 is not allowed; use one of: debug, info, warning, error, off");
  }
  SECTION("enum in a table, on line 4") {
    auto e = one("enabled = true\n\n[spans]\ndb_statement = \"all\"\n");
    CHECK(e.where == f + ":4:16");
    CHECK(e.message == "spans.db_statement = \"all\" is not allowed; use one of: sanitized, raw, off");
  }
  SECTION("bool") {
    auto e = one("enabled = \"yes\"\n");
    CHECK(e.where == f + ":1:11");
    CHECK(e.message == "enabled = \"yes\" is not allowed; use true or false");
  }
  SECTION("integer: wrong type, float, out of range") {
    CHECK(one("[spans]\nbuffer_bytes = \"8MiB\"\n").message ==
          "spans.buffer_bytes = \"8MiB\" is not allowed; use an integer from 65536 to 1073741824");
    CHECK(one("[spans]\nmax_attributes = 1.5\n").message ==
          "spans.max_attributes = 1.5 is not allowed; use an integer from 1 to 10000");
    CHECK(one("[spans]\nmax_attributes = 1e2\n").message ==
          "spans.max_attributes = 100.0 is not allowed; use an integer from 1 to 10000");
    auto e = one("[collector]\nflush_interval_ms = 5\n");
    CHECK(e.where == f + ":2:21");
    CHECK(e.message == "collector.flush_interval_ms = 5 is not allowed; use an integer from 10 to 60000");
  }
  SECTION("string") {
    CHECK(one("service_name = 42\n").message == "service_name = 42 is not allowed; use a string in double quotes");
  }
  SECTION("URL") {
    CHECK(one("exporter.otlp.endpoint = \"localhost:4318\"\n").message ==
          "exporter.otlp.endpoint = \"localhost:4318\" is not allowed; use an http:// or https:// URL, e.g. "
          "\"http://127.0.0.1:4318/v1/traces\"");
  }
  SECTION("list of strings") {
    CHECK(one("[plugins]\ndisabled = \"sqlite3\"\n").message ==
          "plugins.disabled = \"sqlite3\" is not allowed; use a list of strings, e.g. [\"a\", \"b\"]");
    CHECK(one("[plugins]\ndisabled = [\"a\", 2]\n").message ==
          "plugins.disabled = [\"a\", 2] is not allowed; use a list of strings, e.g. [\"a\", \"b\"]");
  }
  SECTION("list of key=value") {
    CHECK(one("resource_attributes = [\"team\"]\n").message ==
          "resource_attributes = [\"team\"] is not allowed; \"team\" is not \"key=value\"; use a list of "
          "\"key=value\" strings, e.g. [\"team=payments\"]");
  }
}

TEST_CASE("every error is collected, and valid keys still apply", "[file]") {
  TempDir dir;
  auto r = test::load_text(dir,
                           "log_levl = \"info\"\n"
                           "enabled = 1\n"
                           "service_name = \"kept\"\n"
                           "[spans]\n"
                           "max_attributes = 0\n"
                           "[nope]\n");
  INFO(test::all(r.errors));
  REQUIRE(r.errors.size() == 4);
  const std::string f = dir.file("prod.toml");
  CHECK(r.errors[0].where == f + ":1:1");
  CHECK(r.errors[1].where == f + ":2:11");
  CHECK(r.errors[2].where == f + ":5:18");
  CHECK(r.errors[3].where == f + ":6:2");
  CHECK(r.config.get_string("service_name") == "kept");
  CHECK(r.config.get_int("spans.max_attributes") == 128);  // the bad value did not apply
}

TEST_CASE("an empty file means all defaults", "[file]") {
  TempDir dir;
  auto r = test::load_text(dir, "");
  CHECK(r.ok());
  CHECK(r.warnings.empty());
  for (const auto& k : keys()) CHECK(r.config.origin(k.name) == "default");
  auto r2 = test::load_text(dir, "# only a comment\n\n", {}, "comment.toml");
  CHECK(r2.ok());
}

TEST_CASE("a missing or unreadable file names the path and the reason", "[file]") {
  TempDir dir;
  auto r = load(test::sources(dir.file("missing.toml")));
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].where == dir.file("missing.toml"));
  CHECK(r.errors[0].message == "cannot read the configuration file: No such file or directory");
  auto r2 = load(test::sources(dir.path));
  REQUIRE(r2.errors.size() == 1);
  CHECK(r2.errors[0].message == "cannot read the configuration file: Is a directory");
  // The rest of the configuration still loads.
  auto r3 = load(test::sources(dir.file("missing.toml"), {{"AGENT_RUN_STRICT", "true"}}));
  CHECK(r3.config.get_bool("strict"));
}

TEST_CASE("no file at all: defaults, no errors", "[file]") {
  auto r = load(test::sources(""));
  CHECK(r.ok());
  CHECK(r.config.get_string("log_level") == "warning");
}
