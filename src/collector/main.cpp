// agent-run's collector: one process per launched application. Receives the
// spans of every process of the app on a UNIX socket, batches them and hands
// them to the configured exporters; exits (after draining) when the app is
// gone or on SIGTERM. See docs/collector.md.
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "agent_run/version.hpp"
#include "collector/app_watch.hpp"
#include "common/write_all.hpp"
#include "collector/exporter.hpp"
#include "collector/log.hpp"
#include "collector/options.hpp"
#include "collector/server.hpp"
#include "collector/span_store.hpp"
#include "collector/handover.hpp"
#include "launcher/freestanding/private_bootstrap.hpp"

using namespace agent_run::collector;

namespace {

std::string dirname_of(const std::string& p) {
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : p.substr(0, slash));
}

void signal_ready(int fd) {
  if (fd < 0) return;
  char c = 'R';
  while (::write(fd, &c, 1) < 0 && errno == EINTR) {
  }
  ::close(fd);
}

nlohmann::json stats_json(const std::string& reason, const Server& server,
                          const std::vector<std::unique_ptr<Exporter>>& exporters, uint64_t drain_ms) {
  const ServerStats& s = server.stats();
  nlohmann::json j;
  j["reason"] = reason;
  j["drain_ms"] = drain_ms;
  j["connections"] = s.connections_accepted;
  j["connections_refused_uid"] = s.connections_refused_uid;
  j["connections_refused_limit"] = s.connections_refused_limit;
  j["messages"] = s.messages;
  j["bytes"] = s.bytes_received;
  j["spans_received"] = s.spans_received;
  nlohmann::json rej = nlohmann::json::object();
  for (int e = 1; e < 8; ++e)
    if (s.rejected[e]) rej[agent_run::wire::to_string(agent_run::wire::DecodeError(e))] = s.rejected[e];
  if (s.rejected_protocol) rej["protocol"] = s.rejected_protocol;
  j["rejected"] = rej;
  j["rejected_total"] = s.rejected_total();
  j["truncated_at_close"] = s.truncated_at_close;
  j["sanitized_strings"] = s.sanitized_strings;
  uint64_t full = 0, nocoll = 0, large = 0, submitted = 0;
  for (const auto& kv : s.app) {
    full += kv.second.dropped_buffer_full;
    nocoll += kv.second.dropped_no_collector;
    large += kv.second.dropped_too_large;
    submitted += kv.second.submitted;
  }
  j["app_processes_reporting"] = s.app.size();
  j["app_submitted"] = submitted;
  j["app_dropped_buffer_full"] = full;
  j["app_dropped_no_collector"] = nocoll;
  j["app_dropped_too_large"] = large;
  nlohmann::json ex = nlohmann::json::object();
  for (const auto& e : exporters) {
    ExporterStats st = e->stats();
    ex[e->name()] = {{"exported", st.exported_spans}, {"dropped", st.dropped_spans},
                     {"requests", st.requests}, {"retries", st.retries}};
  }
  j["exporters"] = ex;
  return j;
}

// One agentRunStats line per app process: its sink's counters (STATS) and
// its plugins' health (HEALTH), whichever it sent.
std::vector<std::string> app_stats_lines(const ServerStats& s, const std::string& service) {
  std::map<uint32_t, nlohmann::json> by_pid;
  for (const auto& [pid, a] : s.app) {
    by_pid[pid] = {{"service", service}, {"pid", pid}, {"submitted", a.submitted}, {"sent", a.sent},
                   {"dropped_spans", a.dropped_buffer_full + a.dropped_no_collector + a.dropped_too_large},
                   {"dropped_buffer_full", a.dropped_buffer_full},
                   {"dropped_no_collector", a.dropped_no_collector},
                   {"dropped_too_large", a.dropped_too_large}};
  }
  for (const auto& [pid, h] : s.health) {
    nlohmann::json& j = by_pid[pid];
    j["service"] = service;
    j["pid"] = pid;
    nlohmann::json plugins = nlohmann::json::array();
    for (const auto& p : h.plugins)
      plugins.push_back({{"name", p.name}, {"state", p.state}, {"calls", p.calls}, {"errors", p.errors},
                         {"last_error", p.last_error}});
    j["plugins"] = std::move(plugins);
  }
  std::vector<std::string> lines;
  for (auto& [pid, j] : by_pid) lines.push_back(nlohmann::json{{"agentRunStats", j}}.dump());
  return lines;
}

