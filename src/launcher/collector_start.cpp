#include "launcher/collector_start.hpp"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

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
    if (::mkdtemp(buf.data()) == nullptr) {
      error = "cannot create a private directory in " + base + ": " + std::strerror(errno);
      continue;
    }
    std::string dir(buf.data());
    ::chmod(dir.c_str(), 0700);
    return dir;
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

uint64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

void close_from(int first) {
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, first, ~0U, 0) == 0) return;
#endif
  long max = ::sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > 65536) max = 65536;
  for (int fd = first; fd < max; ++fd) ::close(fd);
}

}  // namespace

std::optional<std::string> start_collector(const CollectorLaunch& p, std::string& error) {
  error.clear();
  if (p.collector_path.empty() || ::access(p.collector_path.c_str(), X_OK) != 0) {
    error = "collector executable not found or not executable: " + p.collector_path;
    return std::nullopt;
  }
  auto dir = make_socket_dir(error);
  if (!dir) return std::nullopt;
  std::string socket_path = *dir + "/" + kSocketName;
  std::string log_path = p.log_path.empty() ? *dir + "/collector.log" : absolute(p.log_path);
  pid_t app_pid = p.app_pid > 0 ? p.app_pid : ::getpid();

  // Everything the children need is built before fork.
  std::vector<std::string> args = {
      p.collector_path,
      "--socket=" + socket_path,
      "--app-pid=" + std::to_string(app_pid),
      "--remove-socket-dir=1",  // removed at exit when empty (a log with warnings stays)
      "--exporter=" + (p.exporters.empty() ? std::string("none") : join(p.exporters)),
      "--drain-timeout-ms=" + std::to_string(p.drain_timeout_ms),
  };
  const bool wait_ready = p.ready_timeout_ms > 0;
  if (wait_ready) args.push_back("--ready-fd=3");
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
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  std::vector<std::string> env_store;
  for (char** e = environ; e && *e; ++e) {
    if (std::strncmp(*e, "AGENT_RUN_COLLECTOR_OTLP_HEADERS=", 33) == 0) continue;
    env_store.emplace_back(*e);
  }
  if (!p.otlp_headers.empty()) {
    std::string h;
    for (const auto& kv : p.otlp_headers) h += kv + "\n";
    env_store.push_back("AGENT_RUN_COLLECTOR_OTLP_HEADERS=" + h);
  }
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  int ready[2] = {-1, -1};
  if (devnull < 0 || (wait_ready && ::pipe2(ready, O_CLOEXEC) != 0)) {
    error = std::string("cannot create the collector's readiness pipe: ") + std::strerror(errno);
    if (devnull >= 0) ::close(devnull);
    ::rmdir(dir->c_str());
    return std::nullopt;
  }

  pid_t mid = ::fork();
  if (mid < 0) {
    error = std::string("fork: ") + std::strerror(errno);
    ::close(ready[0]);
    ::close(ready[1]);
    ::close(devnull);
    ::rmdir(dir->c_str());
    return std::nullopt;
  }
  if (mid == 0) {
    // Intermediate: a new session, then the collector in it; exit at once so
    // the collector is reparented to init (or the nearest subreaper), never
    // a child of the app.
    ::setsid();
    pid_t grand = ::fork();
    if (grand != 0) ::_exit(grand < 0 ? 1 : 0);
    ::dup2(devnull, 0);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    if (!wait_ready) {
      close_from(3);
    } else {
      if (ready[1] == 3) {
        ::fcntl(3, F_SETFD, 0);
      } else {
        ::dup2(ready[1], 3);  // dup2 clears close-on-exec
      }
      close_from(4);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s = 1; s < 32; ++s)
      if (s != SIGKILL && s != SIGSTOP) ::signal(s, SIG_DFL);
    if (::chdir("/") != 0) {
    }
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  if (wait_ready) ::close(ready[1]);
  ::close(devnull);
  int status = 0;
  while (::waitpid(mid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!wait_ready) return socket_path;

  // Wait for the one byte the collector writes once it listens (EOF: it exited).
  bool ok = false;
  bool eof = false;
  uint64_t deadline = now_ms() + p.ready_timeout_ms;
  for (;;) {
    uint64_t now = now_ms();
    if (now >= deadline) break;
    pollfd pfd{ready[0], POLLIN, 0};
    int r = ::poll(&pfd, 1, int(deadline - now));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    char c;
    ssize_t n = ::read(ready[0], &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n == 1 && c == 'R') ok = true;
    if (n == 0) eof = true;
    break;
  }
  ::close(ready[0]);
  if (ok) return socket_path;
  if (eof)
    error = "the collector exited before listening (see " + log_path + ")";
  else
    error = "the collector did not start within " + std::to_string(p.ready_timeout_ms) + " ms (see " + log_path + ")";
  // A collector that comes up late finds no app connecting and exits with the app.
  ::rmdir(dir->c_str());  // succeeds only if nothing (no log) was written there
  return std::nullopt;
}

}  // namespace agent_run::launcher
