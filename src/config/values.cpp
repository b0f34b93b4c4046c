// Values: their TOML spelling, their parsing from environment and command-line
// text, and the checks every layer applies, so a value means the same
// wherever it was written.
#include <cerrno>
#include <cctype>
#include <cstdlib>

#include <fmt/format.h>

#include "config/config.hpp"
#include "config/internal.hpp"

namespace agent_run::config {
namespace detail {

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n\f\v";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::string to_lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string to_upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string::npos ? std::string::npos : pos - start));
    if (pos == std::string::npos) break;
    start = pos + 1;
  }
  return out;
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f)
          out += fmt::format("\\u{:04X}", static_cast<unsigned>(c));
        else
          out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

const char* type_name(ValueType type) {
  switch (type) {
    case ValueType::Bool: return "boolean";
    case ValueType::Int: return "integer";
    case ValueType::String: return "string";
    case ValueType::StringList: return "list of strings";
    case ValueType::Enum: return "string (one of a fixed set)";
  }
  return "value";
}

std::string advice(const KeyInfo& key) {
  switch (key.type) {
    case ValueType::Bool:
      return "use true or false";
    case ValueType::Int:
      if (key.max == INT64_MAX) return fmt::format("use an integer of at least {}", key.min);
      return fmt::format("use an integer from {} to {}", key.min, key.max);
    case ValueType::Enum:
      return "use one of: " + fmt::format("{}", fmt::join(key.allowed, ", "));
    case ValueType::String:
      if (key.format == ValueFormat::HttpUrl)
        return "use an http:// or https:// URL, e.g. \"http://127.0.0.1:4318/v1/traces\"";
      return "use a string in double quotes";
    case ValueType::StringList:
      if (key.format == ValueFormat::KeyValue) return "use a list of \"key=value\" strings, e.g. [\"team=payments\"]";
      return "use a list of strings, e.g. [\"a\", \"b\"]";
  }
  return "";
}

std::string validate(const KeyInfo& key, Value& value) {
  switch (key.type) {
    case ValueType::Bool:
      return std::holds_alternative<bool>(value) ? "" : advice(key);
    case ValueType::Int: {
      auto* i = std::get_if<int64_t>(&value);
      return (i && *i >= key.min && *i <= key.max) ? "" : advice(key);
    }
    case ValueType::Enum: {
      auto* s = std::get_if<std::string>(&value);
      if (!s) return advice(key);
      // Case does not matter ("INFO" is info), as in the OTel variables.
      std::string lower = to_lower(*s);
      for (const auto& a : key.allowed) {
        if (a == lower) {
          *s = a;
          return "";
        }
      }
      return advice(key);
    }
    case ValueType::String: {
      auto* s = std::get_if<std::string>(&value);
      if (!s) return advice(key);
      if (key.format == ValueFormat::HttpUrl) {
        std::string lower = to_lower(*s);
        bool ok = (lower.rfind("http://", 0) == 0 && lower.size() > 7) ||
                  (lower.rfind("https://", 0) == 0 && lower.size() > 8);
        if (!ok || s->find_first_of(" \t\r\n") != std::string::npos) return advice(key);
      }
      return "";
    }
    case ValueType::StringList: {
      auto* list = std::get_if<std::vector<std::string>>(&value);
      if (!list) return advice(key);
      if (key.format == ValueFormat::KeyValue) {
        for (const auto& item : *list) {
          size_t eq = item.find('=');
          if (eq == std::string::npos || trim(item.substr(0, eq)).empty())
            return fmt::format("{} is not \"key=value\"; {}", quote(item), advice(key));
        }
      }
      return "";
    }
  }
  return advice(key);
}

std::string parse_text(const KeyInfo& key, const std::string& text, Value& out) {
  switch (key.type) {
    case ValueType::Bool: {
      std::string t = to_lower(trim(text));
      if (t == "true" || t == "1" || t == "yes" || t == "on") {
        out = true;
      } else if (t == "false" || t == "0" || t == "no" || t == "off") {
        out = false;
      } else {
        return "use true or false (or 1/0, yes/no, on/off)";
      }
      return "";
    }
    case ValueType::Int: {
      std::string t = trim(text);
      if (t.empty()) return advice(key);
      errno = 0;
      char* end = nullptr;
      long long v = std::strtoll(t.c_str(), &end, 10);
      if (errno != 0 || end == t.c_str() || *end != '\0') return advice(key);
      out = static_cast<int64_t>(v);
      break;
    }
    case ValueType::Enum:
      out = trim(text);
      break;
    case ValueType::String:
      out = text;
      break;
    case ValueType::StringList: {
      std::vector<std::string> items;
      for (const auto& part : split(text, ',')) {
        std::string item = trim(part);
        if (!item.empty()) items.push_back(item);
      }
      out = std::move(items);
      break;
    }
  }
  return validate(key, out);
}

Diagnostic not_allowed(std::string where, const std::string& lhs, const std::string& advice_text) {
  return Diagnostic{std::move(where), lhs + " is not allowed; " + advice_text};
}

}  // namespace detail

std::string format_value(const Value& v) {
  if (auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (auto* s = std::get_if<std::string>(&v)) return detail::quote(*s);
  const auto& list = std::get<std::vector<std::string>>(v);
  std::string out = "[";
  for (size_t i = 0; i < list.size(); ++i) {
    if (i) out += ", ";
    out += detail::quote(list[i]);
  }
  return out + "]";
}

namespace {

// Reads back what detail::quote() wrote (the defaults in the key table).
std::string unquote(const std::string& s, size_t& pos) {
  std::string out;
  if (pos >= s.size() || s[pos] != '"') return out;
  for (++pos; pos < s.size() && s[pos] != '"'; ++pos) {
    if (s[pos] == '\\' && pos + 1 < s.size()) {
      char c = s[++pos];
      out += c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
    } else {
      out += s[pos];
    }
  }
  ++pos;  // the closing quote
  return out;
}

}  // namespace

Value default_value(const KeyInfo& key) {
  const std::string d(key.default_value);
  switch (key.type) {
    case ValueType::Bool:
      return d == "true";
    case ValueType::Int:
      return static_cast<int64_t>(std::strtoll(d.c_str(), nullptr, 10));
    case ValueType::String:
    case ValueType::Enum: {
      size_t pos = 0;
      return unquote(d, pos);
    }
    case ValueType::StringList: {
      std::vector<std::string> items;
      for (size_t pos = d.find('"'); pos != std::string::npos; pos = d.find('"', pos))
        items.push_back(unquote(d, pos));
      return items;
    }
  }
  return false;
}

}  // namespace agent_run::config
