#pragma once
// Small POSIX file helpers for the launcher. Each returns false with `error`
// naming the path and the system's reason.
#include <string>

namespace agent_run::launcher {

std::string dirname_of(const std::string& path);
bool path_exists(const std::string& path);
bool read_file(const std::string& path, std::string& out, std::string& error);
// Writes `data` to `path` (created with `mode`, replaced if present).
bool write_file(const std::string& path, const std::string& data, int mode, std::string& error);
bool copy_file(const std::string& from, const std::string& to, int mode, std::string& error);
// mkdir -p with `mode` for the directories it creates.
bool make_dirs(const std::string& path, int mode, std::string& error);
// mkdir -p with 0700, then checks the last one is safe (see is_safe_dir).
bool make_private_dirs(const std::string& path, std::string& error);
// A real directory (not a symlink), owned by the effective user, not
// writable by group or others. `why` says which test failed.
bool is_safe_dir(const std::string& path, std::string& why);
// Removes a directory tree, not following symlinks (freestanding/tree_removal.hpp).
void remove_tree(const std::string& path);

}  // namespace agent_run::launcher
