#include "launcher/collector_start.hpp"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>

#include "collector/handover.hpp"
#include "launcher/detached_spawn.hpp"
#include "launcher/freestanding/collector_standby.hpp"
#include "launcher/freestanding/detached_clone.hpp"
#include "launcher/freestanding/process_title.hpp"
#include "launcher/freestanding/socket_dir.hpp"

extern char** environ;

namespace agent_run::launcher {

namespace fs = freestanding;

namespace {

std::string strerror_of(long negative_errno) { return std::strerror(int(-negative_errno)); }

// /dev/shm when it is what it usually is: a tmpfs that everyone may write
// to, with the sticky bit (so nobody else can rename or remove our
// directory), owned by root. Making the directory and binding the socket
// there took 26 us on the build VM, against 260 us on its ext4 /tmp, and
// every launch does it.
bool usable_shared_tmpfs(const char* path) {
  struct stat st;
  struct statfs fs_info;
  return ::lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == 0 && (st.st_mode & S_ISVTX) &&
         (st.st_mode & 0777) == 0777 && ::statfs(path, &fs_info) == 0 && fs_info.f_type == TMPFS_MAGIC;
}

// The private directory and its socket: under $XDG_RUNTIME_DIR when it is
// private to this user, else in /dev/shm (see above), else in /tmp.
std::optional<std::string> make_socket_dir(std::string& error) {
  std::vector<std::string> bases;
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  if (fs::is_private_dir(xdg)) bases.push_back(xdg);
  if (usable_shared_tmpfs("/dev/shm")) bases.push_back("/dev/shm");
  bases.push_back("/tmp");
  for (const auto& base : bases) {
    char socket_path[fs::kSocketPathBytes];
    const long rc = fs::make_socket_dir(base.c_str(), socket_path);
    if (rc == -ENAMETOOLONG) continue;
    if (rc < 0) {
      error = "cannot create a private directory in " + base + ": " + strerror_of(rc);
      continue;
    }
    return std::string(socket_path);
  }
  if (error.empty()) error = "no usable directory for the collector's socket";
  return std::nullopt;
}

std::string absolute(const std::string& p) {
  if (p.empty() || p[0] == '/') return p;
  char cwd[4096];
  if (!::getcwd(cwd, sizeof cwd)) return p;
  return std::string(cwd) + "/" + p;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

}  // namespace

std::vector<std::string> collector_options(const CollectorLaunch& p) {
  std::vector<std::string> args = {
      p.collector_path,
      "--listen-fd=3",
      "--release-stderr=1",  // startup errors on the app's stderr, then let go of it
      "--remove-socket-dir=1",  // removed at exit when empty (a log with warnings stays)
      "--exporter=" + (p.exporters.empty() ? std::string("none") : join(p.exporters)),
      "--drain-timeout-ms=" + std::to_string(p.drain_timeout_ms),
  };
  // Without --log the collector logs to collector.log in the socket directory
  // and removes it after a clean run.
  if (!p.log_path.empty()) args.push_back("--log=" + absolute(p.log_path));
  if (!p.service_name.empty()) args.push_back("--service-name=" + p.service_name);
  if (!p.store_dir.empty())
    args.push_back("--data-dir=" + absolute(p.store_dir));
  else if (!p.data_dir.empty())
    args.push_back("--data-dir=" + absolute(p.data_dir) + "/traces");
  if (p.store_max_file_bytes) args.push_back("--store-max-file-bytes=" + std::to_string(p.store_max_file_bytes));
  if (p.store_max_files) args.push_back("--store-max-files=" + std::to_string(p.store_max_files));
  if (!p.otlp_endpoint.empty()) args.push_back("--otlp-endpoint=" + p.otlp_endpoint);
  if (!p.otlp_traces_endpoint.empty()) args.push_back("--otlp-traces-endpoint=" + p.otlp_traces_endpoint);
  if (p.otlp_timeout_ms) args.push_back("--otlp-timeout-ms=" + std::to_string(p.otlp_timeout_ms));
  if (!p.otlp_compression.empty()) args.push_back("--otlp-compression=" + p.otlp_compression);
  if (p.otlp_queue_spans) args.push_back("--otlp-queue-spans=" + std::to_string(p.otlp_queue_spans));
  if (p.batch_max_spans) args.push_back("--batch-max-spans=" + std::to_string(p.batch_max_spans));
  if (p.batch_max_delay_ms) args.push_back("--batch-max-delay-ms=" + std::to_string(p.batch_max_delay_ms));
  if (p.otlp_max_retry_ms >= 0) args.push_back("--otlp-max-retry-ms=" + std::to_string(p.otlp_max_retry_ms));
  if (!p.console_path.empty()) args.push_back("--console-path=" + absolute(p.console_path));
  if (!p.private_bootstrap.empty()) args.push_back("--private-bootstrap=" + p.private_bootstrap);
  for (const auto& a : p.extra_args) args.push_back(a);
  return args;
}

// The collector's command line and environment. A standby reads it after
// the launcher has exec'd (from the memory the launcher leaves it): made
// with new and, once the standby runs, never freed.
struct CollectorCommand {
  std::string socket_path;
  std::string private_bootstrap;
  std::vector<std::string> args;
  std::vector<char*> argv;
  std::string headers;
  std::vector<char*> envp;
  fs::StandbyPlan plan;
};

std::optional<std::string> start_collector(const CollectorLaunch& p, std::string& error) {
  error.clear();
  auto made = make_socket_dir(error);
  if (!made) return std::nullopt;
  auto command = std::make_unique<CollectorCommand>();
  command->socket_path = *made;
  const std::string& socket_path = command->socket_path;
  const std::string dir = socket_path.substr(0, socket_path.rfind('/'));
  pid_t app_pid = p.app_pid > 0 ? p.app_pid : ::getpid();

  // Everything the children need is built before the spawn: they share this
  // process's memory and must not allocate.
  std::vector<std::string>& args = command->args;
  args = collector_options(p);
  args.insert(args.begin() + 1,
              {collector::kSocketOption + socket_path, collector::kAppPidOption + std::to_string(app_pid)});
  if (p.standby) {
    // The collector is exec'd later, by the standby: a broken installation is
    // still told at once, by the launcher.
    if (::access(p.collector_path.c_str(), X_OK) != 0) {
      error = "cannot execute " + p.collector_path + ": " + std::strerror(errno) + " (reinstall agent-run)";
      ::rmdir(dir.c_str());
      return std::nullopt;
    }
  }
  std::vector<char*>& argv = command->argv;
  for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  // The launcher's environment (pointers to its own strings, which stay put
  // until its exec: nothing copied) with the OTLP headers in their variable.
  std::string& headers = command->headers;
  std::vector<char*>& envp = command->envp;
  for (char** e = environ; e && *e; ++e)
    if (std::strncmp(*e, collector::kHeadersEntryPrefix, std::strlen(collector::kHeadersEntryPrefix)) != 0) envp.push_back(*e);
  if (!p.otlp_headers.empty()) {
    headers = collector::kHeadersEntryPrefix;
    for (const auto& kv : p.otlp_headers) headers += kv + "\n";
    envp.push_back(&headers[0]);
  }
  envp.push_back(nullptr);
  command->plan.collector_argv = argv.data();
  command->plan.envp = envp.data();
  command->plan.socket_path = socket_path.c_str();
  command->plan.app_pid = app_pid;
  command->private_bootstrap = p.private_bootstrap;
  if (!command->private_bootstrap.empty()) command->plan.private_bootstrap = command->private_bootstrap.c_str();
  command->plan.title = fs::remembered_process_args();

  auto give_up = [&] {
    fs::remove_socket_and_dir(socket_path.c_str());
    return std::nullopt;
  };
  fs::CollectorFds fds;
  const char* failed = nullptr;
  if (const long rc = fds.open(socket_path.c_str(), &failed); rc < 0) {
    error = std::strcmp(failed, "listen") == 0
                ? "cannot listen on " + socket_path + ": " + strerror_of(rc)
                : std::string("cannot open /dev/null: ") + strerror_of(rc);
    return give_up();
  }
  if (p.standby) {
    fs::InPlaceTarget standby;
    standby.fds = fds.fds;
    standby.nfds = 4;
    standby.blocked = collector::stop_signal_bits();
    standby.run = fs::run_collector_standby;
    standby.arg = &command->plan;
    const char* step = nullptr;
    const long pid = fs::spawn_in_place(standby, &step);
    if (pid < 0) {
      error = std::string("cannot start the collector's standby (") + step + "): " + strerror_of(pid);
      fds.close();
      return give_up();
    }
    // The standby reads the command from here on, after this process's exec.
    (void)command.release();
  } else {
    DetachedSpawn spawn;
    spawn.path = argv[0];
    spawn.argv = argv.data();
    spawn.envp = envp.data();
    spawn.fds = fds.fds;
    spawn.nfds = 4;
    // The signals the collector reads from a signalfd stay blocked across
    // execve: a SIGTERM or SIGHUP right after the exec waits for it instead
    // of killing it.
    const sigset_t blocked = collector::stop_signals();
    spawn.blocked = &blocked;
    std::string why;
    if (spawn_detached(spawn, why) < 0) {
      // A collector that cannot be executed is a broken installation.
      error = why.rfind("cannot execute", 0) == 0 ? why + " (reinstall agent-run)" : why;
      fds.close();
      return give_up();
    }
  }
  fds.close();
  return socket_path;
}

}  // namespace agent_run::launcher
