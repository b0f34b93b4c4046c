#pragma once
// The report for a terminal: aligned tables and indented trace trees.

#include <ostream>

#include "report/report.hpp"
#include "report/report_model.hpp"

namespace agent_run::report {

void render_text(const Report& report, const ReportOptions& opts, std::ostream& out);

// Shared by both renderers.
std::string format_ms(uint64_t ns);             // "12.35"
std::string format_utc(uint64_t unix_nano);     // "2026-11-22 02:01:03 UTC"
std::string one_line(const std::string& text, size_t max_chars);  // whitespace collapsed, "..." when cut
std::string malformed_note(const FileSummary& f);  // "N malformed lines skipped in FILE (first at line L: why)"

}  // namespace agent_run::report
