#include "launcher/freestanding/private_bootstrap.hpp"

#include <errno.h>
#include <dirent.h>  // DT_DIR only: no libc call
#include <fcntl.h>
#include <sys/stat.h>

#include "common/raw_syscall.hpp"
#include "launcher/freestanding/text.hpp"

namespace agent_run::launcher::freestanding {

namespace {

// The bootstrap is three levels deep (with Python's __pycache__): a deeper
// tree is not ours, and the standby's 64 KiB stack bounds the recursion.
constexpr int kMaxDepth = 8;

struct LinuxDirent64 {
  unsigned long long d_ino;
  long long d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[1];
};

bool is_dot(const char* n) { return n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0)); }

// Empties the open directory `dir` (closed by the caller).
long empty_dir(long dir, int depth) {
  if (depth > kMaxDepth) return -ELOOP;
  alignas(8) char buf[1024];
  long result = 0;
  for (;;) {
    const long n = raw_syscall(SYS_getdents64, dir, long(buf), sizeof buf);
    if (n <= 0) return n < 0 ? n : result;
    for (long off = 0; off < n;) {
      const auto* e = reinterpret_cast<const LinuxDirent64*>(buf + off);
      off += e->d_reclen;
      if (is_dot(e->d_name)) continue;
      long rc = e->d_type == DT_DIR ? -EISDIR : raw_syscall(SYS_unlinkat, dir, long(e->d_name), 0);
      if (rc == -EISDIR) {  // a directory (d_type may be DT_UNKNOWN): empty it first
        const long sub = raw_syscall(SYS_openat, dir, long(e->d_name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        rc = sub < 0 ? sub : empty_dir(sub, depth + 1);
        if (sub >= 0) raw_syscall(SYS_close, sub);
        if (rc == 0) rc = raw_syscall(SYS_unlinkat, dir, long(e->d_name), AT_REMOVEDIR);
      }
      if (rc < 0 && rc != -ENOENT) result = rc;  // keep going: remove what can be
    }
  }
}

const char* last_component(const char* path) {
  const char* last = path;
  for (const char* p = path; *p; ++p)
    if (*p == '/' && p[1] != 0) last = p + 1;
  return last;
}

}  // namespace

long remove_private_bootstrap(const char* path) {
  if (path == nullptr || path[0] != '/' || !starts_with(last_component(path), kPrivateBootstrapPrefix))
    return -EPERM;
  const long dir = raw_syscall(SYS_openat, AT_FDCWD, long(path), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0) return dir;
  struct stat st;
  long rc = raw_syscall(SYS_fstat, dir, long(&st));
  if (rc == 0 && st.st_uid != static_cast<unsigned>(raw_syscall(SYS_getuid))) rc = -EPERM;
  if (rc == 0) rc = empty_dir(dir, 0);
  raw_syscall(SYS_close, dir);
  if (rc == 0) rc = raw_syscall(SYS_unlinkat, AT_FDCWD, long(path), AT_REMOVEDIR);
  return rc;
}

}  // namespace agent_run::launcher::freestanding
