#pragma once
#include <string>
#include <vector>

namespace agent_run::launcher {

// Replaces this process with `path` (same PID, same stdio, signals and exit
// status become the program's own). Returns only on failure, with the exit
// code a shell would give (126 or 127) and `error` set.
int exec_program(const std::string& path, const std::vector<std::string>& argv,
                 const std::vector<std::string>& env, std::string& error);

}  // namespace agent_run::launcher
