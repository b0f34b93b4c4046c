#pragma once
// Where agent-run's own files are: found relative to the running executable,
// so the same binary works from the build tree (build/stage) and after
// `cmake --install` to any prefix (PREFIX/bin/agent-run,
// PREFIX/share/agent-run, PREFIX/libexec/agent-run).
#include <string>

namespace agent_run::launcher {

struct InstallLayout {
  std::string executable;    // realpath of agent-run itself
  std::string share_dir;     // PREFIX/share/agent-run
  std::string libexec_dir;   // PREFIX/libexec/agent-run
  std::string bootstrap_source() const { return share_dir + "/bootstrap"; }
  std::string templates_dir() const { return share_dir + "/templates"; }
  // The build's fingerprint of the bootstrap files (bootstrap_dir.cpp).
  std::string bootstrap_id_file() const { return share_dir + "/bootstrap.id"; }
  std::string collector_executable() const { return libexec_dir + "/collector"; }
};

// Fills `layout` and returns true, or returns false with `error` saying what is missing.
bool find_install_layout(InstallLayout& layout, std::string& error);

}  // namespace agent_run::launcher
