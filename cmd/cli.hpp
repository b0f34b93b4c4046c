#pragma once
// Every command line the hand parser (command_line.hpp) leaves alone:
// subcommands, --help, --version, and anything unusual or wrong. CLI11 parses
// it, and prints its own errors.

namespace agent_run::cmd {

// Returns the process exit code (or execs PROGRAM, like launch()).
int run_cli(int argc, char** argv);

}  // namespace agent_run::cmd
