#pragma once
// `agent-run [OPTIONS] [--] PROGRAM [ARGS...]`: everything between parsing
// the command line and exec.
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace agent_run::launcher {

struct LaunchOptions {
  std::string config_file;                      // -c/--config; empty: look it up
  std::map<std::string, std::string> overrides; // config key -> value from options
  bool disable = false;                         // --disable
  bool dry_run = false;                         // --dry-run
  bool strict = false;                          // --strict
  std::vector<std::string> argv;                // PROGRAM ARGS...
  // The launcher's own arguments as given (argv[1] up to PROGRAM, "--"
  // included), when the command line was parsed by hand: only then can a
  // launch plan be made (launch_plan_writer.hpp), as the quick launch
  // compares the arguments as they are.
  std::optional<std::vector<std::string>> launcher_args;
};

// Execs PROGRAM and so does not return on success. Returns the exit code
// when it cannot (127 not found, 126 not executable, 2 strict config error),
// and 0 after --dry-run. Writes --dry-run's output to `out_fd` and messages to
// `err_fd` directly (no iostreams: they cost every launch their set-up).
int launch(const LaunchOptions& options, int out_fd, int err_fd);

}  // namespace agent_run::launcher