// The socket directory is private to this run: remove it. The default log
// inside it (no --log) stays when it has something to say (a warning or an
// error) or carries the console exporter's output.
//
// A private bootstrap (the launch had no usable cache directory) goes too,
// once the app is gone: not when the collector stops while the app runs.
void remove_private_files(const Options& o, const std::string& log_path, Log& log,
                          bool console_in_log) {
  AppWatch app;  // open() is false once the app is gone (a zombie counts as gone)
  if (!o.private_bootstrap.empty() && o.app_pid > 0 && !app.open(o.app_pid)) {
    const long rc = agent_run::launcher::freestanding::remove_private_bootstrap(o.private_bootstrap.c_str());
    if (rc < 0 && rc != -ENOENT)  // ENOENT: the standby or the launcher removed it
      log.warn("cannot remove the private bootstrap " + o.private_bootstrap + ": " + std::strerror(int(-rc)) +
               "; remove it by hand");
  }
  if (o.log_path.empty() && log.problems() == 0 && !console_in_log) ::unlink(log_path.c_str());
  if (o.remove_socket_dir || o.log_path.empty()) ::rmdir(dirname_of(o.socket_path).c_str());
}

// Writes one line to stderr: the app's while the collector starts (with
// --release-stderr), so a line here is what the user sees of it.
void tell_user(const std::string& line) { agent_run::write_all(2, "agent-run: warning: " + line + "\n"); }

// The collector cannot run: the user hears it once, on stderr; the socket
// (the launcher's) goes, so that the app's processes find no collector and
// count what they record as dropped, without a warning of their own. With
// --release-stderr and the default log, that line says it all: nothing is
// left on disk.
[[noreturn]] void fail_startup(const Options& o, const std::string& log_path, const std::string& why) {
  Log& log = Log::get();
  log.error(why + "; the collector does not run (the app runs without tracing)");
  if (o.listen_fd >= 0) ::unlink(o.socket_path.c_str());
  const bool keep_log = !(o.release_stderr && o.log_path.empty());
  if (!keep_log) ::unlink(log_path.c_str());
  remove_private_files(o, log_path, log, false);
  tell_user("the collector cannot start: " + why + "; the app runs, and the agent records nothing" +
            (keep_log ? " (collector log: " + log_path + ")" : std::string()));
  ::_exit(1);
}

// Bad options (a launcher and a collector of different builds): the
// launcher's socket and directory are found on the command line itself.
int fail_options(int argc, char** argv, const std::string& error) {
  bool launched = false;
  std::string socket;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--release-stderr=1") launched = true;
    if (a.rfind("--socket=", 0) == 0) socket = a.substr(9);
  }
  if (!launched) {
    fprintf(stderr, "agent-run collector: %s\n%s", error.c_str(), usage().c_str());
    return 2;
  }
  if (!socket.empty()) {
    ::unlink(socket.c_str());
    ::rmdir(dirname_of(socket).c_str());
  }
  tell_user("the collector cannot start: " + error +
            " (the launcher and the collector are not of the same build: reinstall agent-run); "
            "the app runs, and the agent records nothing");
  return 2;
}

// Once the collector runs, it keeps nothing of the app's: a reader of the
// app's stderr (subprocess.run(capture_output=True)) gets EOF when the app
// exits, not after the collector's drain.
void release_stderr() {
  int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    ::close(2);
    return;
  }
  ::dup2(fd, 2);
  ::close(fd);
}

// The OTLP exporter lives in otlp_exporter.so next to this executable, loaded
// only when configured: libcurl and libprotobuf (38 shared libraries in all)
// cost 10 ms of CPU at every collector start, which ran beside every app's
// own start. The module resolves the collector's own symbols (Log, ...) from
// this executable (linked with ENABLE_EXPORTS).
std::unique_ptr<Exporter> load_otlp_exporter(const Options& o, std::string& error) {
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    error = "cannot read /proc/self/exe to find otlp_exporter.so";
    return nullptr;
  }
  self[n] = '\0';
  const std::string path = dirname_of(self) + "/otlp_exporter.so";
  void* module = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (module == nullptr) {
    const char* why = ::dlerror();
    error = "cannot load " + path + " (" + (why ? why : "unknown error") + "); reinstall agent-run";
    return nullptr;
  }
  using Factory = Exporter* (*)(const Options&, std::string&);
  auto make = reinterpret_cast<Factory>(::dlsym(module, "agent_run_collector_make_otlp_exporter"));
  if (make == nullptr) {
    error = path + " has no agent_run_collector_make_otlp_exporter: it is not this agent-run's";
    return nullptr;
  }
  return std::unique_ptr<Exporter>(make(o, error));  // the module stays loaded for the process
}

}  // namespace

