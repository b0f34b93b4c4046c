// generate-config and check-config.
#include "config/commands.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/write_all.hpp"
#include "config/internal.hpp"

namespace agent_run::config {
namespace {

// Header values are credentials more often than not; output of check-config
// and --dry-run ends up in CI logs and tickets.
std::string shown_value(std::string_view key, const Value& value) {
  if (key != "exporter.otlp.headers") return format_value(value);
  std::vector<std::string> masked;
  for (const auto& item : std::get<std::vector<std::string>>(value))
    masked.push_back(item.substr(0, item.find('=')) + "=<hidden>");
  return format_value(masked);
}

std::string refuse_message(const std::string& path) {
  return fmt::format("agent-run: {} already exists; not overwriting it. Use --force to replace it, "
                     "or -o FILE to write elsewhere.\n",
                     path);
}

}  // namespace

std::string format_diagnostic(const Diagnostic& d) { return d.where + ": " + d.message; }

std::string describe(const Config& config) {
  std::string out;
  for (const auto& key : keys())
    out += fmt::format("{} = {}  # {}\n", key.name, shown_value(key.name, config.get(key.name)), config.origin(key.name));
  return out;
}

int generate_config(const std::string& path_in, bool force, std::ostream& out, std::ostream& err) {
  const std::string text = render_template();
  if (path_in == "-") {
    out << text;
    out.flush();
    return out ? 0 : 1;
  }
  const std::string path = path_in.empty() ? std::string(kDefaultConfigFile) : path_in;

  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    err << fmt::format("agent-run: {} is a directory; name a file, e.g. -o {}/{}\n", path, path, kDefaultConfigFile);
    return 1;
  }
  if (!force && ::lstat(path.c_str(), &st) == 0) {
    err << refuse_message(path);
    return 1;
  }

  // The temporary file must be in the same directory: rename() and link()
  // are atomic only within one filesystem.
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string tmp = (dir == "/" ? "" : dir) + "/." + base + ".tmp.XXXXXX";
  std::vector<char> tmpl(tmp.begin(), tmp.end());
  tmpl.push_back('\0');
  int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0) {
    err << fmt::format("agent-run: cannot create a file in {}: {}\n", dir, std::strerror(errno));
    return 1;
  }
  tmp = tmpl.data();
  bool ok = write_all(fd, text) && ::fchmod(fd, 0644) == 0 && ::fsync(fd) == 0;
  int saved = errno;
  ok = (::close(fd) == 0) && ok;
  if (!ok) {
    err << fmt::format("agent-run: cannot write {}: {}\n", tmp, std::strerror(saved ? saved : errno));
    ::unlink(tmp.c_str());
    return 1;
  }

  if (force) {
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      err << fmt::format("agent-run: cannot replace {}: {}\n", path, std::strerror(errno));
      ::unlink(tmp.c_str());
      return 1;
    }
  } else {
    // link() fails if the name exists, so a file created since the check
    // above is never replaced.
    int rc = ::link(tmp.c_str(), path.c_str());
    int link_errno = errno;
    if (rc != 0 && link_errno != EEXIST && ::lstat(path.c_str(), &st) != 0) {
      // A filesystem without hard links: fall back to rename.
      rc = ::rename(tmp.c_str(), path.c_str());
      link_errno = errno;
    }
    ::unlink(tmp.c_str());
    if (rc != 0) {
      if (link_errno == EEXIST)
        err << refuse_message(path);
      else
        err << fmt::format("agent-run: cannot write {}: {}\n", path, std::strerror(link_errno));
      return 1;
    }
  }
  out << fmt::format("agent-run: wrote {} (every setting at its default); check changes with: agent-run check-config {}\n",
                     path, path);
  return 0;
}

int check_config(const Sources& sources, std::ostream& out, std::ostream& err) {
  LoadResult result = load(sources);
  for (const auto& w : result.warnings) err << w.where << ": warning: " << w.message << "\n";
  for (const auto& e : result.errors) err << format_diagnostic(e) << "\n";
  const std::string label = sources.file.empty() ? std::string("configuration (no file)") : sources.file;
  if (!result.ok()) {
    size_t n = result.errors.size();
    err << fmt::format("{}: {} error{}; {}\n", label, n, n == 1 ? "" : "s",
                       result.config.get_bool("strict")
                           ? "with strict = true, agent-run would not start the app"
                           : "agent-run would run the app without the agent");
    return 1;
  }
  out << label << ": OK\n";
  for (const auto& key : keys()) {
    if (result.config.is_default(key.name)) continue;
    out << fmt::format("{} = {} (from {})\n", key.name, shown_value(key.name, result.config.get(key.name)),
                       result.config.origin(key.name));
  }
  return 0;
}

int check_config(const std::string& path, std::ostream& out, std::ostream& err) {
  Sources sources;
  sources.env = process_environment();
  sources.env_names = process_environment_names();
  sources.file = path.empty() ? find_config_file(sources.env) : path;
  return check_config(sources, out, err);
}

}  // namespace agent_run::config
