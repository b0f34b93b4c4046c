#include "launcher/exec_program.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace agent_run::launcher {

int exec_program(const std::string& path, const std::vector<std::string>& argv,
                 const std::vector<std::string>& env, std::string& error) {
  std::vector<char*> cargv, cenv;
  cargv.reserve(argv.size() + 1);
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  cenv.reserve(env.size() + 1);
  for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  ::execve(path.c_str(), cargv.data(), cenv.data());
  const int e = errno;
  error = fmt::format("cannot run {}: {}", path, std::strerror(e));
  return (e == ENOENT || e == ENOTDIR) ? 127 : 126;
}

}  // namespace agent_run::launcher
