#include "launcher/freestanding/program_search.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/raw_syscall.hpp"
#include "launcher/freestanding/text.hpp"

namespace agent_run::launcher::freestanding {

namespace {
constexpr char kDot[] = ".";  // named: see launch_plan_format.hpp
constexpr char kSlash[] = "/";
}  // namespace

bool is_executable_file(const char* path) {
  struct stat st;
  return raw_syscall(SYS_newfstatat, AT_FDCWD, long(path), long(&st), 0) == 0 && S_ISREG(st.st_mode) &&
         raw_syscall(SYS_faccessat, AT_FDCWD, long(path), X_OK, 0) == 0;
}

bool search_program(const char* name, const char* path_env, char* out, size_t cap) {
  bool has_slash = false;
  for (const char* p = name; *p; ++p) has_slash |= *p == '/';
  if (has_slash) {
    Builder b(out, cap);
    return b.add(name).ok() && is_executable_file(out);
  }
  for (const char* dir = path_env;;) {
    const char* colon = dir;
    while (*colon && *colon != ':') ++colon;
    Builder b(out, cap);
    if (colon == dir) b.add(kDot);  // an empty entry: the current directory, as in every POSIX shell
    else b.add_n(dir, size_t(colon - dir));
    // dir + "/" + name, without doubling a trailing slash ("/usr/bin/" + "x").
    if (colon == dir || colon[-1] != '/') b.add(kSlash);
    if (b.add(name).ok() && is_executable_file(out)) return true;
    if (!*colon) return false;
    dir = colon + 1;
  }
}

}  // namespace agent_run::launcher::freestanding
