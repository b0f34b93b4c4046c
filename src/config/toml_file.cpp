// The file layer: reads the TOML file and applies every valid key, reporting
// each problem with its file:line:column. The only file that includes
// toml++ (it is slow to compile), header-only and without exceptions so that
// nothing escapes into the app and no shared libtomlplusplus is loaded into it.
#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#define TOML_ENABLE_FORMATTERS 0
// GCC 12 has floating-point <charconv>: without this toml++ parses floats
// with a stringstream, which links all of std::locale into the boot module.
#define TOML_FLOAT_CHARCONV 1
#include <toml++/toml.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "config/config.hpp"
#include "config/internal.hpp"
#include "config/suggestions.hpp"

namespace agent_run::config::detail {
namespace {

// A configuration file is small; anything bigger is a wrong path (a log, /dev/zero).
constexpr size_t kMaxFileBytes = 16u << 20;

// Reads the whole file; on failure returns false and the reason.
bool read_file(const std::string& path, std::string& text, std::string& why) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    why = std::strerror(errno);
    return false;
  }
  char buf[4096];  // small: every stack page the kernel writes to is a page fault
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      why = std::strerror(errno);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxFileBytes) {
      why = "larger than 16 MiB; is this the configuration file?";
      ::close(fd);
      return false;
    }
  }
  ::close(fd);
  return true;
}

// A short TOML-like rendering of what the user wrote, for messages.
std::string render(const toml::node& node, int depth = 0) {
  if (auto* s = node.as_string()) return quote(s->get());
  if (auto* i = node.as_integer()) return std::to_string(i->get());
  if (auto* f = node.as_floating_point()) {
    // 1e3 must not read as the integer 1000 in "... = 1000 is not allowed; use an integer".
    std::string text = fmt::format("{}", f->get());
    if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
    return text;
  }
  if (auto* b = node.as_boolean()) return b->get() ? "true" : "false";
  if (auto* d = node.as_date()) return fmt::format("{:04}-{:02}-{:02}", d->get().year, d->get().month, d->get().day);
  if (auto* t = node.as_time()) return fmt::format("{:02}:{:02}:{:02}", t->get().hour, t->get().minute, t->get().second);
  if (auto* dt = node.as_date_time()) {
    const auto& v = dt->get();
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", v.date.year, v.date.month, v.date.day, v.time.hour,
                       v.time.minute, v.time.second);
  }
  if (depth > 2) return "...";
  if (auto* a = node.as_array()) {
    std::string out = "[";
    for (size_t i = 0; i < a->size(); ++i) out += (i ? ", " : "") + render(*a->get(i), depth + 1);
    return out + "]";
  }
  if (auto* t = node.as_table()) {
    std::string out = "{";
    bool first = true;
    for (auto&& [k, v] : *t) {
      out += (first ? " " : ", ") + std::string(k.str()) + " = " + render(v, depth + 1);
      first = false;
    }
    return out + (first ? "}" : " }");
  }
  return "?";
}

