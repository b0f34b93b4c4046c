#pragma once
// Writes all of a buffer to a descriptor, retrying short writes and EINTR.
// False when the descriptor fails (closed, full disk): the callers' messages
// and logs must never stop what they report on. A raw system call, no errno
// and no allocation, so that the code that runs without libc (the
// launcher's quick launch and the collector's standby) uses it too.
#include <errno.h>

#include <cstddef>
#include <string_view>

#include "common/raw_syscall.hpp"

namespace agent_run {

inline bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const long n = raw_syscall(SYS_write, fd, long(data), long(size));
    if (n == -EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

inline bool write_all(int fd, std::string_view text) { return write_all(fd, text.data(), text.size()); }

}  // namespace agent_run
