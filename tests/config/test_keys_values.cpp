// The key table and values: defaults, names, text parsing, TOML spelling.
#include <catch2/catch.hpp>

#include <algorithm>
#include <iterator>
#include <set>

#include "config/commands.hpp"
#include "config/config.hpp"
#include "config/suggestions.hpp"

using namespace agent_run::config;

TEST_CASE("every key has a unique name, a comment and a default that passes its own checks", "[keys]") {
  std::set<std::string> names;
  for (const auto& k : keys()) {
    INFO(k.name);
    CHECK(names.insert(std::string(k.name)).second);
    // The table writes these out: they must be what the rules derive.
    CHECK(k.env_var == env_var_for(k.name));
    CHECK(format_value(default_value(k)) == k.default_value);
    CHECK_FALSE(k.comment.empty());
    CHECK(k.comment.find('\n') == std::string::npos);
    if (k.type == ValueType::Enum) CHECK_FALSE(k.allowed.empty());
    if (k.type == ValueType::Int) {
      CHECK(k.min <= std::get<int64_t>(default_value(k)));
      CHECK(std::get<int64_t>(default_value(k)) <= k.max);
    }
    // A fresh Config holds the default, from "default".
    Config c;
    CHECK(c.get(k.name) == default_value(k));
    CHECK(c.origin(k.name) == "default");
    CHECK(c.is_default(k.name));
  }
  CHECK(keys().size() >= 28);
}

TEST_CASE("defaults named in the issue", "[keys]") {
  Config c;
  CHECK(c.get_bool("enabled") == true);
  CHECK(c.get_string("service_name").empty());
  CHECK(c.get_bool("strict") == false);
  CHECK(c.get_string("log_level") == "warning");
  CHECK(c.get_bool("inherit_subprocesses") == true);
  CHECK(c.get_list("resource_attributes").empty());
  CHECK(c.get_int("plugins.error_limit") == 3);
  CHECK(c.get_int("spans.buffer_bytes") == 8 * 1024 * 1024);
  CHECK(c.get_int("spans.max_attributes") == 128);
  CHECK(c.get_int("spans.max_attribute_length") == 4096);
  CHECK(c.get_string("spans.db_statement") == "sanitized");
  CHECK(c.get_int("collector.drain_timeout_ms") == 5000);
  CHECK(c.get_int("collector.flush_interval_ms") == 200);
  CHECK(c.get_string("exporter.type") == "local");
  CHECK(c.get_int("exporter.local.max_file_bytes") == 64 * 1024 * 1024);
  CHECK(c.get_int("exporter.local.max_files") == 5);
  CHECK(c.get_string("exporter.otlp.endpoint") == "http://127.0.0.1:4318/v1/traces");
  CHECK(c.get_int("exporter.otlp.timeout_ms") == 10000);
  CHECK(c.get_string("exporter.otlp.compression") == "gzip");
  CHECK(c.get_int("exporter.otlp.queue_spans") == 100000);
  CHECK(c.get_int("exporter.otlp.max_retry_ms") == 30000);
  const KeyInfo* k = find_key("spans.buffer_bytes");
  REQUIRE(k);
  CHECK(k->min == 64 * 1024);
  CHECK(k->max == 1024 * 1024 * 1024);
}

TEST_CASE("names: environment variable, option, lookup", "[keys]") {
  CHECK(env_var_for("exporter.otlp.endpoint") == "AGENT_RUN_EXPORTER_OTLP_ENDPOINT");
  CHECK(env_var_for("log_level") == "AGENT_RUN_LOG_LEVEL");
  CHECK(option_for("log_level") == "--log-level");
  CHECK(option_for("exporter.otlp.endpoint") == "--exporter-otlp-endpoint");
  REQUIRE(find_key_by_env_var("AGENT_RUN_SPANS_DB_STATEMENT"));
  CHECK(find_key_by_env_var("AGENT_RUN_SPANS_DB_STATEMENT")->name == "spans.db_statement");
  CHECK(find_key_by_env_var("AGENT_RUN_CONFIG") == nullptr);
  CHECK(find_key("nope") == nullptr);
  // No launcher variable may collide with a key's variable.
  for (const auto& v : kLauncherVariables) {
    CHECK(find_key_by_env_var(v.name) == nullptr);
    CHECK(is_launcher_variable(v.name));
    // What the agent hides from children, a nested launch does not inherit either.
    if (v.hidden_from_children) CHECK(v.unset_before_launch);
  }
  CHECK(std::size(kLauncherVariables) == 6);
  CHECK_FALSE(is_launcher_variable("AGENT_RUN_LOG_LEVEL"));
  CHECK_FALSE(is_launcher_variable("AGENT_RUN_LAUNCHER_PID"));  // no longer one: nothing reads it
  const auto& tables = table_names();
  CHECK(std::find(tables.begin(), tables.end(), "exporter.otlp") != tables.end());
  CHECK(std::find(tables.begin(), tables.end(), "plugins") != tables.end());
}

TEST_CASE("Config getters and set never throw and refuse mismatched types", "[keys]") {
  Config c;
  CHECK(c.get_bool("no.such.key") == false);
  CHECK(c.get_int("log_level") == 0);  // wrong type
  CHECK(c.get_string("no.such.key").empty());
  CHECK(c.get_list("enabled").empty());
  CHECK_FALSE(c.set("no.such.key", true, "test"));
  CHECK_FALSE(c.set("enabled", std::string("yes"), "test"));
  CHECK(c.get_bool("enabled") == true);
  CHECK(c.set("enabled", false, "test"));
  CHECK(c.get_bool("enabled") == false);
  CHECK(c.origin("enabled") == "test");
  CHECK_FALSE(c.is_default("enabled"));
}

TEST_CASE("format_value writes TOML", "[values]") {
  CHECK(format_value(true) == "true");
  CHECK(format_value(int64_t{-42}) == "-42");
  CHECK(format_value(std::string("a \"b\"\\\n")) == "\"a \\\"b\\\"\\\\\\n\"");
  CHECK(format_value(std::vector<std::string>{"a", "b=c"}) == "[\"a\", \"b=c\"]");
  CHECK(format_value(std::vector<std::string>{}) == "[]");
}

TEST_CASE("suggestions: edit distance and closest", "[suggestions]") {
  CHECK(edit_distance("log_levl", "log_level") == 1);
  CHECK(edit_distance("log_lveel", "log_level") == 1);  // a swap is one edit
  CHECK(edit_distance("LOG_LEVEL", "log_level") == 0);
  CHECK(closest("log_levl", {"log_file", "log_level", "enabled"}) == std::optional<std::string>("log_level"));
  CHECK_FALSE(closest("zzz", {"log_file", "log_level"}).has_value());
  CHECK(key_suggestion("exporter.otlp.endpont") == " (did you mean 'exporter.otlp.endpoint'?)");
  CHECK(key_suggestion("spans.log_level") == " (did you mean 'log_level'?)");
  CHECK(key_suggestion("completely_unrelated_thing").empty());
}

TEST_CASE("describe lists every key with its origin and hides header values", "[values]") {
  Config c;
  c.set("exporter.otlp.headers", std::vector<std::string>{"api-key=secret123"}, "test");
  std::string d = describe(c);
  for (const auto& k : keys()) CHECK(d.find(std::string(k.name) + " = ") != std::string::npos);
  CHECK(d.find("log_level = \"warning\"  # default") != std::string::npos);
  CHECK(d.find("secret123") == std::string::npos);
  CHECK(d.find("api-key=<hidden>") != std::string::npos);
}
