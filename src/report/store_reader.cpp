#include "report/store_reader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>

#include <fmt/format.h>

namespace fs = std::filesystem;

namespace agent_run::report {
namespace {

// The collector's agentRunStats lines live beside the trace files, in a file
// of their own, so that traces-N.jsonl stay pure OTLP JSON for other readers
// (an OpenTelemetry Collector's file receiver). Read after the traces.
constexpr const char* kStatsFile = "agent-run-stats.jsonl";
constexpr long kStatsOrder = 1L << 40;

// "traces-12.jsonl" -> 12; the stats file -> after every trace file; other
// names -> -1 (not part of the store).
long rotation_number(const std::string& filename) {
  if (filename == kStatsFile) return kStatsOrder;
  const std::string prefix = "traces-", suffix = ".jsonl";
  if (filename.size() <= prefix.size() + suffix.size()) return -1;
  if (filename.compare(0, prefix.size(), prefix) != 0) return -1;
  if (filename.compare(filename.size() - suffix.size(), suffix.size(), suffix) != 0) return -1;
  const std::string digits = filename.substr(prefix.size(), filename.size() - prefix.size() - suffix.size());
  if (digits.empty() || digits.size() > 9 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return -1;
  return std::stol(digits);
}

std::vector<std::string> store_files_in(const fs::path& dir, std::error_code& ec) {
  std::vector<std::pair<long, std::string>> found;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const long n = rotation_number(it->path().filename().string());
    std::error_code type_ec;
    if (n >= 0 && it->is_regular_file(type_ec)) found.emplace_back(n, it->path().string());
  }
  // Numeric order: traces-10 comes after traces-9, not after traces-1.
  std::sort(found.begin(), found.end());
  std::vector<std::string> files;
  for (auto& f : found) files.push_back(std::move(f.second));
  return files;
}

}  // namespace

ResolvedStore resolve_store(const std::string& path) {
  ResolvedStore r;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    r.error = fmt::format(
        "no trace store at {}: it does not exist. Run your application under agent-run first "
        "(its collector creates the store), or pass the store directory or a traces-N.jsonl file: "
        "agent-run report PATH",
        path);
    return r;
  }
  if (fs::is_regular_file(st)) {
    r.files.push_back(path);
    return r;
  }
  if (!fs::is_directory(st)) {
    r.error = fmt::format("{} is neither a directory nor a regular file; pass the store directory or a .jsonl file", path);
    return r;
  }
  r.files = store_files_in(path, ec);
  if (!ec && r.files.empty()) {
    // Accept the data dir too: its traces/ subdirectory is the store.
    const fs::path sub = fs::path(path) / "traces";
    std::error_code sub_ec;
    if (fs::is_directory(sub, sub_ec)) r.files = store_files_in(sub, ec);
  }
  if (ec) {
    r.error = fmt::format("cannot list {}: {}; check its permissions", path, ec.message());
  } else if (r.files.empty()) {
    r.error = fmt::format(
        "no traces-N.jsonl files in {} (nor in {}/traces). Run your application under agent-run "
        "first so that its collector writes spans there, or pass the path of the store",
        path, path);
  }
  return r;
}

StoreReader::StoreReader(std::vector<std::string> files, size_t max_line_bytes)
    : files_(std::move(files)), max_line_bytes_(max_line_bytes) {
  for (const auto& f : files_) {
    FileSummary s;
    s.path = f;
    summaries_.push_back(std::move(s));
  }
}

void StoreReader::scan(const LineFn& on_line, bool count) {
  for (auto& s : summaries_) scan_file(s, on_line, count);
}

void StoreReader::scan_file(FileSummary& summary, const LineFn& on_line, bool count) {
  struct Closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, Closer> file(std::fopen(summary.path.c_str(), "rb"));
  if (!file) {
    // A rotation may remove a file between listing and reading; the rest of the store is still useful.
    if (count) summary.read_error = fmt::format("cannot open: {}", std::strerror(errno));
    return;
  }

  uint64_t line_no = 0;
  std::string reason;
  auto handle = [&](std::string_view line, bool terminated) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) return;  // blank lines carry nothing
    if (count) ++summary.lines;
    reason.clear();
    LineVerdict v;
    if (line.size() > max_line_bytes_) {
      reason = fmt::format("line of {} bytes exceeds the {}-byte limit", line.size(), max_line_bytes_);
      v = LineVerdict::Malformed;
    } else {
      v = on_line(line, reason);
    }
    if (v == LineVerdict::Malformed && count) {
      // The collector may be appending right now: an unterminated last line is a write in progress.
      if (!terminated) {
        summary.incomplete_tail = true;
        return;
      }
      if (summary.malformed++ == 0) {
        summary.first_malformed_line = line_no;
        summary.first_malformed_reason = reason;
      }
    }
  };

  // Lines are cut out of a large buffer so that each is parsed in place.
  std::string buf(1u << 20, '\0');
  size_t begin = 0, end = 0;  // unconsumed bytes are buf[begin, end)
  bool oversized = false;     // inside a line longer than max_line_bytes_: drop its bytes
  size_t oversized_len = 0;
  for (;;) {
    if (begin > 0 && begin == end) begin = end = 0;
    if (end == buf.size()) {
      if (begin > 0) {
        std::memmove(&buf[0], &buf[begin], end - begin);
        end -= begin;
        begin = 0;
      } else if (buf.size() < max_line_bytes_ + 1) {
        buf.resize(std::min(buf.size() * 2, max_line_bytes_ + 1));
      } else {
        // One line fills the largest buffer allowed: count it once, skip to its end.
        oversized = true;
        oversized_len += end;
        begin = end = 0;
      }
    }
    const size_t n = std::fread(&buf[end], 1, buf.size() - end, file.get());
    if (n == 0) {
      if (std::ferror(file.get()) && count) summary.read_error = fmt::format("read failed: {}", std::strerror(errno));
      break;
    }
    const size_t scan_from = end;
    end += n;
    size_t pos = scan_from;
    while (pos < end) {
      const void* nl = std::memchr(&buf[pos], '\n', end - pos);
      if (!nl) break;
      const size_t nl_pos = static_cast<const char*>(nl) - buf.data();
      if (oversized) {
        ++line_no;
        if (count) {
          ++summary.lines;
          if (summary.malformed++ == 0) {
            summary.first_malformed_line = line_no;
            summary.first_malformed_reason =
                fmt::format("line of {} bytes exceeds the {}-byte limit", oversized_len + nl_pos, max_line_bytes_);
          }
        }
        oversized = false;
        oversized_len = 0;
      } else {
        handle(std::string_view(buf.data() + begin, nl_pos - begin), true);
      }
      begin = pos = nl_pos + 1;
    }
  }
  if (oversized) {
    ++line_no;
    if (count) ++summary.lines, summary.incomplete_tail = true;
  } else if (begin < end) {
    handle(std::string_view(buf.data() + begin, end - begin), false);
  }
}

}  // namespace agent_run::report
