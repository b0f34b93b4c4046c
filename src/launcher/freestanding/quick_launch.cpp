#include "launcher/freestanding/quick_launch.hpp"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "agent_run/version.hpp"
#include "collector/handover.hpp"
#include "common/raw_syscall.hpp"
#include "launcher/freestanding/collector_standby.hpp"
#include "launcher/freestanding/detached_clone.hpp"
#include "launcher/freestanding/launch_plan_format.hpp"
#include "launcher/freestanding/plan_match.hpp"
#include "launcher/freestanding/program_search.hpp"
#include "launcher/freestanding/socket_dir.hpp"
#include "launcher/freestanding/text.hpp"

namespace agent_run::launcher::freestanding {

namespace {

constexpr long kPathBytes = 4096;
constexpr const char kSocketVariable[] = "AGENT_RUN_COLLECTOR_SOCKET=";
// Named, so that they sit with the rest of the quick launch's data (see
// launch_plan_format.hpp).
constexpr char kPath[] = "PATH";

// Memory from one anonymous mapping, handed out in order: only the pages
// used are faulted in, and what the standby reads stays with it after our
// exec (the mapping is never unmapped once the standby runs).
class Arena {
 public:
  bool map(unsigned long bytes) {
    const long m = raw_syscall(SYS_mmap, 0, long(bytes), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m < 0) return false;
    base_ = reinterpret_cast<char*>(m);
    at_ = base_;
    end_ = base_ + bytes;
    bytes_ = bytes;
    return true;
  }
  void unmap() {
    if (base_) raw_syscall(SYS_munmap, long(base_), long(bytes_));
    base_ = nullptr;
  }
  void* take(unsigned long bytes) {
    bytes = (bytes + 15) & ~15UL;
    if (!base_ || bytes > static_cast<unsigned long>(end_ - at_)) return nullptr;
    void* p = at_;
    at_ += bytes;
    return p;
  }
  // Gives back the end of the last allocation, `p`, past its first `used`
  // bytes: what comes next goes on the same page.
  void trim(void* p, unsigned long used) {
    char* c = static_cast<char*>(p);
    if (c && c + used <= at_) at_ = c + ((used + 15) & ~15UL);
  }
  char* copy(const char* s) {
    const unsigned long n = length(s) + 1;
    char* p = static_cast<char*>(take(n));
    if (p)
      for (unsigned long i = 0; i < n; ++i) p[i] = s[i];
    return p;
  }

