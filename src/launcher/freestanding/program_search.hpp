#pragma once
// PROGRAM looked up like a shell does (execvp's rules: a name with a slash
// as it is; else each PATH entry in order, an empty one meaning the current
// directory; the first regular file we may execute). Freestanding: the
// launcher's find_program (program_lookup.cpp) and the quick launch use it.
#include <stddef.h>

namespace agent_run::launcher::freestanding {

// The search path when PATH is not set.
constexpr char kDefaultSearchPath[] = "/usr/local/bin:/usr/bin:/bin";

// True when `path` is a regular file (symlinks followed) we may execute.
bool is_executable_file(const char* path);

// Writes the path to execute into out[cap] and returns true; false when
// none is found (or it does not fit).
bool search_program(const char* name, const char* path_env, char* out, size_t cap);

}  // namespace agent_run::launcher::freestanding
