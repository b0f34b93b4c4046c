// PROGRAM looked up like a shell does (execvp's rules: PATH in order, the
// first regular file we may execute).
#include "launcher/program_lookup.hpp"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include <fmt/format.h>

#include "launcher/freestanding/program_search.hpp"

namespace agent_run::launcher {

namespace {
bool is_regular(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// dir + "/" + name, without doubling a trailing slash ("/usr/bin/" + "x").
std::string join(const std::string& dir, const std::string& name) {
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

std::vector<std::string> split_path(const std::string& path_env) {
  std::vector<std::string> dirs;
  size_t start = 0;
  while (start <= path_env.size()) {
    size_t end = path_env.find(':', start);
    if (end == std::string::npos) end = path_env.size();
    std::string entry = path_env.substr(start, end - start);
    dirs.push_back(entry.empty() ? "." : entry);
    start = end + 1;
  }
  return dirs;
}
}  // namespace

ProgramLookup find_program(const std::string& name, const std::string& path_env) {
  ProgramLookup r;
  if (name.find('/') != std::string::npos) {
    if (!is_regular(name)) {
      r.exit_code = 127;
      r.error = fmt::format("{}: no such file", name);
    } else if (::access(name.c_str(), X_OK) != 0) {
      r.exit_code = 126;
      r.error = fmt::format("{}: not executable (chmod +x it, or run it with its interpreter)", name);
    } else {
      r.path = name;
    }
    return r;
  }
  // The search itself is the quick launch's too (freestanding/program_search.hpp).
  char found[PATH_MAX];
  if (freestanding::search_program(name.c_str(), path_env.c_str(), found, sizeof found)) {
    r.path = found;
    return r;
  }
  const auto dirs = split_path(path_env);
  // Not executable anywhere; a shell still tells a file without the x bit
  // (126) from a missing one (127).
  for (const auto& d : dirs) {
    const std::string candidate = join(d, name);
    if (is_regular(candidate)) {
      r.exit_code = 126;
      r.error = fmt::format("{}: found {} but it is not executable (chmod +x it)", name, candidate);
      return r;
    }
  }
  r.exit_code = 127;
  r.error = fmt::format("{}: command not found in PATH ({})", name, path_env);
  return r;
}

}  // namespace agent_run::launcher
