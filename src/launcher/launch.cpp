#include "launcher/launch.hpp"

#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <map>

#include <fmt/format.h>

#include "agent_run/version.hpp"
#include "common/write_all.hpp"
#include "config/commands.hpp"
#include "config/config.hpp"
#include "launcher/bootstrap_dir.hpp"
#include "launcher/collector_start.hpp"
#include "launcher/environment_plan.hpp"
#include "launcher/exec_program.hpp"
#include "launcher/file_util.hpp"
#include "launcher/install_layout.hpp"
#include "launcher/freestanding/private_bootstrap.hpp"
#include "launcher/freestanding/program_search.hpp"
#include "launcher/launch_plan_writer.hpp"
#include "launcher/program_lookup.hpp"

extern char** environ;

namespace agent_run::launcher {

namespace {

std::string absolute(const std::string& p) {
  if (p.empty() || p[0] == '/') return p;
  char cwd[PATH_MAX];
  if (::getcwd(cwd, sizeof cwd) == nullptr) return p;
  return std::string(cwd) + "/" + p;
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789_-./=:,@%+") == std::string::npos)
    return s;
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

void print_dry_run(std::string& out, const std::string& path, const std::vector<std::string>& argv,
                   const EnvironmentPlan& plan) {
  out += fmt::format("agent-run {} would exec: {}\n  argv:", kVersion, path);
  for (const auto& a : argv) out += ' ' + shell_quote(a);
  out += "\n  environment changes:\n";
  for (const auto& c : plan.changes()) {
    if (c.unset)
      out += "    unset " + c.name + "\n";
    else
      out += "    " + c.name + "=" + shell_quote(c.value) + "\n";
  }
}

// The collector's settings, resolved from the config the launcher loaded.
CollectorLaunch collector_params(const config::Config& c, const config::EnvLookup& env,
                                 const InstallLayout& layout, const std::string& config_file,
                                 const std::string& service_name) {
  CollectorLaunch p;
  p.collector_path = layout.collector_executable();
  p.standby = true;  // the collector starts on the app's first connection
  p.config_path = config_file;
  p.service_name = service_name;
  p.exporters = {c.get_string("exporter.type")};
  p.store_dir = config::effective_local_path(c, env);
  p.data_dir = config::effective_data_dir(c, env);
  p.store_max_file_bytes = static_cast<uint64_t>(c.get_int("exporter.local.max_file_bytes"));
  p.store_max_files = static_cast<uint32_t>(c.get_int("exporter.local.max_files"));
  p.otlp_traces_endpoint = c.get_string("exporter.otlp.endpoint");
  p.otlp_headers = c.get_list("exporter.otlp.headers");
  p.otlp_timeout_ms = static_cast<uint32_t>(c.get_int("exporter.otlp.timeout_ms"));
  p.otlp_compression = c.get_string("exporter.otlp.compression");
  p.otlp_queue_spans = static_cast<uint64_t>(c.get_int("exporter.otlp.queue_spans"));
  p.otlp_max_retry_ms = c.get_int("exporter.otlp.max_retry_ms");
  p.drain_timeout_ms = static_cast<uint32_t>(c.get_int("collector.drain_timeout_ms"));
  p.batch_max_spans = static_cast<uint32_t>(c.get_int("collector.batch_max_spans"));
  p.batch_max_delay_ms = static_cast<uint32_t>(c.get_int("collector.batch_max_delay_ms"));
  return p;
}

}  // namespace

int launch(const LaunchOptions& options, int out_fd, int err_fd) {
  // A closed or full stderr must not stop the launch: write errors are ignored.
  auto err = [err_fd](const std::string& text) { write_all(err_fd, text); };
  const std::string& program = options.argv.at(0);
  const char* path_env = std::getenv("PATH");
  ProgramLookup found = find_program(program, path_env ? path_env : freestanding::kDefaultSearchPath);
  if (found.exit_code != 0) {
    err("agent-run: " + found.error + "\n");
    return found.exit_code;
  }

  const config::EnvLookup env = config::process_environment();
  const std::string config_file =
      absolute(options.config_file.empty() ? config::find_config_file(env) : options.config_file);
  config::Sources sources;
  sources.file = config_file;
  sources.env = env;
  sources.env_names = config::process_environment_names();
  sources.overrides = options.overrides;
  config::LoadResult loaded = config::load(sources);
  for (const auto& w : loaded.warnings) err(fmt::format("agent-run: warning: {}: {}\n", w.where, w.message));

  // A launch plan (launch_plan_writer.hpp) is made only for a launch that
  // went exactly as configured, with nothing to tell the user: the quick
  // launch that replays it says nothing.
  bool plannable = options.launcher_args.has_value() && !options.dry_run && loaded.ok() &&
                   loaded.warnings.empty() && loaded.config.get_bool("quick_launch") && environment_replayable();
  LaunchPlan launch_plan;
  size_t argv_read = 1;  // the program's name
  if (plannable) {
    launch_plan.files.push_back("/proc/self/exe");
    if (!config_file.empty()) launch_plan.contents.push_back(config_file);
    for (const auto& candidate : config::config_file_candidates(env)) launch_plan.contents.push_back(candidate);
  }

  bool agent_on = !options.disable;
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) err(fmt::format("agent-run: {}: {}\n", e.where, e.message));
    if (options.strict || loaded.config.get_bool("strict")) {
      err(fmt::format("agent-run: not starting {} (strict mode); fix the configuration above, check it with "
                      "`agent-run check-config`\n",
                      program));
      return 2;
    }
    err(fmt::format("agent-run: starting {} without the agent; fix the configuration above (or use --strict "
                    "to stop here)\n",
                    program));
    agent_on = false;
  }
  if (!loaded.config.get_bool("enabled")) agent_on = false;

