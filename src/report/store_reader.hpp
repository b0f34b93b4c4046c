#pragma once
// The trace store on disk: which files make it up, in which order, and their
// lines one at a time (never a whole file in memory), with per-file counts of
// lines that could not be used.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "report/report_model.hpp"

namespace agent_run::report {

struct ResolvedStore {
  std::vector<std::string> files;  // oldest rotation first (traces-1, traces-2, ..., traces-10)
  std::string error;               // non-empty: nothing to read; says what to do
};

// PATH may be a .jsonl file, a directory holding traces-N.jsonl files, or the
// data dir whose traces/ subdirectory holds them.
ResolvedStore resolve_store(const std::string& path);

// What the line callback says about a line.
enum class LineVerdict { Ok, Malformed };

class StoreReader {
 public:
  // on_line gets each non-empty line without its newline; `reason` is filled
  // in when it returns Malformed (only the first reason per file is kept).
  using LineFn = std::function<LineVerdict(std::string_view line, std::string& reason)>;

  StoreReader(std::vector<std::string> files, size_t max_line_bytes);

  // Reads every file once, in order. With count=false (a second pass) the
  // per-file summaries are left as the first pass made them.
  void scan(const LineFn& on_line, bool count);

  const std::vector<FileSummary>& summaries() const { return summaries_; }

 private:
  void scan_file(FileSummary& summary, const LineFn& on_line, bool count);

  std::vector<std::string> files_;
  size_t max_line_bytes_;
  std::vector<FileSummary> summaries_;
};

}  // namespace agent_run::report
