#include "launcher/freestanding/process_title.hpp"

#include "launcher/freestanding/text.hpp"

namespace agent_run::launcher::freestanding {

namespace {
ArgsArea g_launcher_args;
}  // namespace

ArgsArea args_area(int argc, char* const* argv) {
  ArgsArea area;
  if (argc <= 0 || !argv || !argv[0]) return area;
  // The kernel lays the strings out one after the other: only a contiguous
  // run is ours to write.
  char* end = argv[0] + length(argv[0]) + 1;
  for (int i = 1; i < argc && argv[i] == end; ++i) end += length(argv[i]) + 1;
  area.begin = argv[0];
  area.end = end;
  return area;
}

void set_process_title(const ArgsArea& area, const char* title) {
  if (!area.begin) return;
  char* const last = area.end - 1;  // stays NUL
  char* at = area.begin;
  while (*title && at < last) *at++ = *title++;
  while (at < area.end) *at++ = '\0';
}

void remember_process_args(int argc, char* const* argv) { g_launcher_args = args_area(argc, argv); }

ArgsArea remembered_process_args() { return g_launcher_args; }

}  // namespace agent_run::launcher::freestanding
