#include "launcher/process_title.hpp"

#include <algorithm>
#include <cstring>

namespace agent_run::launcher {

namespace {
char* g_args_begin = nullptr;
char* g_args_end = nullptr;  // one past the last argument's NUL
}  // namespace

void remember_process_args(int argc, char** argv) {
  if (argc <= 0 || !argv || !argv[0]) return;
  // The kernel lays the strings out one after the other: only a contiguous
  // run is ours to write.
  char* end = argv[0] + std::strlen(argv[0]) + 1;
  for (int i = 1; i < argc && argv[i] == end; ++i) end += std::strlen(argv[i]) + 1;
  g_args_begin = argv[0];
  g_args_end = end;
}

void set_process_title(const char* title) {
  if (!g_args_begin) return;
  const size_t room = size_t(g_args_end - g_args_begin) - 1;  // the last byte stays NUL
  const size_t n = std::min(std::strlen(title), room);
  std::memcpy(g_args_begin, title, n);
  std::memset(g_args_begin + n, 0, size_t(g_args_end - g_args_begin) - n);
}

}  // namespace agent_run::launcher