std::string shorten(std::string s) {
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

struct FileLayer {
  const std::string& path;
  Config& config;
  std::vector<Diagnostic>& errors;

  std::string at(const toml::source_region& r) const {
    if (r.begin.line == 0) return path;
    return fmt::format("{}:{}:{}", path, r.begin.line, r.begin.column);
  }

  void walk(const toml::table& table, const std::string& prefix) {
    for (auto&& [k, node] : table) {
      std::string name = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
      // Point at the key for "which key" problems; implicit tables may have no key position.
      const toml::source_region& key_at = k.source().begin.line ? k.source() : node.source();
      if (const KeyInfo* info = find_key(name)) {
        apply(*info, node, key_at);
        continue;
      }
      const auto& tables = table_names();
      if (std::find(tables.begin(), tables.end(), name) != tables.end()) {
        if (auto* sub = node.as_table()) {
          walk(*sub, name);
        } else {
          errors.push_back({at(key_at), fmt::format("'{}' is a table of settings, not a value; put its keys under a [{}] header",
                                                    name, name)});
        }
        continue;
      }
      // One error for an unknown table, not one per key inside it.
      const char* what = node.is_table() ? "table" : "key";
      errors.push_back({at(key_at), fmt::format("unknown {} '{}'{}", what, name, key_suggestion(name))});
    }
  }

  void apply(const KeyInfo& info, const toml::node& node, const toml::source_region& key_at) {
    if (node.is_table()) {
      errors.push_back({at(key_at), fmt::format("'{}' is a setting, not a table; write {} = <value>: {}", info.name,
                                                info.name, advice(info))});
      return;
    }
    Value value;
    bool typed = true;
    switch (info.type) {
      case ValueType::Bool:
        if (auto* b = node.as_boolean()) value = b->get(); else typed = false;
        break;
      case ValueType::Int:
        if (auto* i = node.as_integer()) value = static_cast<int64_t>(i->get()); else typed = false;
        break;
      case ValueType::String:
      case ValueType::Enum:
        if (auto* s = node.as_string()) value = s->get(); else typed = false;
        break;
      case ValueType::StringList:
        if (auto* a = node.as_array()) {
          std::vector<std::string> items;
          for (const auto& item : *a) {
            if (auto* s = item.as_string()) items.push_back(s->get()); else typed = false;
          }
          value = std::move(items);
        } else {
          typed = false;
        }
        break;
    }
    std::string lhs = std::string(info.name) + " = " + shorten(render(node));
    std::string why = typed ? validate(info, value) : advice(info);
    if (!why.empty()) {
      errors.push_back(not_allowed(at(node.source()), lhs, why));
      return;
    }
    config.set(info.name, std::move(value), "file " + at(key_at));
  }
};

// After a syntax error nothing else in the file can be trusted, but a
// top-level "strict = true" still decides whether the launch stops.
void apply_strict_from_broken_file(const std::string& path, const std::string& text, Config& config) {
  auto lines = split(text, '\n');
  for (size_t n = 0; n < lines.size(); ++n) {
    std::string line = trim(lines[n]);
    if (!line.empty() && line[0] == '[') return;  // past the top-level keys
    if (line.rfind("strict", 0) != 0) continue;
    std::string rest = trim(line.substr(6));
    if (rest.empty() || rest[0] != '=') continue;
    rest = trim(rest.substr(1));
    size_t hash = rest.find('#');
    if (hash != std::string::npos) rest = trim(rest.substr(0, hash));
    if (rest == "true") config.set("strict", true, fmt::format("file {}:{}:1", path, n + 1));
    return;
  }
}

}  // namespace

void apply_file(const std::string& path, Config& config, std::vector<Diagnostic>& errors) {
  std::string text, why;
  if (!read_file(path, text, why)) {
    errors.push_back({path, "cannot read the configuration file: " + why});
    return;
  }
  toml::parse_result result = toml::parse(text, std::string_view(path));
  if (!result) {
    const auto& err = result.error();
    const auto& begin = err.source().begin;
    std::string where = begin.line ? fmt::format("{}:{}:{}", path, begin.line, begin.column) : path;
    std::string message(err.description());
    // The commonest case: a string written without quotes (log_level = info).
    if (message.find("could not determine value type") != std::string::npos)
      message += "; strings need double quotes, e.g. log_level = \"info\"";
    errors.push_back({where, message});
    apply_strict_from_broken_file(path, text, config);
    return;
  }
  std::vector<Diagnostic> found;
  FileLayer layer{path, config, found};
  layer.walk(result.table(), "");
  // toml++ iterates tables in key order; report in file order, as a reader scans it.
  auto position = [&](const Diagnostic& d) {
    unsigned line = 0, column = 0;
    std::sscanf(d.where.c_str() + std::min(d.where.size(), path.size()), ":%u:%u", &line, &column);
    return std::make_pair(line, column);
  };
  std::stable_sort(found.begin(), found.end(),
                   [&](const Diagnostic& a, const Diagnostic& b) { return position(a) < position(b); });
  errors.insert(errors.end(), found.begin(), found.end());
}

}  // namespace agent_run::config::detail
