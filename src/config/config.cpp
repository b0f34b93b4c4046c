// Config: the current value of every key and where it came from.
#include "config/config.hpp"

namespace agent_run::config {
namespace {

// Returned for unknown keys or mismatched types; function-local so nothing
// runs before main().
const Value& no_value() {
  static const Value v = std::string();
  return v;
}
const std::string& empty_string() {
  static const std::string s;
  return s;
}
const std::vector<std::string>& empty_list() {
  static const std::vector<std::string> l;
  return l;
}

bool matches_type(ValueType type, const Value& v) {
  switch (type) {
    case ValueType::Bool: return std::holds_alternative<bool>(v);
    case ValueType::Int: return std::holds_alternative<int64_t>(v);
    case ValueType::String:
    case ValueType::Enum: return std::holds_alternative<std::string>(v);
    case ValueType::StringList: return std::holds_alternative<std::vector<std::string>>(v);
  }
  return false;
}

}  // namespace

Config::Config() {
  for (const auto& k : keys()) values_.emplace(k.name, default_value(k));
}

const Value& Config::get(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? no_value() : it->second;
}

bool Config::get_bool(const std::string& key) const {
  auto* b = std::get_if<bool>(&get(key));
  return b ? *b : false;
}

int64_t Config::get_int(const std::string& key) const {
  auto* i = std::get_if<int64_t>(&get(key));
  return i ? *i : 0;
}

const std::string& Config::get_string(const std::string& key) const {
  auto* s = std::get_if<std::string>(&get(key));
  return s ? *s : empty_string();
}

const std::vector<std::string>& Config::get_list(const std::string& key) const {
  auto* l = std::get_if<std::vector<std::string>>(&get(key));
  return l ? *l : empty_list();
}

const std::string& Config::origin(const std::string& key) const {
  static const std::string by_default = "default";
  auto it = origins_.find(key);
  if (it != origins_.end()) return it->second;
  return values_.count(key) ? by_default : empty_string();
}

bool Config::set(const std::string& key, Value v, std::string origin) {
  const KeyInfo* info = find_key(key);
  if (!info || !matches_type(info->type, v)) return false;
  values_[key] = std::move(v);
  origins_[key] = std::move(origin);
  return true;
}

bool Config::is_default(const std::string& key) const {
  const KeyInfo* info = find_key(key);
  return info && get(key) == default_value(*info);
}

}  // namespace agent_run::config
