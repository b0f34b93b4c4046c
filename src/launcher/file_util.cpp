#include "launcher/file_util.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "launcher/freestanding/tree_removal.hpp"

namespace agent_run::launcher {

namespace {
std::string sys_error(const char* what, const std::string& path) {
  return fmt::format("cannot {} {}: {}", what, path, std::strerror(errno));
}
}  // namespace

std::string dirname_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

bool read_file(const std::string& path, std::string& out, std::string& error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = sys_error("read", path);
    return false;
  }
  // Straight into `out`, sized by fstat: a big buffer on the stack would cost
  // the launch a page fault for every page of it the kernel writes to.
  out.clear();
  struct stat st;
  const size_t chunk = ::fstat(fd, &st) == 0 && st.st_size > 0 ? static_cast<size_t>(st.st_size) + 1 : 4096;
  for (;;) {
    const size_t have = out.size();
    out.resize(have + chunk);
    ssize_t n = ::read(fd, &out[have], chunk);
    out.resize(have + (n > 0 ? static_cast<size_t>(n) : 0));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = sys_error("read", path);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
  }
  ::close(fd);
  return true;
}

bool write_file(const std::string& path, const std::string& data, int mode, std::string& error) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) {
    error = sys_error("write", path);
    return false;
  }
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = sys_error("write", path);
      ::close(fd);
      return false;
    }
    off += static_cast<size_t>(n);
  }
  if (::fchmod(fd, mode) != 0 || ::close(fd) != 0) {
    error = sys_error("write", path);
    return false;
  }
  return true;
}

bool copy_file(const std::string& from, const std::string& to, int mode, std::string& error) {
  std::string data;
  return read_file(from, data, error) && write_file(to, data, mode, error);
}

bool make_dirs(const std::string& path, int mode, std::string& error) {
  if (path.empty() || path == "/" || path == ".") return true;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return true;
    error = fmt::format("{} exists and is not a directory", path);
    return false;
  }
  if (!make_dirs(dirname_of(path), mode, error)) return false;
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    error = sys_error("create directory", path);
    return false;
  }
  return true;
}

bool make_private_dirs(const std::string& path, std::string& error) {
  return make_dirs(path, 0700, error) && is_safe_dir(path, error);
}

bool is_safe_dir(const std::string& path, std::string& why) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    why.clear();
    return false;
  }
  if (!S_ISDIR(st.st_mode)) {
    why = fmt::format("{} is not a directory (a symlink or a file is not trusted)", path);
    return false;
  }
  if (st.st_uid != ::geteuid()) {
    why = fmt::format("{} belongs to uid {}, not to you (uid {})", path, st.st_uid, ::geteuid());
    return false;
  }
  if ((st.st_mode & 022) != 0) {
    why = fmt::format("{} is writable by group or others (mode {:o}); run chmod go-w on it", path,
                      st.st_mode & 0777);
    return false;
  }
  return true;
}

void remove_tree(const std::string& path) { (void)freestanding::remove_tree(path.c_str()); }

}  // namespace agent_run::launcher
