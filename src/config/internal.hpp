#pragma once
// Helpers shared by the config library's .cpp files; not part of the API.

#include <string>
#include <vector>

#include "config/config.hpp"

namespace agent_run::config::detail {

std::string trim(const std::string& s);
std::string to_lower(std::string s);
std::string to_upper(std::string s);
std::vector<std::string> split(const std::string& s, char sep);
// "text" with TOML basic-string escapes, so any value can be shown or written back.
std::string quote(const std::string& s);
const char* type_name(ValueType type);

// Checks a value of the right variant against the key's rules; normalizes
// enum case. Returns "" when fine, else advice that follows "... is not
// allowed; " (e.g. "use one of: debug, info").
std::string validate(const KeyInfo& key, Value& value);
// What a key accepts, as advice: "use true or false", "use an integer from 1 to 10".
std::string advice(const KeyInfo& key);

// Parses environment / command-line text into a value of the key's type
// (bools: true/false/1/0/yes/no/on/off; lists: comma-separated) and validates
// it. Returns "" when fine, else advice as from validate().
std::string parse_text(const KeyInfo& key, const std::string& text, Value& out);

// Appends "<where>: <lhs> is not allowed; <advice>" style diagnostics.
Diagnostic not_allowed(std::string where, const std::string& lhs, const std::string& advice);

// The file layer (toml_file.cpp, the only file that includes toml++).
void apply_file(const std::string& path, Config& config, std::vector<Diagnostic>& errors);
// The environment layer (environment.cpp): OTEL_* first, then AGENT_RUN_* over them.
void apply_environment(const Sources& sources, Config& config, std::vector<Diagnostic>& errors,
                       std::vector<Diagnostic>& warnings);
// Percent-decodes an OTel "k=v,k2=v2" list (W3C baggage style) into "k=v" items.
// Returns false (and `why`) on a malformed entry.
bool decode_key_value_list(const std::string& text, std::vector<std::string>& out, std::string& why);

}  // namespace agent_run::config::detail
