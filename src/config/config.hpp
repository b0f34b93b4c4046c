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

// One configuration key. `name` is dotted ("exporter.otlp.endpoint");
// its environment variable is AGENT_RUN_ + upper(name with '.' -> '_').
struct KeyInfo {
  std::string name;
  ValueType type;
  std::string default_value;          // as it would be written in TOML
  std::string comment;                // one line, for the template and docs
  std::vector<std::string> allowed;   // for Enum
  int64_t min = 0, max = INT64_MAX;   // for Int
  ValueFormat format = ValueFormat::Any;
  std::string otel_env;               // the OpenTelemetry variable that maps here, if any
  std::string env_var;                // env_var_for(name), computed once with the table
};

const std::vector<KeyInfo>& keys();
const KeyInfo* find_key(const std::string& name);
std::string env_var_for(const std::string& key_name);
// The key an AGENT_RUN_* variable sets, or nullptr.
const KeyInfo* find_key_by_env_var(const std::string& variable);
// The command-line spelling used in diagnostics: "--" + name with '.' and '_' -> '-'.
std::string option_for(const std::string& key_name);
// Table names the keys live in ("plugins", "exporter", "exporter.otlp", ...).
const std::vector<std::string>& table_names();
// AGENT_RUN_* variables the launcher sets for its own use; they are not
// keys and are never reported as unknown.
const std::vector<std::string>& launcher_variables();

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
  bool get_bool(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  const std::string& get_string(const std::string& key) const;  // also Enum keys
  const std::vector<std::string>& get_list(const std::string& key) const;
  const Value& get(const std::string& key) const;
  // Where the current value came from: "default", "file prod.toml:3:1",
  // "environment AGENT_RUN_LOG_LEVEL", "environment OTEL_SERVICE_NAME", "command line --log-level".
  // (Only origins other than "default" are stored: most keys keep their default.)
  const std::string& origin(const std::string& key) const;
  // False (and nothing changes) for an unknown key or a value of the wrong type.
  // The value is stored as given: validation happens in load().
  bool set(const std::string& key, Value v, std::string origin);
  bool is_default(const std::string& key) const;  // equal to the default value
  const std::map<std::string, Value>& values() const { return values_; }

 private:
  std::map<std::string, Value> values_;
  std::map<std::string, std::string> origins_;
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

// The configuration file to use when none is named on the command line:
// $AGENT_RUN_CONFIG if set (even if missing: load() then reports it), else
// ./agent-run.toml, else $XDG_CONFIG_HOME/agent-run/agent-run.toml
// (~/.config/agent-run/agent-run.toml) if it exists; "" when there is none.
std::string find_config_file(const EnvLookup& env);
inline constexpr const char* kDefaultConfigFile = "agent-run.toml";

// Defaults that depend on the environment, resolved.
// data_dir: the key, else $XDG_DATA_HOME/agent-run, else $HOME/.local/share/agent-run.
std::string effective_data_dir(const Config& config, const EnvLookup& env);
// exporter.local.path: the key, else <effective data_dir>/traces.
std::string effective_local_path(const Config& config, const EnvLookup& env);

// The documented template (every key, its default, a one-line comment).
std::string render_template();

}  // namespace agent_run::config
