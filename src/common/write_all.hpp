#pragma once
// Writes all of a buffer to a descriptor, retrying short writes and EINTR.
// False when the descriptor fails (closed, full disk): the callers' messages
// and logs must never stop what they report on. No allocation, so the
// launcher's collector standby and the agent's log can use it anywhere.
#include <errno.h>
#include <unistd.h>

#include <cstddef>
#include <string_view>

namespace agent_run {

inline bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

inline bool write_all(int fd, std::string_view text) { return write_all(fd, text.data(), text.size()); }

}  // namespace agent_run
