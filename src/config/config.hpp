#pragma once
// agent-run's configuration: one table of keys (config_keys.cpp), read in
// layers: defaults < TOML file < AGENT_RUN_* / OTEL_* environment < command line.
//
// Used by the launcher (to validate before exec, and for generate-config /
// check-config) and by the hook module inside the app (to read the same file
// with the same rules), so both always agree.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace agent_run::config {

enum class ValueType { Bool, Int, String, StringList, Enum };

// One configuration key. `name` is dotted ("exporter.otlp.endpoint");
// its environment variable is AGENT_RUN_ + upper(name with '.' -> '_').
struct KeyInfo {
  std::string name;
  ValueType type;
  std::string default_value;          // as it would be written in TOML
  std::string comment;                // one line, for the template and docs
  std::vector<std::string> allowed;   // for Enum
  int64_t min = 0, max = INT64_MAX;   // for Int
};

const std::vector<KeyInfo>& keys();
const KeyInfo* find_key(const std::string& name);
std::string env_var_for(const std::string& key_name);

using Value = std::variant<bool, int64_t, std::string, std::vector<std::string>>;

// A problem found while loading. `where` names the place: "prod.toml:12:5",
// "environment AGENT_RUN_LOG_LEVEL", "command line --log-level".
struct Diagnostic {
  std::string where;
  std::string message;  // what happened and what to do, e.g. a "did you mean"
};

class Config {
 public:
  Config();  // all defaults
  bool get_bool(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  const std::string& get_string(const std::string& key) const;
  const std::vector<std::string>& get_list(const std::string& key) const;
  const Value& get(const std::string& key) const;
  // Where the current value came from: "default", "file prod.toml:3:1", "environment X", "command line".
  const std::string& origin(const std::string& key) const;
  void set(const std::string& key, Value v, std::string origin);
  const std::map<std::string, Value>& values() const { return values_; }

 private:
  std::map<std::string, Value> values_;
  std::map<std::string, std::string> origins_;
};

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup process_environment();

struct Sources {
  std::string file;                             // empty: no file
  EnvLookup env;                                // may be null: no environment
  std::map<std::string, std::string> overrides; // command line, key -> text value
};

struct LoadResult {
  Config config;
  std::vector<Diagnostic> errors;    // file syntax, unknown keys, bad values
  std::vector<Diagnostic> warnings;  // e.g. ignored, malformed OTEL_* value
  bool ok() const { return errors.empty(); }
};

LoadResult load(const Sources& sources);

// The documented template (every key, its default, a one-line comment).
std::string render_template();

}  // namespace agent_run::config
