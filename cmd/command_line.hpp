#pragma once
// The plain launch command line, `agent-run [OPTIONS] [--] PROGRAM [ARGS...]`,
// parsed by hand: constructing CLI11's objects costs more instructions than
// the rest of a launch. Anything else (subcommands, --help, an unknown or
// repeated option, an option without its value, an unusual spelling) is left
// to CLI11 (cli.cpp), so its behaviour and its error messages stay the only ones.
#include <optional>

#include "launcher/launch.hpp"

namespace agent_run::cmd {

// The launch options when argv is a plain launch command line that this
// parser and CLI11 read alike; nullopt when CLI11 must parse it.
std::optional<launcher::LaunchOptions> parse_plain_command_line(int argc, const char* const* argv);

}  // namespace agent_run::cmd
