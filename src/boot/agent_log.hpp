#pragma once
// The agent log inside the app: stderr (file descriptor 2) or the configured
// log file. Never stdout: a program's stdout is often its data. Lines go
// straight to the file descriptor, so they work when sys.stderr is None or
// replaced by the app, and a failing write is dropped, never raised.
// The Python side (_agent_run/log.py, for the plugins) writes through here,
// so every line of the agent has the same format and destination.
#include <Python.h>

#include <string>
#include <string_view>

namespace agent_run::boot::agent_log {

enum Level : int { kDebug = 10, kInfo = 20, kWarning = 30, kError = 40, kOff = 100 };

// "debug", "info", "warning", "error", "off"; anything else is warning.
int level_from_name(std::string_view name);

// Sets the level and the destination. A log file that cannot be opened
// falls back to stderr with one warning.
void configure(std::string_view level_name, const std::string& path);

bool enabled(int level);
// Whether lines go to stderr (no log file configured, or it could not be opened).
bool to_stderr();

// One line: "<UTC time> agent-run[<pid>] <LEVEL>: <message>".
void write(int level, std::string_view message);
void writef(int level, const char* format, ...) __attribute__((format(printf, 2, 3)));

// Logs `message` at error level with the traceback of the current Python
// error, and clears it. traceback is imported only then.
void write_exception(std::string_view message);

// configure_log(), log_enabled(), log() and the level constants, for the
// Python side.
int add_log_functions(PyObject* module);

}  // namespace agent_run::boot::agent_log
