#include "launcher/environment_plan.hpp"

#include <algorithm>
#include <cstring>

namespace agent_run::launcher {

EnvironmentPlan::EnvironmentPlan(char** environ_in) {
  for (char** e = environ_in; e != nullptr && *e != nullptr; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (eq == nullptr) continue;
    vars_.push_back({std::string_view(*e, static_cast<size_t>(eq - *e)), *e});
  }
  // Pointers, not copies, sorted once; a stable sort keeps the first of a
  // repeated name in front, and that is the one kept.
  std::stable_sort(vars_.begin(), vars_.end(), [](const Var& a, const Var& b) { return a.name < b.name; });
  vars_.erase(std::unique(vars_.begin(), vars_.end(), [](const Var& a, const Var& b) { return a.name == b.name; }),
              vars_.end());
}

size_t EnvironmentPlan::lower_bound(std::string_view name) const {
  return static_cast<size_t>(std::lower_bound(vars_.begin(), vars_.end(), name,
                                              [](const Var& v, std::string_view n) { return v.name < n; }) -
                             vars_.begin());
}

void EnvironmentPlan::set(const std::string& name, const std::string& value) {
  const std::string& entry = owned_.emplace_back(name + "=" + value);
  const Var var{std::string_view(entry.data(), name.size()), entry.c_str()};
  const size_t i = lower_bound(name);
  if (i < vars_.size() && vars_[i].name == name) vars_[i] = var;
  else vars_.insert(vars_.begin() + static_cast<std::ptrdiff_t>(i), var);
  changes_.push_back({name, value, false});
}

void EnvironmentPlan::unset(const std::string& name) {
  const size_t i = lower_bound(name);
  if (i == vars_.size() || vars_[i].name != name) return;
  vars_.erase(vars_.begin() + static_cast<std::ptrdiff_t>(i));
  changes_.push_back({name, "", true});
}

const char* EnvironmentPlan::get(const std::string& name) const {
  const size_t i = lower_bound(name);
  if (i == vars_.size() || vars_[i].name != name) return nullptr;
  return vars_[i].entry + vars_[i].name.size() + 1;
}

std::vector<std::string> EnvironmentPlan::entries() const {
  std::vector<std::string> out;
  out.reserve(vars_.size());
  for (const auto& v : vars_) out.emplace_back(v.entry);
  return out;
}

namespace {
std::vector<std::string> split(const char* s) {
  std::vector<std::string> out;
  if (s == nullptr || *s == '\0') return out;
  std::string cur;
  for (const char* p = s;; ++p) {
    if (*p == ':' || *p == '\0') {
      out.push_back(cur);
      cur.clear();
      if (*p == '\0') break;
    } else {
      cur += *p;
    }
  }
  return out;
}

std::string strip_trailing_slashes(std::string s) {
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

std::string join_without(const std::vector<std::string>& parts, const std::string& a,
                         const std::string& b) {
  std::string out;
  bool first = true;
  for (const auto& p : parts) {
    const std::string norm = strip_trailing_slashes(p);
    if ((!a.empty() && norm == a) || (!b.empty() && norm == b)) {
      continue;
    }
    if (!first) out += ':';
    out += p;
    first = false;
  }
  return out;
}

std::string basename_of(const std::string& p) {
  auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

bool is_python(const std::string& prog) {
  const std::string b = basename_of(prog);
  return b.rfind("python", 0) == 0;
}
}  // namespace

std::string user_python_path(const char* current, const std::string& bootstrap,
                             const char* previous) {
  return join_without(split(current), strip_trailing_slashes(bootstrap),
                      previous ? strip_trailing_slashes(previous) : "");
}

std::string default_service_name(const std::vector<std::string>& argv, size_t* read) {
  size_t looked = argv.empty() ? 0 : 1;
  auto result = [&](std::string name) {
    if (read) *read = std::min(looked, argv.size());
    return name;
  };
  if (argv.empty()) return result("unknown_service");
  if (is_python(argv[0])) {
    for (size_t i = 1; i < argv.size(); ++i) {
      looked = i + 1;
      const std::string& a = argv[i];
      if (a == "-m" && i + 1 < argv.size()) {
        looked = i + 2;
        return result(argv[i + 1]);
      }
      if (a.rfind("-m", 0) == 0 && a.size() > 2) return result(a.substr(2));
      if (a == "-c") return result(basename_of(argv[0]));
      if (a == "-W" || a == "-X" || a == "-Q") {
        ++i;  // option with a separate argument
        continue;
      }
      if (!a.empty() && a[0] == '-') continue;
      std::string script = basename_of(a);
      if (script.size() > 3 && script.compare(script.size() - 3, 3, ".py") == 0)
        script.resize(script.size() - 3);
      return result(script);
    }
    looked = argv.size();  // no script or module: that depended on every argument
  }
  return result(basename_of(argv[0]));
}

}  // namespace agent_run::launcher
