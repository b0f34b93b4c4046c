// load(): the layers in order of precedence, lowest first:
// defaults (Config()) < file < OTEL_* < AGENT_RUN_* < command line.
// Each layer applies every valid value and reports every bad one, so one run
// of check-config shows all problems.
#include <exception>

#include <fmt/format.h>

#include "config/config.hpp"
#include "config/internal.hpp"
#include "config/suggestions.hpp"

namespace agent_run::config {
namespace {

void apply_command_line(const Sources& sources, Config& config, std::vector<Diagnostic>& errors) {
  for (const auto& [key, text] : sources.overrides) {
    const std::string option = option_for(key);
    const KeyInfo* info = find_key(key);
    if (!info) {
      errors.push_back({"command line " + option, fmt::format("unknown setting '{}'{}", key, key_suggestion(key))});
      continue;
    }
    Value value;
    std::string why = detail::parse_text(*info, text, value);
    if (!why.empty()) {
      errors.push_back(detail::not_allowed("command line " + option, option + "=" + detail::quote(text), why));
      continue;
    }
    config.set(key, std::move(value), "command line " + option);
  }
}

}  // namespace

LoadResult load(const Sources& sources) {
  LoadResult result;
  // The API promises no exceptions (the hook module calls this inside the
  // app); the only ones possible here are allocation failures.
  try {
    if (!sources.file.empty()) detail::apply_file(sources.file, result.config, result.errors);
    detail::apply_environment(sources, result.config, result.errors, result.warnings);
    apply_command_line(sources, result.config, result.errors);
  } catch (const std::exception& e) {
    result.errors.push_back({"agent-run", std::string("could not load the configuration: ") + e.what()});
  } catch (...) {
    result.errors.push_back({"agent-run", "could not load the configuration: unknown error"});
  }
  return result;
}

}  // namespace agent_run::config
