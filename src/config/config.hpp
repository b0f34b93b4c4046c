#pragma once
// agent-run's configuration: one table of keys (config_keys.cpp), read in
// layers: defaults < TOML file < AGENT_RUN_* / OTEL_* environment < command line.
//
// Used by the launcher (to validate before exec, and for generate-config /
// check-config) and by the hook module inside the app (to read the same file
// with the same rules), so both always agree.
//
// Nothing here throws, prints, or runs code before main(): the library is
// also linked into the CPython extension.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace agent_run::config {

enum class ValueType { Bool, Int, String, StringList, Enum };

// Extra checks on a String or StringList value, beyond its type.
enum class ValueFormat {
  Any,
  KeyValue,  // every list item is "key=value" with a non-empty key
  HttpUrl,   // an http:// or https:// URL
};

// An Enum key's allowed values (a view of a static array).
struct Choices {
  const std::string_view* items = nullptr;
  size_t count = 0;
  const std::string_view* begin() const { return items; }
  const std::string_view* end() const { return items + count; }
  bool empty() const { return count == 0; }
  size_t size() const { return count; }
};

// One configuration key. `name` is dotted ("exporter.otlp.endpoint");
// its environment variable is AGENT_RUN_ + upper(name with '.' -> '_').
// The table is static data (config_keys.cpp): every process of the app
// reads it at startup, and building it cost more than the rest of a load.
struct KeyInfo {
  std::string_view name;
  ValueType type;
  std::string_view default_value;  // as it would be written in TOML
  std::string_view comment;        // one line, for the template and docs
  Choices allowed;                 // for Enum
  int64_t min = 0, max = INT64_MAX;  // for Int
  ValueFormat format = ValueFormat::Any;
  std::string_view otel_env;       // the OpenTelemetry variable that maps here, if any
  std::string_view env_var;        // env_var_for(name), written out (a test checks it)
};

// The table, in the order of the template and of describe().
struct KeyList {
  const KeyInfo* first = nullptr;
  size_t count = 0;
  const KeyInfo* begin() const { return first; }
  const KeyInfo* end() const { return first + count; }
  size_t size() const { return count; }
};

KeyList keys();
const KeyInfo* find_key(std::string_view name);
std::string env_var_for(std::string_view key_name);
// The key an AGENT_RUN_* variable sets, or nullptr.
const KeyInfo* find_key_by_env_var(std::string_view variable);
// The command-line spelling used in diagnostics: "--" + name with '.' and '_' -> '-'.
std::string option_for(std::string_view key_name);
// Table names the keys live in ("plugins", "exporter", "exporter.otlp", ...).
const std::vector<std::string>& table_names();

using Value = std::variant<bool, int64_t, std::string, std::vector<std::string>>;

// A value as TOML text: true, 42, "text", ["a", "b"].
std::string format_value(const Value& v);
// The key's default, parsed from KeyInfo::default_value.
Value default_value(const KeyInfo& key);

// A problem found while loading. `where` names the place: "prod.toml:12:5",
// "environment AGENT_RUN_LOG_LEVEL", "command line --log-level".
struct Diagnostic {
  std::string where;
  std::string message;  // what happened and what to do, e.g. a "did you mean"
};

class Config {
 public:
  Config();  // all defaults
  // Getters never throw: an unknown key or a type mismatch (a programming
  // error) returns false / 0 / an empty string or list.
  bool get_bool(std::string_view key) const;
  int64_t get_int(std::string_view key) const;
  const std::string& get_string(std::string_view key) const;  // also Enum keys
  const std::vector<std::string>& get_list(std::string_view key) const;
  const Value& get(std::string_view key) const;
  // Where the current value came from: "default", "file prod.toml:3:1",
  // "environment AGENT_RUN_LOG_LEVEL", "environment OTEL_SERVICE_NAME", "command line --log-level".
  // (Only origins other than "default" are stored: most keys keep their default.)
  const std::string& origin(std::string_view key) const;
  // False (and nothing changes) for an unknown key or a value of the wrong type.
  // The value is stored as given: validation happens in load().
  bool set(std::string_view key, Value v, std::string origin);
  bool is_default(std::string_view key) const;  // equal to the default value
  // The value of keys()[i] (what get(key) returns, without the lookup).
  const Value& value_at(size_t i) const { return values_[i]; }

