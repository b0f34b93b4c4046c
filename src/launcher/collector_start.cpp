#include "launcher/collector_start.hpp"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>

#include "collector/handover.hpp"
#include "launcher/collector_standby.hpp"
#include "launcher/detached_spawn.hpp"

extern char** environ;

namespace agent_run::launcher {

namespace {

constexpr const char* kSocketName = "collector.sock";

bool private_dir(const char* path) {
  struct stat st;
  return path && path[0] == '/' && ::lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == ::getuid() &&
         (st.st_mode & 077) == 0;
}

std::optional<std::string> make_socket_dir(std::string& error) {
  std::vector<std::string> bases;
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  if (private_dir(xdg)) bases.push_back(xdg);
  bases.push_back("/tmp");
  for (const auto& base : bases) {
    std::string tmpl = base + "/agent-run-XXXXXX";
    if (tmpl.size() + 1 + std::strlen(kSocketName) >= sizeof(sockaddr_un::sun_path)) continue;
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    // mkdtemp asks for 0700 less the umask: with umask 077 that is exactly
    // 0700 (no chmod after it, whatever the user's umask).
    const mode_t old_umask = ::umask(0077);
    const char* made = ::mkdtemp(buf.data());
    const int err = errno;
    ::umask(old_umask);
    if (made == nullptr) {
      error = "cannot create a private directory in " + base + ": " + std::strerror(err);
      continue;
    }
    return std::string(buf.data());
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

// The listening socket, made here so that the app's processes can connect
// from the start: connections wait in the backlog until the collector
// accepts them, and nobody waits for the collector to come up. Close-on-exec:
// only the collector gets it (as fd 3).
int listen_socket(const std::string& path, std::string& error) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("cannot create the collector's socket: ") + std::strerror(errno);
    return -1;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  mode_t old = ::umask(0077);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::umask(old);
  // The kernel caps the backlog at net.core.somaxconn (4096 by default): every
  // process of a large pre-fork app can connect before the collector accepts.
  if (rc != 0 || ::listen(fd, 4096) != 0) {
    error = "cannot listen on " + path + ": " + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

// The collector's command line and environment. A standby reads it after
// the launcher has exec'd (from the memory the launcher leaves it): made
// with new and, once the standby runs, never freed.
struct CollectorCommand {
  std::string socket_path;
  std::vector<std::string> args;
  std::vector<char*> argv;
  std::string headers;
  std::vector<char*> envp;
  StandbyPlan plan;
};

std::optional<std::string> start_collector(const CollectorLaunch& p, std::string& error) {
  error.clear();
  auto dir = make_socket_dir(error);
  if (!dir) return std::nullopt;
  auto command = std::make_unique<CollectorCommand>();
  command->socket_path = *dir + "/" + kSocketName;
  const std::string& socket_path = command->socket_path;
  std::string log_path = p.log_path.empty() ? *dir + "/collector.log" : absolute(p.log_path);
  pid_t app_pid = p.app_pid > 0 ? p.app_pid : ::getpid();

  // Everything the children need is built before the spawn: they share this
  // process's memory and must not allocate.
  std::vector<std::string>& args = command->args;
  args = {
      p.collector_path,
      "--socket=" + socket_path,
      "--listen-fd=3",
      "--release-stderr=1",  // startup errors on the app's stderr, then let go of it
      "--app-pid=" + std::to_string(app_pid),
      "--remove-socket-dir=1",  // removed at exit when empty (a log with warnings stays)
      "--exporter=" + (p.exporters.empty() ? std::string("none") : join(p.exporters)),
      "--drain-timeout-ms=" + std::to_string(p.drain_timeout_ms),
  };
  // Without --log the collector logs to collector.log in the socket directory
  // and removes it after a clean run.
  if (!p.log_path.empty()) args.push_back("--log=" + log_path);
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
  if (p.otlp_max_retry_ms >= 0) args.push_back("--otlp-max-retry-ms=" + std::to_string(p.otlp_max_retry_ms));
  if (!p.console_path.empty()) args.push_back("--console-path=" + absolute(p.console_path));
  for (const auto& a : p.extra_args) args.push_back(a);
  if (p.standby) {
    // The collector is exec'd later, by the standby: a broken installation is
    // still told at once, by the launcher.
    if (::access(p.collector_path.c_str(), X_OK) != 0) {
      error = "cannot execute " + p.collector_path + ": " + std::strerror(errno) + " (reinstall agent-run)";
      ::rmdir(dir->c_str());
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
    if (std::strncmp(*e, "AGENT_RUN_COLLECTOR_OTLP_HEADERS=", 33) != 0) envp.push_back(*e);
  if (!p.otlp_headers.empty()) {
    headers = "AGENT_RUN_COLLECTOR_OTLP_HEADERS=";
    for (const auto& kv : p.otlp_headers) headers += kv + "\n";
    envp.push_back(&headers[0]);
  }
  envp.push_back(nullptr);
  command->plan.collector_argv = argv.data();
  command->plan.envp = envp.data();
  command->plan.socket_path = socket_path.c_str();
  command->plan.app_pid = app_pid;

  auto give_up = [&](int fd1, int fd2) {
    if (fd1 >= 0) ::close(fd1);
    if (fd2 >= 0) ::close(fd2);
    ::unlink(socket_path.c_str());
    ::rmdir(dir->c_str());
    return std::nullopt;
  };
  int listen_fd = listen_socket(socket_path, error);
  if (listen_fd < 0) return give_up(-1, -1);
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) {
    error = std::string("cannot open /dev/null: ") + std::strerror(errno);
    return give_up(listen_fd, -1);
  }
  // fd 2 is the launcher's stderr (the app's, after exec): the collector's
  // channel for startup errors, which it replaces with /dev/null once it
  // runs. A launcher started with fd 2 closed gives /dev/null.
  const int err_fd = ::fcntl(2, F_GETFD) >= 0 && devnull != 2 && listen_fd != 2 ? 2 : devnull;
  const int fds[] = {devnull, devnull, err_fd, listen_fd};
  DetachedSpawn spawn;
  spawn.path = argv[0];
  spawn.argv = argv.data();
  spawn.envp = envp.data();
  spawn.fds = fds;
  spawn.nfds = 4;
  // The signals the collector (and its standby) read from a signalfd stay
  // blocked across execve: a SIGTERM or SIGHUP right after the exec waits for
  // them instead of killing them.
  const sigset_t blocked = collector::stop_signals();
  spawn.blocked = &blocked;
  if (p.standby) {
    spawn.run_in_place = run_collector_standby;
    spawn.arg = &command->plan;
  }
  std::string why;
  if (spawn_detached(spawn, why) < 0) {
    // A collector that cannot be executed is a broken installation.
    error = why.rfind("cannot execute", 0) == 0 ? why + " (reinstall agent-run)" : why;
    return give_up(listen_fd, devnull);
  }
  // The standby reads the command from here on, after this process's exec.
  if (p.standby) (void)command.release();
  ::close(listen_fd);
  ::close(devnull);
  return socket_path;
}

}  // namespace agent_run::launcher
