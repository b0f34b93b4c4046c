// agent-run: starts any Python program with the agent loaded.
//
// A plain launch (`agent-run [OPTIONS] [--] PROGRAM [ARGS...]`) is parsed by
// hand and goes straight to the launcher; every other command line goes to
// CLI11 (cli.cpp). Nothing here or on the launch path uses iostreams (see
// lazy_iostream.hpp): the launcher's own start is paid by every launch of
// the user's program.
#include <unistd.h>

#include <cstring>

#include "agent_run/version.hpp"
#include "cli.hpp"
#include "command_line.hpp"
#include "launcher/launch.hpp"
#include "launcher/freestanding/process_title.hpp"

int main(int argc, char** argv) {
  // The collector's standby runs on in this memory after the exec, and
  // titles itself over these strings.
  agent_run::launcher::freestanding::remember_process_args(argc, argv);
  if (argc == 2 && std::strcmp(argv[1], "--version") == 0) {
    // What CLI11's version flag prints, without building CLI11's objects.
    const std::string text = std::string("agent-run ") + agent_run::kVersion + "\n";
    // Exit 0 even when stdout is closed, as CLI11 does.
    if (::write(STDOUT_FILENO, text.data(), text.size()) < 0) return 0;
    return 0;
  }
  if (auto options = agent_run::cmd::parse_plain_command_line(argc, argv))
    return agent_run::launcher::launch(*options, STDOUT_FILENO, STDERR_FILENO);
  return agent_run::cmd::run_cli(argc, argv);
}
