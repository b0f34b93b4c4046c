#pragma once
// The bootstrap directory: what goes first on the app's PYTHONPATH
// (sitecustomize.py and the _agent_run package with every hook module build
// and their bytecode), copied from share/agent-run/bootstrap.
//
// It is generated once per agent build and reused: its name carries the
// agent version and the fingerprint the build wrote (bootstrap.id; without
// it, a key of the installed files' names, sizes and mtimes),
// so a rebuilt or upgraded agent never meets a stale bootstrap. It is created
// atomically (written in a private temp dir, then renamed into place: a
// concurrent launch sees either nothing or the complete directory) and
// safely: it goes on every Python process's import path, so it and its parent
// must belong to the user and not be writable by group or others. It lives in
// the user's cache directory, never at a predictable path in a shared /tmp.
#include <string>

#include "launcher/install_layout.hpp"

namespace agent_run::launcher {

// The file written last into a complete bootstrap directory.
constexpr const char* kBootstrapMarker = ".complete";

struct BootstrapDir {
  std::string path;
  bool created = false;   // this launch generated it
  bool private_temp = false;  // fell back to a fresh private temp dir
  // Named by the build's fingerprint (bootstrap.id), not by a listing of the
  // installed files: a launch plan can check it by the file's identity.
  bool from_fingerprint = false;
};

// The cache root: $XDG_CACHE_HOME/agent-run, else $HOME/.cache/agent-run.
std::string default_cache_root();

// Returns true and fills `out`, or false with `error` (what and how to fix).
bool ensure_bootstrap_dir(const InstallLayout& layout, const std::string& cache_root,
                          BootstrapDir& out, std::string& error);

}  // namespace agent_run::launcher
