#include "launcher/freestanding/tree_removal.hpp"

#include <errno.h>
#include <dirent.h>  // DT_DIR only: no libc call
#include <fcntl.h>

#include "common/raw_syscall.hpp"

namespace agent_run::launcher::freestanding {

namespace {

struct LinuxDirent64 {
  unsigned long long d_ino;
  long long d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[1];
};

bool is_dot(const char* n) { return n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0)); }

long empty_dir(long dir, int depth) {
  if (depth > kMaxTreeDepth) return -ELOOP;
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

}  // namespace

long remove_contents(long dir) { return empty_dir(dir, 0); }

long remove_tree(const char* path) {
  const long dir = raw_syscall(SYS_openat, AT_FDCWD, long(path), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0) return dir;
  long rc = remove_contents(dir);
  raw_syscall(SYS_close, dir);
  const long removed = raw_syscall(SYS_unlinkat, AT_FDCWD, long(path), AT_REMOVEDIR);
  return rc < 0 ? rc : removed;
}

}  // namespace agent_run::launcher::freestanding
