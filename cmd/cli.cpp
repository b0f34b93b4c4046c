// The command line as CLI11 reads it, for everything but a plain launch
// (main.cpp): the subcommands, --help, and every unusual or wrong command
// line. The one translation unit that includes CLI11 (slow to compile).
#include "lazy_iostream.hpp"  // first: before CLI11 includes <iostream>

#include "cli.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>

#include "agent_run/version.hpp"
#include "config/commands.hpp"
#include "launcher/launch.hpp"
#include "report/report.hpp"

namespace {

constexpr const char* kExamples = R"(
Examples:
  agent-run generate-config             write ./agent-run.toml, every setting documented
  agent-run python3 app.py --port 8000  run app.py with the agent loaded
  agent-run gunicorn -w 4 wsgi:app      the master and every worker get the agent
  agent-run uwsgi --plugin python3 --master --processes 4 --http11-socket 127.0.0.1:8000 --module wsgi:app
  agent-run --config prod.toml -- python3 -m mypkg.worker
  agent-run --dry-run python3 app.py    show what would be run, run nothing
  agent-run check-config prod.toml      validate a config file
)";

}  // namespace

namespace agent_run::cmd {

int run_cli(int argc, char** argv) {
  // The standard streams, set up here rather than before main() (lazy_iostream.hpp).
  std::ios_base::Init streams;
  CLI::App app{"agent-run: runs a Python program with the agent-run APM agent loaded.\n"
               "Usage: agent-run [OPTIONS] [--] PROGRAM [ARGS...]",
               "agent-run"};
  app.footer(kExamples);
  app.set_version_flag("--version", std::string("agent-run ") + agent_run::kVersion);
  // Everything from PROGRAM on belongs to the program, options included.
  app.prefix_command();

  agent_run::launcher::LaunchOptions launch;
  std::string service_name, log_level, log_file;
  app.add_option("-c,--config", launch.config_file, "Config file (default: $AGENT_RUN_CONFIG, ./agent-run.toml, ~/.config/agent-run/agent-run.toml)");
  app.add_option("--service-name", service_name, "Service name for the traces (default: the script or program name)");
  app.add_option("--log-level", log_level, "Agent log level")->check(CLI::IsMember({"debug", "info", "warning", "error", "off"}));
  app.add_option("--log-file", log_file, "Agent log file (default: stderr)");
  app.add_flag("--disable", launch.disable, "Run the program with the agent off, everything else the same");
  app.add_flag("--dry-run", launch.dry_run, "Print the program, its arguments and the environment changes, run nothing");
  app.add_flag("--strict", launch.strict, "Do not start the program when the config is bad (exit 2)");

  auto* gen = app.add_subcommand("generate-config", "Write a documented config file with every setting at its default");
  std::string gen_out = "agent-run.toml";
  bool gen_force = false;
  gen->add_option("-o,--output", gen_out, "File to write ('-' for stdout)")->capture_default_str();
  gen->add_flag("--force", gen_force, "Replace the file if it exists");

  auto* check = app.add_subcommand("check-config", "Validate a config file (with the AGENT_RUN_* and OTEL_* environment)");
  std::string check_file;
  check->add_option("FILE", check_file, "Config file (default: the one a launch would use)");

  auto* report = app.add_subcommand("report", "Summarize the local trace store: operations, latencies, slowest traces, statements, health");
  agent_run::report::ReportOptions report_opts;
  report->add_option("PATH", report_opts.path, "Store directory or .jsonl file (default: the configured local store)");
  report->add_flag("--json", report_opts.json, "Machine-readable JSON instead of text");
  report->add_option("--top", report_opts.top, "Slowest traces to show")->check(CLI::Range(1, 1000))->capture_default_str();
  report->add_option("--statements", report_opts.statements, "Rows in each statements table")->check(CLI::Range(1, 100000))->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  if (gen->parsed()) return agent_run::config::generate_config(gen_out, gen_force, std::cout, std::cerr);
  if (check->parsed()) {
    if (check_file.empty()) check_file = agent_run::config::find_config_file(agent_run::config::process_environment());
    if (check_file.empty()) {
      std::cerr << "agent-run: no config file given and none found (./agent-run.toml, "
                   "$AGENT_RUN_CONFIG, ~/.config/agent-run/agent-run.toml); "
                   "pass one, or create one with `agent-run generate-config`\n";
      return 1;
    }
    return agent_run::config::check_config(check_file, std::cout, std::cerr);
  }

  if (report->parsed()) {
    if (report_opts.path.empty()) {
      // The store the config points at (exporter.local.path or <data_dir>/traces).
      auto env = agent_run::config::process_environment();
      agent_run::config::Sources sources;
      sources.file = agent_run::config::find_config_file(env);
      sources.env = env;
      auto loaded = agent_run::config::load(sources);
      report_opts.path = agent_run::config::effective_local_path(loaded.config, env);
    }
    return agent_run::report::run_report(report_opts, std::cout, std::cerr);
  }

  launch.argv = app.remaining();
  if (!launch.argv.empty() && launch.argv.front() == "--") launch.argv.erase(launch.argv.begin());
  if (launch.argv.empty()) {
    std::cerr << "agent-run: no program given; usage: agent-run [OPTIONS] [--] PROGRAM [ARGS...] "
                 "(see agent-run --help)\n";
    return 2;
  }
  if (!service_name.empty()) launch.overrides["service_name"] = service_name;
  if (!log_level.empty()) launch.overrides["log_level"] = log_level;
  if (!log_file.empty()) launch.overrides["log_file"] = log_file;
  std::cout.flush();
  return agent_run::launcher::launch(launch, STDOUT_FILENO, STDERR_FILENO);
}

}  // namespace agent_run::cmd
