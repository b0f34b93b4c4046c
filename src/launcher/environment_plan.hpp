#pragma once
// The environment changes the launcher makes before exec. Kept as an explicit
// list so that --dry-run prints exactly what exec would get.
#include <map>
#include <string>
#include <vector>

namespace agent_run::launcher {

struct EnvChange {
  std::string name;
  std::string value;
  bool unset = false;
};

class EnvironmentPlan {
 public:
  explicit EnvironmentPlan(char** environ_in);
  void set(const std::string& name, const std::string& value);
  void unset(const std::string& name);
  const char* get(const std::string& name) const;  // nullptr when unset
  const std::vector<EnvChange>& changes() const { return changes_; }
  std::vector<std::string> entries() const;  // NAME=value, for execve

 private:
  std::map<std::string, std::string> vars_;
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
// the program's name (`gunicorn`).
std::string default_service_name(const std::vector<std::string>& argv);

}  // namespace agent_run::launcher
