#pragma once
// The environment changes the launcher makes before exec. Kept as an explicit
// list so that --dry-run prints exactly what exec would get.
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace agent_run::launcher {

struct EnvChange {
  std::string name;
  std::string value;
  bool unset = false;
};

class EnvironmentPlan {
 public:
  // `environ_in` is not copied: it must outlive the plan (the launcher's
  // environ does; it is never changed before exec).
  explicit EnvironmentPlan(char** environ_in);
  void set(const std::string& name, const std::string& value);
  void unset(const std::string& name);
  const char* get(const std::string& name) const;  // nullptr when unset
  const std::vector<EnvChange>& changes() const { return changes_; }
  std::vector<std::string> entries() const;  // NAME=value sorted by NAME, for execve

 private:
  // One "NAME=value" string, in the environment given or in owned_.
  struct Var {
    std::string_view name;
    const char* entry;
  };
  // Index of the first entry not before `name` (vars_ is sorted by name).
  size_t lower_bound(std::string_view name) const;
  std::vector<Var> vars_;  // sorted by name, one per name (the first, as getenv sees it)
  std::deque<std::string> owned_;  // entries set() made (a deque: they never move)
  std::vector<EnvChange> changes_;
};

// The user's own PYTHONPATH entries, in their order: `current` minus this
// launch's bootstrap and minus `previous` (the bootstrap of a parent
// agent-run launch), so that agent-run is never on the path twice and the
// app's children can get back exactly what the user had.
std::string user_python_path(const char* current, const std::string& bootstrap,
                             const char* previous);

// The default service name: the script or module a Python interpreter runs
// (`python3 app.py` -> "app", `python3 -m pkg.worker` -> "pkg.worker"), else
// the program's name (`gunicorn`). `read` (if given) gets how many of
// argv's first elements it looked at (a launch plan depends on them).
std::string default_service_name(const std::vector<std::string>& argv, size_t* read = nullptr);

}  // namespace agent_run::launcher
