#pragma once
// What a launch plan remembers of a file it depends on, as text (compared
// byte for byte): statx through raw_syscall, so the launcher that writes a
// plan and the quick launch that replays it compute it the same way.
//   - kFull: device, inode, mode, owner, size, modification and change
//     times (any write, chmod, chown, rename-over or re-creation changes it);
//   - kShape: device, inode, mode and owner only, for a directory whose
//     entries come and go (XDG_RUNTIME_DIR: our own sockets are made in it).
// A missing file is "-" (the plan may depend on a file not existing).
#include <errno.h>
#include <fcntl.h>
#include <linux/stat.h>

#include "common/raw_syscall.hpp"
#include "launcher/freestanding/text.hpp"

#ifndef SYS_statx
#define SYS_statx 332
#endif

namespace agent_run::launcher::freestanding {
namespace {

enum class Identity { kFull, kShape };

constexpr size_t kIdentityBytes = 160;

// Writes the identity of `path` (symlinks followed) into out[kIdentityBytes].
// False when statx fails for another reason than the file's absence (then
// no plan can depend on it).
[[maybe_unused]] bool file_identity(const char* path, Identity kind, char* out) {
  struct statx st;
  const long rc = raw_syscall(SYS_statx, AT_FDCWD, long(path), 0, STATX_BASIC_STATS, long(&st));
  Builder b(out, kIdentityBytes);
  if (rc == -ENOENT || rc == -ENOTDIR) {
    b.add("-");
    return true;
  }
  if (rc != 0) return false;
  b.add_decimal(st.stx_dev_major).add_char(':').add_decimal(st.stx_dev_minor).add_char(':');
  b.add_decimal(st.stx_ino).add_char(':').add_decimal(st.stx_mode).add_char(':').add_decimal(st.stx_uid);
  if (kind == Identity::kFull) {
    b.add_char(':').add_decimal(st.stx_size);
    b.add_char(':').add_decimal(static_cast<unsigned long>(st.stx_mtime.tv_sec)).add_char('.');
    b.add_decimal(st.stx_mtime.tv_nsec);
    b.add_char(':').add_decimal(static_cast<unsigned long>(st.stx_ctime.tv_sec)).add_char('.');
    b.add_decimal(st.stx_ctime.tv_nsec);
  }
  return b.ok();
}

}  // namespace
}  // namespace agent_run::launcher::freestanding
