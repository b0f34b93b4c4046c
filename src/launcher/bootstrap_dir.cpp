#include "launcher/bootstrap_dir.hpp"

#include <limits.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "agent_run/version.hpp"
#include "launcher/file_util.hpp"
#include "launcher/freestanding/launch_plan_format.hpp"

extern char** environ;

namespace agent_run::launcher {

namespace {

constexpr const char* kMarker = kBootstrapMarker;

struct SourceFile {
  std::string rel;  // path relative to the bootstrap source dir
  struct stat st;
};

// Lists regular files under `root` (recursively); __pycache__ holds the
// bytecode compiled at build time.
bool list_sources(const std::string& root, const std::string& rel,
                  std::vector<SourceFile>& out, std::string& error) {
  const std::string dir = rel.empty() ? root : root + "/" + rel;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    error = fmt::format("cannot read {}: {}", dir, std::strerror(errno));
    return false;
  }
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    const std::string child_rel = rel.empty() ? name : rel + "/" + name;
    struct stat st;
    if (::stat((root + "/" + child_rel).c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (!list_sources(root, child_rel, out, error)) {
        ::closedir(d);
        return false;
      }
    } else if (S_ISREG(st.st_mode)) {
      out.push_back({child_rel, st});
    }
  }
  ::closedir(d);
  return true;
}

// FNV-1a: a cheap fingerprint of names, sizes and mtimes; collisions only
// cost a reuse of a directory that a rebuild should have replaced.
struct Fnv {
  uint64_t h = 1469598103934665603ull;
  void add(const void* p, size_t n) {
    auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  }
  void add(const std::string& s) { add(s.data(), s.size() + 1); }
};

std::string source_key(const std::vector<SourceFile>& files) {
  Fnv f;
  f.add(std::string(kVersion));
  auto add_stat = [&](const struct stat& st) {
    f.add(&st.st_size, sizeof st.st_size);
    f.add(&st.st_mtim.tv_sec, sizeof st.st_mtim.tv_sec);
    f.add(&st.st_mtim.tv_nsec, sizeof st.st_mtim.tv_nsec);
  };
  for (const auto& s : files) {
    f.add(s.rel);
    add_stat(s.st);
  }
  return fmt::format("{:016x}", f.h);
}

// The fingerprint the build wrote (share/agent-run/bootstrap.id, a hash of
// every bootstrap file): one read per launch instead of a walk of the files.
// Empty when missing or malformed.
std::string build_fingerprint(const InstallLayout& layout) {
  std::string text, ignored;
  if (!read_file(layout.bootstrap_id_file(), text, ignored)) return "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.empty() || text.size() > 64 ||
      text.find_first_not_of("0123456789abcdef") != std::string::npos)
    return "";
  return text;
}

// Writes the whole directory into `tmp`.
bool populate(const InstallLayout& layout, const std::vector<SourceFile>& files,
              const std::string& tmp, std::string& error) {
  for (const auto& s : files) {
    const std::string dst = tmp + "/" + s.rel;
    if (!make_dirs(dirname_of(dst), 0755, error)) return false;
    if (!copy_file(layout.bootstrap_source() + "/" + s.rel, dst, 0644, error)) return false;
  }
  return write_file(tmp + "/" + kMarker, std::string(kVersion) + "\n", 0644, error);
}

}  // namespace

std::string default_cache_root() {
  // The quick launch finds its plans there with the same rule.
  char root[PATH_MAX];
  freestanding::Builder text(root, sizeof root);
  return freestanding::cache_root(environ, text) ? std::string(root) : std::string();
}

bool ensure_bootstrap_dir(const InstallLayout& layout, const std::string& cache_root,
                          BootstrapDir& out, std::string& error) {
  // The installed files are listed only when they are copied, or when the
  // build's fingerprint is missing (then the key comes from the listing).
  std::vector<SourceFile> files;
  bool listed = false;
  auto list_files = [&]() {
    if (listed) return true;
    if (!list_sources(layout.bootstrap_source(), "", files, error)) return false;
    std::sort(files.begin(), files.end(),
              [](const SourceFile& a, const SourceFile& b) { return a.rel < b.rel; });
    listed = true;
    return true;
  };
  std::string key = build_fingerprint(layout);
  out.from_fingerprint = !key.empty();
  if (key.empty()) {
    if (!list_files()) return false;
    key = source_key(files);
  }
  const std::string name = fmt::format("bootstrap-{}-{}", kVersion, key);

  std::string root = cache_root;
  std::string why_not_cache;
  if (root.empty()) {
    why_not_cache = "neither XDG_CACHE_HOME nor HOME is set to an absolute path";
  } else if (!make_private_dirs(root, why_not_cache)) {
    root.clear();
  }

  if (!root.empty()) {
    const std::string final_path = root + "/" + name;
    std::string unsafe;
    if (is_safe_dir(final_path, unsafe) && path_exists(final_path + "/" + kMarker)) {
      out.path = final_path;
      return true;
    }
    if (!unsafe.empty() && path_exists(final_path)) {
      error = fmt::format("{}; remove {} and launch again", unsafe, final_path);
      return false;
    }
    if (!list_files()) return false;
    std::string tmp = root + "/.tmp-" + name + "-XXXXXX";
    if (::mkdtemp(tmp.data()) == nullptr) {
      error = fmt::format("cannot create a directory in {}: {}", root, std::strerror(errno));
      return false;
    }
    if (!populate(layout, files, tmp, error) || ::chmod(tmp.c_str(), 0755) != 0) {
      remove_tree(tmp);
      return false;
    }
    if (::rename(tmp.c_str(), final_path.c_str()) == 0) {
      out.path = final_path;
      out.created = true;
      return true;
    }
    // Another launch won the race: theirs is complete (rename is atomic).
    const int rename_errno = errno;
    remove_tree(tmp);
    if ((rename_errno == EEXIST || rename_errno == ENOTEMPTY) && is_safe_dir(final_path, unsafe) &&
        path_exists(final_path + "/" + kMarker)) {
      out.path = final_path;
      return true;
    }
    error = fmt::format("cannot move the bootstrap into {}: {}", final_path,
                        std::strerror(rename_errno));
    return false;
  }

  // No usable cache dir: a fresh private directory with an unpredictable name.
  const char* tmpdir = std::getenv("TMPDIR");
  std::string tmp = fmt::format("{}/agent-run-bootstrap-XXXXXX",
                                (tmpdir != nullptr && tmpdir[0] == '/') ? tmpdir : "/tmp");
  if (::mkdtemp(tmp.data()) == nullptr) {
    error = fmt::format("no cache directory ({}) and cannot create {}: {}", why_not_cache, tmp,
                        std::strerror(errno));
    return false;
  }
  if (!list_files() || !populate(layout, files, tmp, error)) {
    remove_tree(tmp);
    return false;
  }
  out.path = tmp;
  out.created = true;
  out.private_temp = true;
  error = why_not_cache;  // the caller warns with it
  return true;
}

}  // namespace agent_run::launcher
