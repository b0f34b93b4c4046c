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

// keys()[i] for a key name, or -1.
long key_index(std::string_view key) {
  const KeyInfo* info = find_key(key);
  return info ? long(info - keys().begin()) : -1;
}

}  // namespace

Config::Config() : origins_(keys().size()) {
  values_.reserve(keys().size());
  for (const auto& k : keys()) values_.push_back(default_value(k));
}

const Value& Config::get(std::string_view key) const {
  const long i = key_index(key);
  return i < 0 ? no_value() : values_[size_t(i)];
}

bool Config::get_bool(std::string_view key) const {
  auto* b = std::get_if<bool>(&get(key));
  return b ? *b : false;
}

int64_t Config::get_int(std::string_view key) const {
  auto* i = std::get_if<int64_t>(&get(key));
  return i ? *i : 0;
}

const std::string& Config::get_string(std::string_view key) const {
  auto* s = std::get_if<std::string>(&get(key));
  return s ? *s : empty_string();
}

const std::vector<std::string>& Config::get_list(std::string_view key) const {
  auto* l = std::get_if<std::vector<std::string>>(&get(key));
  return l ? *l : empty_list();
}

const std::string& Config::origin(std::string_view key) const {
  static const std::string by_default = "default";
  const long i = key_index(key);
  if (i < 0) return empty_string();
  return origins_[size_t(i)].empty() ? by_default : origins_[size_t(i)];
}

bool Config::set(std::string_view key, Value v, std::string origin) {
  const long i = key_index(key);
  if (i < 0 || !matches_type(keys().begin()[i].type, v)) return false;
  values_[size_t(i)] = std::move(v);
  origins_[size_t(i)] = std::move(origin);
  return true;
}

bool Config::is_default(std::string_view key) const {
  const long i = key_index(key);
  return i >= 0 && values_[size_t(i)] == default_value(keys().begin()[i]);
}

}  // namespace agent_run::config
