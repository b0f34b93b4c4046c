#pragma once
// The private bootstrap of a launch that had no usable cache directory
// (bootstrap_dir.cpp: $TMPDIR/agent-run-bootstrap-XXXXXX, made for one run)
// is removed when the app is gone: by the collector's standby when no
// collector ran, else by the collector at its exit. Without this, every
// such launch (a container with a read-only HOME, say) left a few MB in
// /tmp for good. Freestanding (raw system calls, no allocation): the
// standby shares the launcher's memory.
namespace agent_run::launcher::freestanding {

// The name every private bootstrap starts with (its last path component).
constexpr const char kPrivateBootstrapPrefix[] = "agent-run-bootstrap-";

// Removes the directory tree at `path` if it is a private bootstrap: its
// last component starts with kPrivateBootstrapPrefix, and it is a
// directory (not a symlink) owned by this user. Symlinks inside are removed,
// never followed. Returns 0, or -errno (-EPERM: not a private bootstrap).
long remove_private_bootstrap(const char* path);

}  // namespace agent_run::launcher::freestanding
