// Where files are when the configuration leaves it to us: the config file
// to read, the data directory, the local trace directory.
#include <unistd.h>

#include <climits>

#include "config/config.hpp"

namespace agent_run::config {
namespace {

std::optional<std::string> non_empty(const EnvLookup& env, const std::string& name) {
  if (!env) return std::nullopt;
  auto v = env(name);
  if (!v || v->empty()) return std::nullopt;
  return v;
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

}  // namespace

std::vector<std::string> config_file_candidates(const EnvLookup& env) {
  std::vector<std::string> out = {kDefaultConfigFile};
  std::string base;
  // XDG: a relative XDG_CONFIG_HOME is invalid and must be ignored.
  if (auto x = non_empty(env, "XDG_CONFIG_HOME"); x && (*x)[0] == '/')
    base = *x;
  else if (auto home = non_empty(env, "HOME"))
    base = *home + "/.config";
  if (!base.empty()) out.push_back(base + "/agent-run/" + kDefaultConfigFile);
  return out;
}

std::string find_config_file(const EnvLookup& env) {
  if (auto v = non_empty(env, "AGENT_RUN_CONFIG")) return *v;
  for (const std::string& candidate : config_file_candidates(env)) {
    if (!exists(candidate)) continue;
    // Absolute, so that a child process started after the app changed
    // directory reads the same file.
    char cwd[PATH_MAX];
    if (candidate[0] != '/' && ::getcwd(cwd, sizeof cwd)) return std::string(cwd) + "/" + candidate;
    return candidate;
  }
  return "";
}

std::string effective_data_dir(const Config& config, const EnvLookup& env) {
  const std::string& configured = config.get_string("data_dir");
  if (!configured.empty()) return configured;
  if (auto x = non_empty(env, "XDG_DATA_HOME"); x && (*x)[0] == '/') return *x + "/agent-run";
  if (auto home = non_empty(env, "HOME")) return *home + "/.local/share/agent-run";
  // No home (a service account, a bare container): a per-user directory still.
  return "/tmp/agent-run-" + std::to_string(::getuid());
}

std::string effective_local_path(const Config& config, const EnvLookup& env) {
  const std::string& configured = config.get_string("exporter.local.path");
  if (!configured.empty()) return configured;
  return effective_data_dir(config, env) + "/traces";
}

}  // namespace agent_run::config