  EnvironmentPlan plan(environ);
  const char* previous_bootstrap = plan.get("AGENT_RUN_BOOTSTRAP");
  const std::string previous = previous_bootstrap ? previous_bootstrap : "";
  const char* user_pp = plan.get("PYTHONPATH");
  const bool had_pythonpath = user_pp != nullptr;
  const std::string user_path = user_python_path(user_pp, "", previous.empty() ? nullptr : previous.c_str());
  // A parent launch's own variables are not passed on unless set again below.
  for (const auto& v : config::kLauncherVariables)
    if (v.unset_before_launch) plan.unset(v.name);
  std::string private_bootstrap;  // a bootstrap made for this run only (no usable cache)

  if (!agent_on) {
    // Off, but everything else as it was: only a parent launch's bootstrap goes.
    if (had_pythonpath && user_path != user_pp) {
      if (user_path.empty()) plan.unset("PYTHONPATH");
      else plan.set("PYTHONPATH", user_path);
    }
  } else {
    InstallLayout layout;
    BootstrapDir boot;
    std::string error;
    if (!find_install_layout(layout, error) ||
        !ensure_bootstrap_dir(layout, default_cache_root(), boot, error)) {
      err("agent-run: " + error + "\n");
      plannable = false;
      if (options.strict || loaded.config.get_bool("strict")) return 2;
      err("agent-run: starting " + program + " without the agent\n");
      return exec_program(found.path, options.argv, plan.entries(), error);
    }
    // Without the build's fingerprint the bootstrap's name comes from a
    // listing of its files, which a plan cannot check cheaply.
    plannable = plannable && !boot.private_temp && boot.from_fingerprint;
    bool private_bootstrap_removed = false;
    launch_plan.files.push_back(layout.bootstrap_id_file());
    launch_plan.dir_shapes.push_back(boot.path);  // Python may add __pycache__ to it
    launch_plan.files.push_back(boot.path + "/" + kBootstrapMarker);

    plan.set("PYTHONPATH", user_path.empty() ? boot.path : boot.path + ":" + user_path);
    plan.set("AGENT_RUN_BOOTSTRAP", boot.path);
    plan.set("AGENT_RUN_VERSION", kVersion);
    if (had_pythonpath) plan.set("AGENT_RUN_ORIG_PYTHONPATH", user_path);
    if (!config_file.empty()) plan.set("AGENT_RUN_CONFIG", config_file);
    else plan.unset("AGENT_RUN_CONFIG");
    // Shown above: the agent in the program does not repeat them (config.hpp).
    if (!loaded.warnings.empty()) plan.set(config::kWarningsShownVar, config::warning_ids(loaded.warnings));
    for (const auto& [key, value] : options.overrides) {
      const bool is_path = key == "log_file" || key == "data_dir";
      plan.set(config::env_var_for(key), is_path ? absolute(value) : value);
    }
    std::string service_name = loaded.config.get_string("service_name");
    if (service_name.empty()) {
      service_name = default_service_name(options.argv, &argv_read);
      plan.set(config::env_var_for("service_name"), service_name);
    }
    if (loaded.config.get_bool("collector.enabled") && !options.dry_run) {
      std::string why;
      CollectorLaunch collector = collector_params(loaded.config, env, layout, config_file, service_name);
      if (boot.private_temp) collector.private_bootstrap = boot.path;
      auto socket = start_collector(collector, why);
      if (socket) {
        private_bootstrap_removed = boot.private_temp;
        plan.set("AGENT_RUN_COLLECTOR_SOCKET", *socket);
        // The quick launch makes its own directory in the same place.
        const std::string dir = socket->substr(0, socket->rfind('/'));
        launch_plan.socket_base = dir.substr(0, dir.rfind('/'));
        launch_plan.collector = collector_options(collector);
        launch_plan.files.push_back(collector.collector_path);
        // The base was chosen by what these are (collector_start.cpp).
        launch_plan.dir_shapes.push_back(launch_plan.socket_base);
        launch_plan.dir_shapes.push_back("/dev/shm");
        if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg && xdg[0] == '/')
          launch_plan.dir_shapes.push_back(xdg);
        // The headers are a secret: never in a file of ours.
        plannable = plannable && collector.otlp_headers.empty();
      } else {
        plannable = false;
        err(fmt::format("agent-run: warning: cannot start the collector: {}; {} runs, and the agent "
                        "records nothing\n",
                        why, program));
      }
    }
    // The collector (or its standby) removes a private bootstrap once the
    // app is gone; without one it stays, and the user is told where.
    if (boot.private_temp) {
      private_bootstrap = boot.path;
      err(fmt::format("agent-run: warning: {}; using a private bootstrap in {} for this run{} (set HOME or "
                      "XDG_CACHE_HOME to reuse one)\n",
                      error, boot.path,
                      private_bootstrap_removed || options.dry_run ? ", removed when it ends"
                                                                   : "; remove it after the run"));
    }
  }

  if (options.dry_run) {
    std::string out;
    print_dry_run(out, found.path, options.argv, plan);
    out += "  configuration (" + (config_file.empty() ? std::string("defaults") : config_file) + "):\n";
    const std::string described = config::describe(loaded.config);
    for (size_t start = 0, end; start < described.size(); start = end + 1) {
      end = described.find('\n', start);
      if (end == std::string::npos) end = described.size();
      out += "    " + described.substr(start, end - start) + "\n";
    }
    write_all(out_fd, out);
    if (!private_bootstrap.empty()) freestanding::remove_private_bootstrap(private_bootstrap.c_str());
    return 0;
  }
  if (plannable) {
    launch_plan.args = *options.launcher_args;
    launch_plan.args.insert(launch_plan.args.end(), options.argv.begin(),
                            options.argv.begin() + static_cast<std::ptrdiff_t>(argv_read));
    launch_plan.program_index = static_cast<int>(options.launcher_args->size()) + 1;
    launch_plan.trace = loaded.config.get_string("log_level") == "debug";
    // Each name's last change is its state; the socket's is the launch's own.
    std::map<std::string, const EnvChange*> last;
    for (const auto& c : plan.changes()) last[c.name] = &c;
    for (const auto& [name, change] : last) {
      if (change->unset || name == "AGENT_RUN_COLLECTOR_SOCKET") launch_plan.unset.push_back(name);
      else launch_plan.set.push_back(name + "=" + change->value);
    }
    std::string ignored;  // no plan: the next launch is a full one again
    write_launch_plan(default_cache_root(), launch_plan, ignored);
  }
  std::string error;
  int code = exec_program(found.path, options.argv, plan.entries(), error);
  err("agent-run: " + error + "\n");
  // Nothing ran from the private bootstrap.
  if (!private_bootstrap.empty()) freestanding::remove_private_bootstrap(private_bootstrap.c_str());
  return code;
}

}  // namespace agent_run::launcher
