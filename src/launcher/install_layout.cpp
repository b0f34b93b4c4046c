#include "launcher/install_layout.hpp"
#include "launcher/file_util.hpp"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace agent_run::launcher {

namespace {
bool is_dir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
}  // namespace

bool find_install_layout(InstallLayout& layout, std::string& error) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) {
    error = std::string("cannot read /proc/self/exe (") + std::strerror(errno) +
            "): is /proc mounted?";
    return false;
  }
  buf[n] = '\0';
  layout.executable = buf;
  const std::string prefix = dirname_of(dirname_of(layout.executable));
  layout.share_dir = prefix + "/share/agent-run";
  layout.libexec_dir = prefix + "/libexec/agent-run";
  if (!is_dir(layout.bootstrap_source())) {
    error = "agent-run's files are missing: no directory " + layout.bootstrap_source() +
            " next to " + layout.executable + "; reinstall agent-run (cmake --install) or run it from its build tree";
    return false;
  }
  return true;
}

}  // namespace agent_run::launcher
