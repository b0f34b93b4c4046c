// The embedded default exporter: a local trace store in the data directory.
// OTLP JSON lines (one ExportTraceServiceRequest per line, the format of the
// OpenTelemetry Collector's otlpjsonfile receiver) in <dir>/traces-N.jsonl,
// rotated by size, keeping the newest store_max_files files.
//
// Several collectors (several apps) may share a data directory: each holds an
// flock on the file it writes, appends only to a file nobody else holds, and
// deletes only files nobody holds.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "collector/exporter.hpp"
#include "collector/log.hpp"
#include "collector/otlp_json.hpp"

namespace agent_run::collector {

namespace {

bool make_dirs(const std::string& path) {
  std::string cur;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!cur.empty() && ::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST) return false;
    }
    if (i < path.size()) cur.push_back(path[i]);
  }
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

class LocalStoreExporter : public Exporter {
 public:
  LocalStoreExporter(std::string dir, uint64_t max_bytes, uint32_t max_files)
      : dir_(std::move(dir)), max_bytes_(max_bytes ? max_bytes : 1), max_files_(max_files ? max_files : 1) {}
  ~LocalStoreExporter() override {
    if (fd_ >= 0) ::close(fd_);
  }

  bool start(std::string& error) {
    if (!make_dirs(dir_)) {
      error = "cannot create the data directory " + dir_ + ": " + std::strerror(errno);
      return false;
    }
    std::vector<uint64_t> ns = list_files();
    if (!ns.empty()) {
      // Continue the newest file if nobody else writes it and it has room.
      uint64_t n = ns.back();
      int fd = ::open(path_of(n).c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
      if (fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) == 0) {
        struct stat st;
        if (::fstat(fd, &st) == 0 && uint64_t(st.st_size) < max_bytes_) {
          fd_ = fd;
          index_ = n;
          size_ = uint64_t(st.st_size);
          return true;
        }
      }
      if (fd >= 0) ::close(fd);
    }
    if (!open_next(ns.empty() ? 0 : ns.back() + 1)) {
      error = "cannot create a trace file in " + dir_ + ": " + std::strerror(errno);
      return false;
    }
    return true;
  }

  const char* name() const override { return "store"; }

  void export_batch(SpanBatch&& batch) override {
    if (batch.empty()) return;
    size_t n = write_otlp_json_line(batch, line_);
    if (size_ > 0 && size_ + n > max_bytes_) rotate();
    if (fd_ < 0 || !write_all(line_.data(), n)) {
      stats_.dropped_spans += batch.size();
      if (!write_error_logged_) {
        write_error_logged_ = true;
        Log::get().error("store: cannot write to " + path_of(index_) + ": " + std::strerror(errno) +
                         "; spans are dropped");
      }
      return;
    }
    size_ += n;
    stats_.exported_spans += batch.size();
    stats_.requests++;
  }

  // Not in traces-N.jsonl, which stay pure OTLP JSON for other readers (an
  // OpenTelemetry Collector's file receiver): agent-run-stats.jsonl beside them.
  void export_app_stats(const std::string& json_line) override {
    const std::string path = dir_ + "/agent-run-stats.jsonl";
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return;
    const std::string line = json_line + "\n";
    ssize_t n = ::write(fd, line.data(), line.size());  // O_APPEND: one write, one whole line
    (void)n;
    ::close(fd);
  }

  void shutdown(uint64_t) override {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  ExporterStats stats() const override { return stats_; }

 private:
  std::string path_of(uint64_t n) const { return dir_ + "/traces-" + std::to_string(n) + ".jsonl"; }

  std::vector<uint64_t> list_files() const {
    std::vector<uint64_t> out;
    DIR* d = ::opendir(dir_.c_str());
    if (!d) return out;
    while (dirent* e = ::readdir(d)) {
      const char* name = e->d_name;
      size_t len = std::strlen(name);
      if (len < 13 || std::strncmp(name, "traces-", 7) != 0 || std::strcmp(name + len - 6, ".jsonl") != 0) continue;
      uint64_t n = 0;
      bool ok = len > 13;
      for (size_t i = 7; i < len - 6 && ok; ++i) {
        if (name[i] < '0' || name[i] > '9') ok = false;
        n = n * 10 + uint64_t(name[i] - '0');
      }
      if (ok) out.push_back(n);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
  }

  bool open_next(uint64_t n) {
    for (int attempt = 0; attempt < 1000; ++attempt, ++n) {
      int fd = ::open(path_of(n).c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0) {
        if (errno == EEXIST) continue;
        return false;
      }
      ::flock(fd, LOCK_EX | LOCK_NB);
      fd_ = fd;
      index_ = n;
      size_ = 0;
      return true;
    }
    return false;
  }

  void rotate() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    std::vector<uint64_t> ns = list_files();
    open_next((ns.empty() ? index_ : std::max(index_, ns.back())) + 1);
    prune();
  }

  // Keeps the newest max_files_ files; never deletes one that another
  // collector holds.
  void prune() {
    std::vector<uint64_t> ns = list_files();
    if (ns.size() <= max_files_) return;
    size_t excess = ns.size() - max_files_;
    for (size_t i = 0; i < ns.size() && excess > 0; ++i) {
      if (ns[i] == index_) continue;
      std::string p = path_of(ns[i]);
      int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
        ::unlink(p.c_str());
        --excess;
      }
      ::close(fd);
    }
  }

  bool write_all(const char* data, size_t size) {
    size_t off = 0;
    while (off < size) {
      ssize_t n = ::write(fd_, data + off, size - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      off += size_t(n);
    }
    return true;
  }

  std::string dir_;
  uint64_t max_bytes_;
  uint32_t max_files_;
  int fd_ = -1;
  uint64_t index_ = 0;
  uint64_t size_ = 0;
  std::string line_;  // the OTLP JSON line of a batch: a buffer reused, never shrunk
  ExporterStats stats_;
  bool write_error_logged_ = false;
};

}  // namespace

std::unique_ptr<Exporter> make_local_store_exporter(const Options& o, std::string& error) {
  std::string dir = o.data_dir;
  if (dir.empty()) {
    error = "store exporter: no data directory (--data-dir)";
    return nullptr;
  }
  auto e = std::make_unique<LocalStoreExporter>(dir, o.store_max_file_bytes, o.store_max_files);
  if (!e->start(error)) return nullptr;
  return e;
}

}  // namespace agent_run::collector
