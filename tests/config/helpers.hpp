#pragma once
// Shared by the config tests: a private temporary directory and loading
// text with a fixed environment, so no test depends on the caller's shell.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "config/config.hpp"

namespace test {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/agent-run-config-test.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string file(const std::string& name) const { return path + "/" + name; }
};

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

using Env = std::map<std::string, std::string>;

inline agent_run::config::Sources sources(const std::string& file, const Env& env = {},
                                          std::map<std::string, std::string> overrides = {}) {
  agent_run::config::Sources s;
  s.file = file;
  s.env = agent_run::config::map_environment(env);
  s.env_names = agent_run::config::map_environment_names(env);
  s.overrides = std::move(overrides);
  return s;
}

// Writes `text` to <dir>/name and loads it with `env`.
inline agent_run::config::LoadResult load_text(const TempDir& dir, const std::string& text, const Env& env = {},
                                               const std::string& name = "prod.toml") {
  write_file(dir.file(name), text);
  return agent_run::config::load(sources(dir.file(name), env));
}

inline std::string all(const std::vector<agent_run::config::Diagnostic>& ds) {
  std::string out;
  for (const auto& d : ds) out += d.where + ": " + d.message + "\n";
  return out;
}

}  // namespace test
