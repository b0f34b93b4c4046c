// render_template(): the file `agent-run generate-config` writes and
// templates/agent-run.toml is a copy of (a test keeps them equal). Every key
// is active at its default so the file is valid and documents everything.
#include <fmt/format.h>

#include "config/config.hpp"
#include "config/internal.hpp"

namespace agent_run::config {
namespace {

std::string comment_for(const KeyInfo& key) {
  std::string line(key.comment);
  if (key.type == ValueType::Enum) line += fmt::format(" One of: {}.", fmt::join(key.allowed, ", "));
  if (key.type == ValueType::Int) line += fmt::format(" Range: {}..{}.", key.min, key.max);
  if (!key.otel_env.empty() && key.comment.find(key.otel_env) == std::string::npos) line += fmt::format(" Also set by {}.", key.otel_env);
  return line;
}

}  // namespace

std::string render_template() {
  std::string out =
      "# agent-run configuration: every setting, at its default value.\n"
      "#\n"
      "# Precedence, lowest first: defaults < this file < environment < command line.\n"
      "# Each key also has an environment variable: AGENT_RUN_ and the key in capitals\n"
      "# with '.' as '_' (exporter.otlp.endpoint: AGENT_RUN_EXPORTER_OTLP_ENDPOINT).\n"
      "# The OTEL_* variables named below are honoured too; AGENT_RUN_* beats them.\n"
      "# Check a change with: agent-run check-config <this file>\n";
  std::string table;
  for (const auto& key : keys()) {
    size_t dot = key.name.rfind('.');
    std::string key_table(dot == std::string_view::npos ? std::string_view() : key.name.substr(0, dot));
    std::string leaf(dot == std::string_view::npos ? key.name : key.name.substr(dot + 1));
    if (key_table != table) {
      table = key_table;
      out += fmt::format("\n[{}]\n", table);
    }
    out += fmt::format("\n# {}\n{} = {}\n", comment_for(key), leaf, key.default_value);
  }
  return out;
}

}  // namespace agent_run::config
