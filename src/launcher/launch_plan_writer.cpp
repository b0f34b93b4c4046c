#include "launcher/launch_plan_writer.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <string_view>

#include "agent_run/version.hpp"
#include "launcher/file_util.hpp"
#include "launcher/freestanding/file_identity.hpp"
#include "launcher/freestanding/launch_plan_format.hpp"
#include "launcher/freestanding/plan_match.hpp"

extern char** environ;

namespace agent_run::launcher {

namespace fs = freestanding;

namespace {

void field(std::string& out, char tag, std::string_view text) {
  out += tag;
  out += text;
  out += '\0';
}

bool identity_field(std::string& out, char tag, const std::string& path, fs::Identity kind) {
  char id[fs::kIdentityBytes];
  if (!fs::file_identity(path.c_str(), kind, id)) return false;
  field(out, tag, path);
  field(out, fs::tag::kIdentity, id);
  return true;
}

bool changed_lately(const timespec& t) {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  const long long ns = 1000000000LL;
  // Within the last second, or later (a clock set back).
  return t.tv_sec * ns + t.tv_nsec > (now.tv_sec - 1) * ns + now.tv_nsec;
}

// The plans of an existing file, each as its bytes (from its kBegin field
// to the next), and the key that says which launch it is for.
struct StoredPlan {
  std::string bytes;
  std::string key;
};

// The fields that name a launch: uid, arguments, directory, environment.
std::string key_of(std::string_view plan) {
  std::string key;
  fs::FieldReader fields(plan.data(), plan.data() + plan.size());
  fs::Field f;
  for (const char* at = plan.data(); fields.next(f); at = fields.position())
    if (f.tag == fs::tag::kUid || f.tag == fs::tag::kArg || f.tag == fs::tag::kCwd || f.tag == fs::tag::kEnvHash)
      key.append(at, size_t(fields.position() - at));
  return key;
}

std::vector<StoredPlan> read_plans(const std::string& path) {
  std::vector<StoredPlan> plans;
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return plans;
  struct stat st;
  std::string text;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::getuid() && (st.st_mode & 077) == 0 &&
      st.st_size <= fs::kMaxPlansFileBytes) {
    text.resize(size_t(st.st_size));
    if (::read(fd, text.data(), text.size()) != ssize_t(text.size())) text.clear();
  }
  ::close(fd);
  // The quick launch's own walk; a plan without its end field is dropped.
  const char end_bytes[2] = {fs::tag::kEnd, '\0'};
  const std::string_view end_field(end_bytes, 2);
  fs::PlanWalker walker(text.data(), text.size());
  const char* begin;
  const char* end;
  while (walker.next(begin, end)) {
    const std::string_view bytes(begin, size_t(end - begin));
    if (bytes.size() >= end_field.size() && bytes.substr(bytes.size() - end_field.size()) == end_field)
      plans.push_back({std::string(bytes), key_of(bytes)});
  }
  return plans;
}

}  // namespace

bool environment_replayable() {
  std::set<std::string_view> names;
  for (char** e = environ; e && *e; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (!eq || !names.insert(std::string_view(*e, size_t(eq - *e))).second) return false;
  }
  return true;
}

bool write_launch_plan(const std::string& cache_root, const LaunchPlan& p, std::string& why) {
  char cwd[PATH_MAX];
  if (cache_root.empty() || ::getcwd(cwd, sizeof cwd) == nullptr) {
    why = "no cache directory or working directory";
    return false;
  }
  std::string plan;
  field(plan, fs::tag::kBegin, kVersion);
  field(plan, fs::tag::kUid, std::to_string(::getuid()));
  for (const auto& a : p.args) field(plan, fs::tag::kArg, a);
  field(plan, fs::tag::kCwd, cwd);
  char digest[fs::kDigestBytes];
  fs::env_digest(environ, digest);
  field(plan, fs::tag::kEnvHash, digest);
  for (const auto& f : p.files)
    if (!identity_field(plan, fs::tag::kFile, f, fs::Identity::kFull)) {
      why = "cannot stat " + f;
      return false;
    }
  for (const auto& f : p.contents) {
    struct stat st;
    if (::stat(f.c_str(), &st) == 0 && (changed_lately(st.st_mtim) || changed_lately(st.st_ctim))) {
      why = f + " changed less than a second ago";
      return false;
    }
    if (!identity_field(plan, fs::tag::kFile, f, fs::Identity::kFull)) {
      why = "cannot stat " + f;
      return false;
    }
  }
  for (const auto& d : p.dir_shapes)
    if (!identity_field(plan, fs::tag::kDirShape, d, fs::Identity::kShape)) {
      why = "cannot stat " + d;
      return false;
    }
  field(plan, fs::tag::kProgramIndex, std::to_string(p.program_index));
  for (const auto& s : p.set) field(plan, fs::tag::kSet, s);
  for (const auto& u : p.unset) field(plan, fs::tag::kUnset, u);
  for (const auto& c : p.collector) field(plan, fs::tag::kCollectorArg, c);
  if (!p.collector.empty()) field(plan, fs::tag::kSocketBase, p.socket_base);
  if (p.trace) field(plan, fs::tag::kTrace, "");
  field(plan, fs::tag::kEnd, "");

  // A launch with the agent off has not made the cache root for a bootstrap.
  if (!make_private_dirs(cache_root, why)) return false;
  const std::string path = cache_root + "/" + fs::kPlansFile;
  std::string out = std::string(fs::kMagic) + '\0' + plan;
  const std::string key = key_of(plan);
  int kept = 1;
  for (const auto& old : read_plans(path)) {
    if (kept >= fs::kMaxPlans) break;
    if (old.key == key) continue;
    if (out.size() + old.bytes.size() > size_t(fs::kMaxPlansFileBytes)) break;
    out += old.bytes;
    ++kept;
  }
  // mkstemp makes it 0600; renamed over the old one, so a reader sees the
  // whole old file or the whole new one.
  std::string tmp = path + ".XXXXXX";
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) {
    why = "cannot create a file in " + cache_root + ": " + std::strerror(errno);
    return false;
  }
  const bool written = ::write(fd, out.data(), out.size()) == ssize_t(out.size());
  ::close(fd);
  if (!written || ::rename(tmp.c_str(), path.c_str()) != 0) {
    why = "cannot write " + path + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace agent_run::launcher