int main(int argc, char** argv) {
  std::string error;
  if (argc == 2 && std::strcmp(argv[1], "--help") == 0) {
    fputs(usage().c_str(), stdout);
    return 0;
  }
  auto parsed = parse_options(argc, argv, error);
  if (!parsed) return fail_options(argc, argv, error);
  const Options& o = *parsed;
  std::string log_path = o.log_path.empty() ? dirname_of(o.socket_path) + "/collector.log" : o.log_path;
  Log& log = Log::get();
  std::vector<std::string> warnings;  // startup problems the collector runs with: told once, on stderr
  if (!log.open(log_path))
    warnings.push_back("the collector cannot open its log " + log_path + ": " + std::strerror(errno) +
                       "; it runs without a log");

  // Signals: handled through a signalfd in the server loop; a dead peer never kills us.
  const sigset_t mask = stop_signals();
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);

  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max && rl.rlim_cur < 8192) {
    rl.rlim_cur = rl.rlim_max < 8192 ? rl.rlim_max : 8192;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  AppWatch watch;
  if (!watch.open(o.app_pid) && !connection_pending(o.listen_fd)) {
    // A short program can end before its collector is up (the launcher does
    // not wait for it): nothing to collect, nothing to leave behind. With a
    // connection pending (the launcher's standby started us for it) the app's
    // spans are in the backlog: run, and drain at once (the watch says gone).
    log.info("the app (pid " + std::to_string(o.app_pid) + ") is already gone; not starting");
    if (o.listen_fd >= 0) ::unlink(o.socket_path.c_str());
    remove_private_files(o, log_path, log, false);
    return 0;
  }

  std::vector<std::unique_ptr<Exporter>> exporters;
  std::vector<std::string> failed;  // "exporter X cannot start: why"
  bool wanted_any = false;
  for (const auto& name : o.exporters) {
    if (name == "none") continue;
    wanted_any = true;
    std::unique_ptr<Exporter> e;
    if (name == "store")
      e = make_local_store_exporter(o, error);
    else if (name == "otlp")
      e = load_otlp_exporter(o, error);
    else if (name == "console")
      e = make_console_exporter(o, error);
    if (e) {
      exporters.push_back(std::move(e));
    } else {
      failed.push_back("exporter " + name + " cannot start: " + error);
      log.error(failed.back());
    }
  }
  auto joined = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : "; ") + s;
    return out;
  };
  if (wanted_any && exporters.empty()) fail_startup(o, log_path, joined(failed));
  if (!failed.empty()) warnings.push_back(joined(failed) + "; the other exporters run (collector log: " + log_path + ")");

  SpanStore store(&exporters, o.batch_max_spans, o.batch_max_delay_ms);
  Server server(o, &store);
  if (!server.listen(error)) fail_startup(o, log_path, "cannot listen: " + error);
  std::string names;
  for (const auto& e : exporters) names += std::string(names.empty() ? "" : ",") + e->name();
  log.info(std::string("agent-run ") + agent_run::kVersion + " collector listening on " + o.socket_path +
           " for app pid " + std::to_string(o.app_pid) + ", exporters: " + (names.empty() ? "none" : names));
  signal_ready(o.ready_fd);
  for (const auto& w : warnings) tell_user(w);
  if (o.release_stderr) release_stderr();

  uint64_t drain_started = 0;
  std::string reason = server.run(watch, drain_started);
  uint64_t deadline = drain_started + o.drain_timeout_ms;
  for (const std::string& line : app_stats_lines(server.stats(), o.service_name))
    for (auto& e : exporters) e->export_app_stats(line);
  for (auto& e : exporters) e->shutdown(deadline);
  server.unlink_socket();
  uint64_t drain_ms = monotonic_ms() - drain_started;
  log.info("stats " + stats_json(reason, server, exporters, drain_ms).dump());
  bool console_in_log = false;
  for (const auto& e : exporters)
    if (std::string(e->name()) == "console" && o.console_path.empty()) console_in_log = true;
  remove_private_files(o, log_path, log, console_in_log);
  fflush(nullptr);
  // Exporter threads may still be stuck in the network past the deadline: do
  // not run destructors that would wait for them.
  _exit(0);
}
