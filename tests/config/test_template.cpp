// templates/agent-run.toml is render_template(), documents every key, and
// reads back as all defaults; docs/configuration.md covers every key.
#include <catch2/catch.hpp>

#include "config/config.hpp"
#include "helpers.hpp"

using namespace agent_run::config;

namespace {
const std::string kTemplate = std::string(AGENT_RUN_SOURCE_DIR) + "/templates/agent-run.toml";
const std::string kDocs = std::string(AGENT_RUN_SOURCE_DIR) + "/docs/configuration.md";

std::string leaf(const std::string& name) {
  size_t dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(dot + 1);
}
}  // namespace

TEST_CASE("templates/agent-run.toml equals render_template() byte for byte", "[template]") {
  std::string on_disk = test::read_file(kTemplate);
  REQUIRE_FALSE(on_disk.empty());
  // If this fails after changing the key table: regenerate the file with
  // `agent-run generate-config -o templates/agent-run.toml --force`.
  CHECK(on_disk == render_template());
}

TEST_CASE("the template contains every key with its comment, in its table", "[template]") {
  const std::string t = render_template();
  for (const auto& key : keys()) {
    const std::string name(key.name);
    INFO(name);
    // The comment line comes right before the key line.
    size_t at = t.find("# " + std::string(key.comment));
    REQUIRE(at != std::string::npos);
    size_t line_end = t.find('\n', at);
    CHECK(t.compare(line_end + 1, leaf(name).size() + 3, leaf(name) + " = ") == 0);
    size_t dot = name.rfind('.');
    if (dot != std::string::npos) {
      size_t header = t.rfind("\n[", at);
      REQUIRE(header != std::string::npos);
      CHECK(t.compare(header + 2, dot + 2, name.substr(0, dot) + "]\n") == 0);
    }
  }
}

TEST_CASE("the template parses back to all defaults, with no problems", "[template]") {
  test::TempDir dir;
  test::write_file(dir.file("t.toml"), render_template());
  auto r = load(test::sources(dir.file("t.toml")));
  INFO(test::all(r.errors));
  REQUIRE(r.ok());
  CHECK(r.warnings.empty());
  for (const auto& k : keys()) {
    INFO(k.name);
    CHECK(r.config.get(k.name) == default_value(k));
    // Every key is active in the file, not commented out.
    CHECK(r.config.origin(k.name).rfind("file ", 0) == 0);
  }
}

TEST_CASE("docs/configuration.md documents every key and its variables", "[template][docs]") {
  const std::string docs = test::read_file(kDocs);
  REQUIRE_FALSE(docs.empty());
  for (const auto& k : keys()) {
    INFO(k.name);
    CHECK(docs.find("`" + std::string(k.name) + "`") != std::string::npos);
    CHECK(docs.find(env_var_for(k.name)) != std::string::npos);
    if (!k.otel_env.empty()) CHECK(docs.find(k.otel_env) != std::string::npos);
  }
}