 private:
  std::vector<Value> values_;         // by key index
  std::vector<std::string> origins_;  // by key index; empty: the default
};

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup process_environment();
// Names of the variables in an environment; load() uses them to warn about
// unknown AGENT_RUN_* variables (it cannot enumerate an EnvLookup).
using EnvNames = std::function<std::vector<std::string>()>;
EnvNames process_environment_names();
// A fixed environment (tests, or the launcher building a child's environment).
EnvLookup map_environment(std::map<std::string, std::string> vars);
EnvNames map_environment_names(const std::map<std::string, std::string>& vars);

struct Sources {
  std::string file;                             // empty: no file
  EnvLookup env;                                // may be null: no environment
  // Command line, key -> text value (parsed like environment text). A child
  // process sees them only if they are exported as env_var_for(key).
  std::map<std::string, std::string> overrides;
  EnvNames env_names;                           // may be null: no unknown-variable warnings
};

struct LoadResult {
  Config config;
  std::vector<Diagnostic> errors;    // file syntax, unknown keys, bad values
  std::vector<Diagnostic> warnings;  // e.g. ignored, malformed OTEL_* value
  bool ok() const { return errors.empty(); }
};

// Never throws. Collects every problem, not only the first; every value that
// was valid is applied, so `config.get_bool("strict")` is meaningful even when
// !ok() (after a TOML syntax error, a top-level `strict = true` line still counts).
LoadResult load(const Sources& sources);

// The launcher shows the load's warnings on its stderr, then the agent in
// the program it starts loads the same configuration and would show them
// again on the same stderr. The launcher passes the ids of those it showed
// in AGENT_RUN_WARNINGS_SHOWN (comma-separated; shown_warnings.cpp); the
// agent logs a warning whose id is there at info level instead. A Python
// child with another environment has other warnings, with other ids.
inline constexpr const char* kWarningsShownVar = "AGENT_RUN_WARNINGS_SHOWN";

// The AGENT_RUN_* variables that are not settings: what the launcher tells
// the program it starts. None is reported as unknown; each says what the
// launcher and the agent do with it, in this one table.
struct LauncherVariable {
  const char* name;
  // Unset by the launcher before it sets its own: a launch inside a
  // launched program starts from none of its parent's (launch.cpp).
  bool unset_before_launch;
  // Removed from os.environ for the app's children when
  // inherit_subprocesses = false (boot.cpp's restore_child_environment).
  bool hidden_from_children;
};
inline constexpr LauncherVariable kLauncherVariables[] = {
    // The config file the launcher found; the user may set it too, so it is
    // never cleared blindly (the launcher sets or unsets it itself).
    {"AGENT_RUN_CONFIG", false, false},
    {"AGENT_RUN_BOOTSTRAP", true, true},
    {"AGENT_RUN_ORIG_PYTHONPATH", true, true},
    {"AGENT_RUN_COLLECTOR_SOCKET", true, true},
    // Left to children: it names the release, nothing to act on.
    {"AGENT_RUN_VERSION", true, false},
    {kWarningsShownVar, true, true},
};
bool is_launcher_variable(std::string_view name);

// 16 hex digits of a hash of the warning's place and text.
std::string warning_id(const Diagnostic& warning);
// The ids of `warnings`, comma-separated: the variable's value.
std::string warning_ids(const std::vector<Diagnostic>& warnings);
// Whether `ids` (the variable's value) holds the id of `warning`.
bool warning_shown(std::string_view ids, const Diagnostic& warning);

// The configuration file to use when none is named on the command line:
// $AGENT_RUN_CONFIG if set (even if missing: load() then reports it), else
// ./agent-run.toml, else $XDG_CONFIG_HOME/agent-run/agent-run.toml
// (~/.config/agent-run/agent-run.toml) if it exists; "" when there is none.
std::string find_config_file(const EnvLookup& env);
inline constexpr const char* kDefaultConfigFile = "agent-run.toml";
// The files find_config_file looks for when $AGENT_RUN_CONFIG is not set,
// in order (the first relative to the working directory).
std::vector<std::string> config_file_candidates(const EnvLookup& env);

// Defaults that depend on the environment, resolved.
// data_dir: the key, else $XDG_DATA_HOME/agent-run, else $HOME/.local/share/agent-run.
std::string effective_data_dir(const Config& config, const EnvLookup& env);
// exporter.local.path: the key, else <effective data_dir>/traces.
std::string effective_local_path(const Config& config, const EnvLookup& env);

// The documented template (every key, its default, a one-line comment).
std::string render_template();

}  // namespace agent_run::config
