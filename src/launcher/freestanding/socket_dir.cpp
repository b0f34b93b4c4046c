#include "launcher/freestanding/socket_dir.hpp"

#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "common/raw_syscall.hpp"
#include "launcher/freestanding/text.hpp"

namespace agent_run::launcher::freestanding {

namespace {

constexpr int kBacklog = 4096;  // capped by net.core.somaxconn: every process of a large app can connect early
constexpr int kNameAttempts = 100;
constexpr char kDirTemplate[] = "/agent-run-XXXXXX";  // named: see launch_plan_format.hpp
constexpr char kSlash[] = "/";
constexpr char kDevNull[] = "/dev/null";

// Six name characters from the kernel's random bytes (or, without
// getrandom, from the clock and the pid: the name only has to be free,
// mkdir refuses an existing one).
void random_name(char* out) {
  static const char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  unsigned char bytes[6];
  if (raw_syscall(SYS_getrandom, long(bytes), sizeof bytes, GRND_NONBLOCK) != long(sizeof bytes)) {
    timespec ts{};
    raw_syscall(SYS_clock_gettime, CLOCK_MONOTONIC, long(&ts));
    unsigned long v = static_cast<unsigned long>(ts.tv_nsec) * 2654435761UL ^
                      static_cast<unsigned long>(raw_syscall(SYS_getpid)) << 20;
    for (unsigned char& b : bytes) b = static_cast<unsigned char>(v >> 7), v = v * 6364136223846793005UL + 1;
  }
  for (int i = 0; i < 6; ++i) out[i] = kChars[bytes[i] % (sizeof kChars - 1)];
}

}  // namespace

bool is_private_dir(const char* path) {
  if (!path || path[0] != '/') return false;
  struct stat st;
  if (raw_syscall(SYS_newfstatat, AT_FDCWD, long(path), long(&st), AT_SYMLINK_NOFOLLOW) != 0) return false;
  return S_ISDIR(st.st_mode) && st.st_uid == static_cast<uid_t>(raw_syscall(SYS_getuid)) &&
         (st.st_mode & 077) == 0;
}

long make_socket_dir(const char* base, char* socket_path) {
  Builder path(socket_path, kSocketPathBytes);
  path.add(base).add(kDirTemplate);
  char* const name = path.end() - 6;
  path.add(kSlash).add(kSocketName);
  if (!path.ok()) return -ENAMETOOLONG;
  char* const slash = name + 6;
  // mkdir asks for 0700 less the umask: with umask 077 that is exactly 0700.
  const long old_umask = raw_syscall(SYS_umask, 077);
  long rc = -EEXIST;
  for (int attempt = 0; attempt < kNameAttempts && rc == -EEXIST; ++attempt) {
    random_name(name);
    *slash = '\0';
    rc = raw_syscall(SYS_mkdirat, AT_FDCWD, long(socket_path), 0700);
    *slash = '/';
  }
  raw_syscall(SYS_umask, old_umask);
  return rc;
}

long listen_on(const char* socket_path) {
  const long fd = raw_syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fd;
  sockaddr_un addr;
  addr.sun_family = AF_UNIX;
  size_t n = 0;
  for (; socket_path[n] && n + 1 < sizeof addr.sun_path; ++n) addr.sun_path[n] = socket_path[n];
  addr.sun_path[n] = '\0';
  const long old_umask = raw_syscall(SYS_umask, 077);
  long rc = raw_syscall(SYS_bind, fd, long(&addr), sizeof addr);
  raw_syscall(SYS_umask, old_umask);
  if (rc == 0) rc = raw_syscall(SYS_listen, fd, kBacklog);
  if (rc != 0) {
    raw_syscall(SYS_close, fd);
    return rc;
  }
  return fd;
}

long CollectorFds::open(const char* socket_path, const char** failed) {
  listen_fd = listen_on(socket_path);
  if (listen_fd < 0) {
    *failed = "listen";
    return listen_fd;
  }
  devnull = raw_syscall(SYS_openat, AT_FDCWD, long(kDevNull), O_RDWR | O_CLOEXEC);
  if (devnull < 0) {
    *failed = "open /dev/null";
    const long rc = devnull;
    close();
    return rc;
  }
  const bool stderr_open = raw_syscall(SYS_fcntl, 2, F_GETFD) >= 0 && devnull != 2 && listen_fd != 2;
  fds[0] = fds[1] = int(devnull);
  fds[2] = stderr_open ? 2 : int(devnull);
  fds[3] = int(listen_fd);
  return 0;
}

void CollectorFds::close() {
  if (listen_fd >= 0) raw_syscall(SYS_close, listen_fd);
  if (devnull >= 0) raw_syscall(SYS_close, devnull);
  listen_fd = devnull = -1;
}

void remove_socket_and_dir(const char* socket_path) {
  if (!socket_path) return;
  raw_syscall(SYS_unlinkat, AT_FDCWD, long(socket_path), 0);
  char dir[kSocketPathBytes];
  size_t slash = 0;
  for (size_t i = 0; socket_path[i] && i < sizeof dir; ++i)
    if (socket_path[i] == '/') slash = i;
  if (slash == 0) return;
  for (size_t i = 0; i < slash; ++i) dir[i] = socket_path[i];
  dir[slash] = '\0';
  raw_syscall(SYS_unlinkat, AT_FDCWD, long(dir), AT_REMOVEDIR);
}

}  // namespace agent_run::launcher::freestanding
