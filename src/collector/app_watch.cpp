#include "collector/app_watch.hpp"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

namespace agent_run::collector {

AppWatch::~AppWatch() {
  if (pidfd_ >= 0) ::close(pidfd_);
}

bool AppWatch::open(int pid) {
  pid_ = pid;
  if (pid <= 0) return true;
  long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) {
    pidfd_ = int(fd);
    ::fcntl(pidfd_, F_SETFD, FD_CLOEXEC);
  } else if (errno == ESRCH) {
    return false;
  }
  return !gone();
}

bool AppWatch::gone() const {
  if (pid_ <= 0) return false;
  if (::kill(pid_, 0) != 0 && errno == ESRCH) return true;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid_);
  FILE* f = std::fopen(path, "re");
  if (!f) return false;
  char buf[512];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  const char* rp = std::strrchr(buf, ')');  // the command name may contain spaces and parentheses
  return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

}  // namespace agent_run::collector
