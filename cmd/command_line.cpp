#include "command_line.hpp"

#include <string_view>

namespace agent_run::cmd {
namespace {

enum class Opt { Config, ServiceName, LogLevel, LogFile, Disable, DryRun, Strict, Count };

struct Spelling {
  std::string_view name;
  Opt opt;
  bool takes_value;
};

// The launcher options as cli.cpp declares them to CLI11.
constexpr Spelling kOptions[] = {
    {"-c", Opt::Config, true},           {"--config", Opt::Config, true},
    {"--service-name", Opt::ServiceName, true}, {"--log-level", Opt::LogLevel, true},
    {"--log-file", Opt::LogFile, true},  {"--disable", Opt::Disable, false},
    {"--dry-run", Opt::DryRun, false},   {"--strict", Opt::Strict, false},
};

// CLI11 reads these as subcommands, even after options or `--`.
bool is_subcommand(std::string_view a) {
  return a == "generate-config" || a == "check-config" || a == "report";
}

// The values CLI11's IsMember check accepts for --log-level.
bool is_log_level(std::string_view v) {
  return v == "debug" || v == "info" || v == "warning" || v == "error" || v == "off";
}

const Spelling* find_option(std::string_view name) {
  for (const auto& s : kOptions)
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace

std::optional<launcher::LaunchOptions> parse_plain_command_line(int argc, const char* const* argv) {
  launcher::LaunchOptions options;
  bool seen[static_cast<int>(Opt::Count)] = {};
  int i = 1;
  for (; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg.empty()) return std::nullopt;
    if (arg[0] != '-') break;  // PROGRAM: everything from here on is the program's

    std::string_view name = arg, value;
    bool inline_value = false;
    if (arg.size() > 2 && arg[1] == '-') {
      const size_t eq = arg.find('=');
      if (eq != std::string_view::npos) {
        name = arg.substr(0, eq);
        value = arg.substr(eq + 1);
        inline_value = true;
      }
    }
    const Spelling* spelling = find_option(name);
    // --help, --version, -cFILE, unknown options: CLI11's.
    if (spelling == nullptr) return std::nullopt;
    bool& once = seen[static_cast<int>(spelling->opt)];
    if (once) return std::nullopt;  // CLI11 decides what a repeated option means
    once = true;
    if (!spelling->takes_value) {
      if (inline_value) return std::nullopt;  // --disable=yes
      if (spelling->opt == Opt::Disable) options.disable = true;
      if (spelling->opt == Opt::DryRun) options.dry_run = true;
      if (spelling->opt == Opt::Strict) options.strict = true;
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= argc) return std::nullopt;  // missing value: CLI11's error
      value = argv[++i];
    }
    // An empty value, one that looks like an option or a subcommand: CLI11's call.
    if (value.empty() || value[0] == '-' || is_subcommand(value)) return std::nullopt;
    switch (spelling->opt) {
      case Opt::Config: options.config_file = std::string(value); break;
      case Opt::ServiceName: options.overrides["service_name"] = std::string(value); break;
      case Opt::LogLevel:
        if (!is_log_level(value)) return std::nullopt;  // CLI11 says what is allowed
        options.overrides["log_level"] = std::string(value);
        break;
      case Opt::LogFile: options.overrides["log_file"] = std::string(value); break;
      default: break;
    }
  }
  // No program ("no program given") or a subcommand: CLI11's.
  if (i >= argc) return std::nullopt;
  const std::string_view program = argv[i];
  if (program.empty() || is_subcommand(program)) return std::nullopt;
  options.argv.assign(argv + i, argv + argc);
  options.launcher_args.emplace(argv + 1, argv + i);
  return options;
}

}  // namespace agent_run::cmd
