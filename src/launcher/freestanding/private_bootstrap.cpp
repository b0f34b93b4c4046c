#include "launcher/freestanding/private_bootstrap.hpp"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "common/raw_syscall.hpp"
#include "launcher/freestanding/text.hpp"
#include "launcher/freestanding/tree_removal.hpp"

namespace agent_run::launcher::freestanding {

namespace {

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
  if (rc == 0) rc = remove_contents(dir);
  raw_syscall(SYS_close, dir);
  if (rc == 0) rc = raw_syscall(SYS_unlinkat, AT_FDCWD, long(path), AT_REMOVEDIR);
  return rc;
}

}  // namespace agent_run::launcher::freestanding
