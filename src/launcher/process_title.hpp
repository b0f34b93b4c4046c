#pragma once
// The command line that ps and /proc/PID/cmdline show for a process that
// runs on in the launcher's memory without an exec (the collector's
// standby): it would show the launcher's own `agent-run python3 app.py`,
// which `pkill -f app.py` would match. The title is written over the
// launcher's argument strings (the kernel reports that area), so it is at
// most as long as they were.
namespace agent_run::launcher {

// main() records where its arguments are.
void remember_process_args(int argc, char** argv);

// Overwrites the recorded area with `title` (cut to fit), the rest with NULs.
// Only in a process that no longer needs argv.
void set_process_title(const char* title);

}  // namespace agent_run::launcher
