#pragma once
// The `agent-run generate-config` and `agent-run check-config` commands, as
// functions the launcher's main() calls. They write to the given streams
// only and return the process exit code.

#include <ostream>
#include <string>

#include "config/config.hpp"

namespace agent_run::config {

// Writes render_template() to `path` ("-": to `out`). Refuses to replace an
// existing file unless `force`; writes a temporary file in the same directory
// and renames it into place, so readers never see half a file. Mode 0644.
// Returns 0, or 1 with the reason on `err`.
int generate_config(const std::string& path, bool force, std::ostream& out, std::ostream& err);

// Loads `path` ("" : find_config_file()) with the process environment and
// prints every problem to `err` as "where: message" (warnings as
// "where: warning: message"). On success prints "<path>: OK" to `out`, then
// "key = value (from origin)" for each key not at its default. Returns 0 or 1.
int check_config(const std::string& path, std::ostream& out, std::ostream& err);
// The same with explicit sources (command-line overrides, a fixed environment).
int check_config(const Sources& sources, std::ostream& out, std::ostream& err);

// Every key, one per line, "key = value  # origin", for `--dry-run`.
// Values of exporter.otlp.headers are hidden (they usually carry API keys).
std::string describe(const Config& config);

// "where: message".
std::string format_diagnostic(const Diagnostic& d);

}  // namespace agent_run::config
