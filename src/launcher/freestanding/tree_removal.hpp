#pragma once
// Removing a directory tree with raw system calls (no allocation, no libc):
// the collector's standby runs it in the launcher's memory. Symlinks are
// removed, never followed (the top one included); it keeps going past an
// entry it cannot remove, and a tree deeper than kMaxTreeDepth is left (the
// trees it is for, bootstraps, are three levels deep; the bound keeps the
// recursion inside the standby's 64 KiB stack).
namespace agent_run::launcher::freestanding {

constexpr int kMaxTreeDepth = 8;

// Removes everything inside the open directory `dir` (the caller closes it).
// Returns 0, or the last -errno seen.
long remove_contents(long dir);

// Removes the directory at `path` and everything in it. Returns 0 or -errno.
long remove_tree(const char* path);

}  // namespace agent_run::launcher::freestanding
