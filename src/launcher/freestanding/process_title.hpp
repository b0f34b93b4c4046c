#pragma once
// What ps shows for a process is its argument strings (/proc/PID/cmdline
// reads them from its memory): a process that keeps the launcher's memory
// (the collector's standby) titles itself by writing over them.
// Freestanding.

namespace agent_run::launcher::freestanding {

// The contiguous run of argument strings the kernel laid out: ours to write.
struct ArgsArea {
  char* begin = nullptr;
  char* end = nullptr;  // one past the last argument's NUL
};

ArgsArea args_area(int argc, char* const* argv);

// Writes `title` over the area (cut to fit) and zeroes the rest.
void set_process_title(const ArgsArea& area, const char* title);

// The launcher's own area, remembered by main() for the standby.
void remember_process_args(int argc, char* const* argv);
ArgsArea remembered_process_args();

}  // namespace agent_run::launcher::freestanding