 private:
  char* base_ = nullptr;
  char* at_ = nullptr;
  char* end_ = nullptr;
  unsigned long bytes_ = 0;
};

// Reads the plans file into the arena (NUL-terminated): only a regular file
// of ours that nobody else may write, in a directory of ours that nobody
// else may write (a planted plan would decide what runs). 0 when there is
// none to read.
unsigned long read_plans(const char* dir, Arena& arena, char*& out) {
  const long dfd = raw_syscall(SYS_openat, AT_FDCWD, long(dir), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0) return 0;
  const long uid = raw_syscall(SYS_getuid);
  struct stat st;
  unsigned long size = 0;
  long fd = -1;
  if (raw_syscall(SYS_fstat, dfd, long(&st)) == 0 && st.st_uid == static_cast<uid_t>(uid) &&
      (st.st_mode & 022) == 0)
    fd = raw_syscall(SYS_openat, dfd, long(kPlansFile), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  raw_syscall(SYS_close, dfd);
  if (fd < 0) return 0;
  if (raw_syscall(SYS_fstat, fd, long(&st)) == 0 && S_ISREG(st.st_mode) && st.st_uid == static_cast<uid_t>(uid) &&
      (st.st_mode & 077) == 0 && st.st_size > 0 && st.st_size <= kMaxPlansFileBytes) {
    char* buf = static_cast<char*>(arena.take(static_cast<unsigned long>(st.st_size) + 1));
    unsigned long got = 0;
    while (buf && got < static_cast<unsigned long>(st.st_size)) {
      const long n = raw_syscall(SYS_read, fd, long(buf + got), long(st.st_size) - long(got));
      if (n == -EINTR) continue;
      if (n <= 0) break;
      got += static_cast<unsigned long>(n);
    }
    if (buf && got == static_cast<unsigned long>(st.st_size)) {
      buf[got] = '\0';
      out = buf;
      size = got;
    }
  }
  raw_syscall(SYS_close, fd);
  return size;
}

// Whether two NAME=value entries (or bare names) have the same name: most
// pairs differ at their first byte.
bool same_name(const char* a, const char* b) {
  while (*a && *a != '=' && *a == *b) ++a, ++b;
  return (*a == '\0' || *a == '=') && (*b == '\0' || *b == '=');
}

// The program's environment: ours with the plan's changes (and the
// collector's socket), as the launcher's EnvironmentPlan makes it: an entry
// without '=' dropped, only the first of a repeated name kept.
char** program_environment(char* const* envp, const PlanRange& plan, const char* socket_entry, Arena& arena) {
  // The names the plan sets or removes, once (not a walk of the plan per entry).
  unsigned long n = 0, nchanged = 0;
  for (char* const* e = envp; *e; ++e) ++n;
  FieldReader fields(plan.begin, plan.end);
  Field f;
  while (fields.next(f)) nchanged += f.tag == tag::kSet || f.tag == tag::kUnset;
  char** out = static_cast<char**>(arena.take((n + nchanged + 2) * sizeof(char*)));
  const char** changed = static_cast<const char**>(arena.take((nchanged + 1) * sizeof(char*)));
  if (!out || !changed) return nullptr;
  unsigned long c = 0;
  FieldReader names(plan.begin, plan.end);
  while (names.next(f))
    if (f.tag == tag::kSet || f.tag == tag::kUnset) changed[c++] = f.text;
  if (socket_entry) changed[c++] = kSocketVariable;

  unsigned long at = 0;
  for (char* const* e = envp; *e; ++e) {
    if ((*e)[name_length(*e)] != '=') continue;
    bool drop = false;
    for (unsigned long i = 0; i < c && !drop; ++i) drop = same_name(changed[i], *e);
    for (char* const* earlier = envp; earlier != e && !drop; ++earlier) drop = same_name(*earlier, *e);
    if (!drop) out[at++] = *e;
  }
  FieldReader sets(plan.begin, plan.end);
  while (sets.next(f))
    if (f.tag == tag::kSet) out[at++] = const_cast<char*>(f.text);
  if (socket_entry) out[at++] = const_cast<char*>(socket_entry);
  out[at] = nullptr;
  return out;
}

// The standby, as collector_start.cpp starts it: its private directory and
// socket, its command, the spawn. Returns its PID (> 0), or 0 when it could
// not be started (nothing is left behind).
long start_standby(char* const* envp, const PlanRange& plan, const ArgsArea& title, Arena& arena,
                   const char*& socket_path) {
  const char* base = nullptr;
  unsigned long nargs = 0;
  FieldReader fields(plan.begin, plan.end);
  Field f;
  while (fields.next(f)) {
    if (f.tag == tag::kSocketBase) base = f.text;
    nargs += f.tag == tag::kCollectorArg;
  }
  if (!base || nargs == 0) return 0;

  char* path = static_cast<char*>(arena.take(kSocketPathBytes));
  StandbyPlan* standby = static_cast<StandbyPlan*>(arena.take(sizeof(StandbyPlan)));
  char** argv = static_cast<char**>(arena.take((nargs + 3) * sizeof(char*)));
  unsigned long nenv = 0;
  for (char* const* e = envp; *e; ++e) ++nenv;
  char** cenv = static_cast<char**>(arena.take((nenv + 1) * sizeof(char*)));
  char* socket_arg = static_cast<char*>(arena.take(kSocketPathBytes + 16));
  char* pid_arg = static_cast<char*>(arena.take(32));
  if (!path || !standby || !argv || !cenv || !socket_arg || !pid_arg) return 0;
  if (make_socket_dir(base, path) < 0) return 0;

  // The collector's argv: its path, --socket=, --app-pid=, the plan's options.
  const long pid = raw_syscall(SYS_getpid);
  Builder(socket_arg, kSocketPathBytes + 16).add(collector::kSocketOption).add(path);
  Builder(pid_arg, 32).add(collector::kAppPidOption).add_decimal(static_cast<unsigned long>(pid));
  unsigned long at = 0;
  FieldReader args(plan.begin, plan.end);
  while (args.next(f)) {
    if (f.tag != tag::kCollectorArg) continue;
    argv[at++] = const_cast<char*>(f.text);
    if (at == 1) {
      argv[at++] = socket_arg;
      argv[at++] = pid_arg;
    }
  }
  argv[at] = nullptr;
  // Our environment (the strings stay the standby's after our exec), less
  // any headers variable: a plan is never made when there are headers.
  at = 0;
  for (char* const* e = envp; *e; ++e)
    if (!starts_with(*e, collector::kHeadersEntryPrefix)) cenv[at++] = *e;
  cenv[at] = nullptr;

  standby->collector_argv = argv;
  standby->envp = cenv;
  standby->socket_path = path;
  standby->app_pid = int(pid);
  standby->private_bootstrap = nullptr;  // a launch with one is never planned
  standby->title = title;

  CollectorFds fds;
  const char* failed = nullptr;
  long started = 0;
  if (fds.open(path, &failed) == 0) {
    InPlaceTarget target;
    target.fds = fds.fds;
    target.nfds = 4;
    target.blocked = collector::stop_signal_bits();
    target.run = run_collector_standby;
    target.arg = standby;
    const char* step = nullptr;
    started = spawn_in_place(target, &step);
  }
  fds.close();
  if (started <= 0) {
    remove_socket_and_dir(path);
    return 0;
  }
  socket_path = path;
  return started;
}

void quick_launch(long* sp) {
  const int argc = int(sp[0]);
  char* const* argv = reinterpret_cast<char* const*>(sp + 1);
  char* const* envp = argv + argc + 1;
  if (argc < 2) return;

  // The arena: the plans file, the environment, the standby's command.
  unsigned long nenv = 0, arg_bytes = 0;
  for (char* const* e = envp; *e; ++e) ++nenv;
  for (int i = 0; i < argc; ++i) arg_bytes += length(argv[i]) + 16 + sizeof(char*);
  Arena arena;
  if (!arena.map(kMaxPlansFileBytes + 4 * kPathBytes + arg_bytes + (2 * nenv + 64) * sizeof(char*) + 16 * 1024))
    return;

  // Packed, so that a launch touches as few pages as it can (each a page
  // fault, ~25 us on the build VM).
  char* root = static_cast<char*>(arena.take(kPathBytes));
  Builder root_text(root, kPathBytes);
  const bool have_root = cache_root(envp, root_text);
  arena.trim(root, unsigned(root_text.end() - root) + 1);
  char* file = nullptr;
  unsigned long size = 0;
  if (have_root) size = read_plans(root, arena, file);
  char* cwd = static_cast<char*>(arena.take(kPathBytes));
  const long cwd_bytes = size > 0 ? raw_syscall(SYS_getcwd, long(cwd), kPathBytes) : -1;
  arena.trim(cwd, cwd_bytes > 0 ? unsigned(cwd_bytes) : 0);
  LaunchInputs in;
  if (cwd_bytes > 0) {
    in.argc = argc;
    in.argv = argv;
    in.version = kVersionText;
    in.uid = static_cast<unsigned long>(raw_syscall(SYS_getuid));
    in.cwd = cwd;
    env_digest(envp, in.env_digest);
  }
  PlanRange plan;
  if (size == 0 || !in.cwd || !find_plan(file, size, in, plan)) {
    arena.unmap();
    return;
  }
  const char* path_env = env_value(envp, kPath);
  char* program = static_cast<char*>(arena.take(kPathBytes));
  if (!search_program(argv[plan.program_index], path_env ? path_env : kDefaultSearchPath, program, kPathBytes)) {
    arena.unmap();
    return;
  }
  arena.trim(program, length(program) + 1);

  bool collector = false, trace = false;
  FieldReader fields(plan.begin, plan.end);
  Field f;
  while (fields.next(f)) {
    collector |= f.tag == tag::kCollectorArg;
    trace |= f.tag == tag::kTrace;
  }
  // The program's arguments, copied: the standby titles itself over the
  // strings the kernel gave us, as soon as it runs.
  char** program_argv = static_cast<char**>(arena.take(sizeof(char*) * unsigned(argc - plan.program_index + 1)));
  if (!program_argv) {
    arena.unmap();
    return;
  }
  for (int i = plan.program_index; i < argc; ++i) {
    program_argv[i - plan.program_index] = arena.copy(argv[i]);
    if (!program_argv[i - plan.program_index]) {
      arena.unmap();
      return;
    }
  }
  program_argv[argc - plan.program_index] = nullptr;

  long standby = 0;
  char* socket_entry = nullptr;
  if (collector) {
    const char* socket_path = nullptr;
    standby = start_standby(envp, plan, args_area(argc, argv), arena, socket_path);
    if (standby <= 0) {
      arena.unmap();
      return;  // the full launcher tries again, and says what fails
    }
    socket_entry = static_cast<char*>(arena.take(sizeof kSocketVariable + kSocketPathBytes));
    if (socket_entry) Builder(socket_entry, sizeof kSocketVariable + kSocketPathBytes).add(kSocketVariable).add(socket_path);
  }
  char** env = (!collector || socket_entry) ? program_environment(envp, plan, socket_entry, arena) : nullptr;
  if (env) {
    if (trace) {
      put_stderr("agent-run: debug: launching from the plan in ");
      put_stderr(root);
      put_stderr("/");
      put_stderr(kPlansFile);
      put_stderr(" (an earlier launch with the same inputs)\n");
    }
    raw_syscall(SYS_execve, long(program), long(program_argv), long(env));
  }
  // The exec failed (the program changed under us): the standby goes (it
  // removes its socket on SIGTERM), and the full launcher says what fails.
  if (standby > 0) raw_syscall(SYS_kill, standby, SIGTERM);
}

}  // namespace

}  // namespace agent_run::launcher::freestanding

extern "C" void agent_run_quick_launch(long* sp) { agent_run::launcher::freestanding::quick_launch(sp); }
