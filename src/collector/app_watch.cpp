#include "collector/app_watch.hpp"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

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

// open/read, no stdio: the launcher's standby (collector_standby.cpp) calls
// this too, and it allocates nothing.
bool AppWatch::gone() const {
  if (pid_ <= 0) return false;
  if (::kill(pid_, 0) != 0 && errno == ESRCH) return true;
  char path[32] = "/proc/";
  char digits[16];
  int n = 0;
  for (unsigned v = unsigned(pid_); v != 0 && n < 15; v /= 10) digits[n++] = char('0' + v % 10);
  size_t at = 6;
  while (n > 0) path[at++] = digits[--n];
  std::memcpy(path + at, "/stat", 6);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[512];
  ssize_t got = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (got <= 0) return false;
  buf[got] = 0;
  const char* rp = std::strrchr(buf, ')');  // the command name may contain spaces and parentheses
  return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

}  // namespace agent_run::collector
