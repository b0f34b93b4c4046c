#pragma once
// Finds PROGRAM the way a shell does: a name with a '/' is used as given,
// any other name is searched in $PATH.
#include <string>

namespace agent_run::launcher {

struct ProgramLookup {
  std::string path;  // what to exec; empty when not found
  int exit_code = 0; // 0 found; 127 not found; 126 found but not executable
  std::string error;
};

ProgramLookup find_program(const std::string& name, const std::string& path_env);

}  // namespace agent_run::launcher
