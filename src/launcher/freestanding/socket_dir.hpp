#pragma once
// The collector's private directory and listening socket, made by the
// launcher (collector_start.cpp) or by the quick launch before they exec the
// program: the app's processes can connect from the start, and their
// connections wait in the backlog until the collector accepts them.
// Freestanding (raw system calls, no allocation).
#include <stddef.h>
#include <sys/un.h>

namespace agent_run::launcher::freestanding {

constexpr const char kSocketName[] = "collector.sock";
// <base>/agent-run-XXXXXX/collector.sock must fit in sun_path.
constexpr size_t kSocketPathBytes = sizeof(sockaddr_un::sun_path);

// Whether `path` is a directory owned by this user that nobody else may
// enter (lstat: a symlink is not): $XDG_RUNTIME_DIR qualifies as a base.
bool is_private_dir(const char* path);

// Makes <base>/agent-run-XXXXXX with mode 0700 whatever the umask (six
// random letters and digits, retried while the name exists) and writes
// <dir>/collector.sock into socket_path[kSocketPathBytes]. Returns 0, or
// -errno (-ENAMETOOLONG: the path does not fit in a socket address).
long make_socket_dir(const char* base, char* socket_path);

// A listening UNIX socket at `socket_path` (close-on-exec, made under umask
// 077): the fd, or -errno.
long listen_on(const char* socket_path);

// The descriptors the collector (or its standby) gets: 0 and 1 on
// /dev/null, 2 the caller's stderr (the app's after the caller's exec: the
// collector's channel for startup errors; /dev/null when it is closed), 3
// the listening socket at `socket_path`. The caller closes its own copies
// (all close-on-exec) with close() once the child has its own.
struct CollectorFds {
  int fds[4] = {-1, -1, -1, -1};
  long listen_fd = -1;
  long devnull = -1;
  // 0, or -errno with `failed` naming the step: "listen" or "open /dev/null".
  long open(const char* socket_path, const char** failed);
  void close();
};

// Removes the socket and its directory (an empty directory only: a
// collector's log with warnings stays).
void remove_socket_and_dir(const char* socket_path);

}  // namespace agent_run::launcher::freestanding
