#include "report/text_renderer.hpp"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

namespace agent_run::report {

std::string format_ms(uint64_t ns) { return fmt::format("{:.2f}", static_cast<double>(ns) / 1e6); }

std::string format_utc(uint64_t unix_nano) {
  const std::time_t secs = static_cast<std::time_t>(unix_nano / 1000000000u);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return std::string(buf) + " UTC";
}

std::string one_line(const std::string& text, size_t max_chars) {
  std::string s;
  bool space = false;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      space = !s.empty();
      continue;
    }
    if (space) s += ' ';
    space = false;
    // Span names come from the app: an escape sequence must not reach the terminal.
    const auto u = static_cast<unsigned char>(c);
    s += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  if (s.size() > max_chars) {
    size_t cut = max_chars > 3 ? max_chars - 3 : 0;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
    s = s.substr(0, cut) + "...";
  }
  return s;
}

std::string malformed_note(const FileSummary& f) {
  std::string note = fmt::format("{} malformed line{} skipped in {} (first at line {}", f.malformed,
                                 f.malformed == 1 ? "" : "s", f.path, f.first_malformed_line);
  if (!f.first_malformed_reason.empty()) note += ": " + one_line(f.first_malformed_reason, 200);
  return note + ")";
}

namespace {

// Characters, not bytes, so that UTF-8 names line up.
size_t display_width(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// Columns padded to their widest cell; the last column is not padded.
class Table {
 public:
  explicit Table(std::vector<std::pair<std::string, bool>> header) {  // (title, right-aligned)
    std::vector<std::string> row;
    for (auto& [title, right] : header) {
      row.push_back(title);
      right_.push_back(right);
    }
    rows_.push_back(std::move(row));
  }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::ostream& out, const std::string& indent = "  ") const {
    std::vector<size_t> w(right_.size(), 0);
    for (const auto& r : rows_)
      for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], display_width(r[i]));
    for (const auto& r : rows_) {
      std::string line = indent;
      for (size_t i = 0; i < r.size(); ++i) {
        const bool last = i + 1 == r.size();
        const std::string pad(w[i] - display_width(r[i]), ' ');
        if (right_[i]) line += pad + r[i];
        else line += last ? r[i] : r[i] + pad;
        if (!last) line += "  ";
      }
      out << line << '\n';
    }
  }

 private:
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

std::string percent(uint64_t part, uint64_t whole) {
  return whole == 0 ? "-" : fmt::format("{:.2f}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

void render_header(const Report& r, std::ostream& out) {
  out << fmt::format("agent-run report: {} ({} file{}, {} span{}, {} root span{}", r.path, r.files.size(),
                     r.files.size() == 1 ? "" : "s", r.spans, r.spans == 1 ? "" : "s", r.root_spans,
                     r.root_spans == 1 ? "" : "s");
  if (r.spans) out << fmt::format(", {} to {}", format_utc(r.first_start_unix_nano), format_utc(r.last_end_unix_nano));
  out << ")\n";
  for (const auto& f : r.files) {
    if (f.malformed) out << "  warning: " << malformed_note(f) << '\n';
    if (f.incomplete_tail)
      out << fmt::format("  note: the last line of {} is incomplete (still being written?) and was skipped\n", f.path);
    if (!f.read_error.empty()) out << fmt::format("  warning: {}: {}; its spans are missing from this report\n", f.path, f.read_error);
  }
}

void render_operations(const Report& r, const ReportOptions& opts, std::ostream& out) {
  out << "\nOperations (by count; latency percentiles are nearest-rank)\n";
  if (r.operations.empty()) {
    out << "  no spans in the store\n";
    return;
  }
  Table t({{"SERVICE", false}, {"KIND", false}, {"OPERATION", false}, {"COUNT", true}, {"ERRORS", true},
           {"P50 ms", true}, {"P95 ms", true}, {"P99 ms", true}});
  bool any_approx = false;
  const size_t shown = std::min(opts.text_operations, r.operations.size());
  for (size_t i = 0; i < shown; ++i) {
    const auto& o = r.operations[i];
    const std::string approx = o.approximate ? "~" : "";
    any_approx |= o.approximate;
    t.add({o.service.empty() ? "-" : one_line(o.service, 40), o.kind, one_line(o.name, 60), std::to_string(o.count),
           percent(o.errors, o.count), approx + format_ms(o.p50_ns), approx + format_ms(o.p95_ns),
           approx + format_ms(o.p99_ns)});
  }
  t.print(out);
  if (shown < r.operations.size())
    out << fmt::format("  ... {} more operations (--json lists all)\n", r.operations.size() - shown);
  if (any_approx) out << "  ~ approximate (within 0.4%): too many spans to keep every latency in memory\n";
  if (r.operations_folded)
    out << fmt::format("  {} spans of operations beyond the first distinct ones are counted under \"(other ...)\"\n",
                       r.operations_folded);
}

void render_traces(const Report& r, std::ostream& out) {
  out << fmt::format("\nSlowest traces (top {} by root span duration)\n", r.top);
  if (r.slowest_traces.empty()) {
    out << "  no traces in the store\n";
    return;
  }
  for (size_t i = 0; i < r.slowest_traces.size(); ++i) {
    const auto& t = r.slowest_traces[i];
    out << fmt::format("\n  #{} {} ms  {}{}  trace {}  {}\n", i + 1, format_ms(t.duration_ns), one_line(t.root_name, 80),
                       t.service.empty() ? "" : "  (" + one_line(t.service, 40) + ")", t.trace_id, format_utc(t.start_unix_nano));
    // Offsets and durations in fixed columns, then the indented span.
    size_t w_off = 5, w_dur = 8;
    for (const auto& n : t.nodes) {
      w_off = std::max(w_off, format_ms(n.start_offset_ns).size() + 1);
      w_dur = std::max(w_dur, format_ms(n.duration_ns).size() + 3);
    }
    out << fmt::format("    {:>{}}  {:>{}}  SPAN\n", "+ms", w_off, "DURATION", w_dur);
    for (const auto& n : t.nodes) {
      std::string line = fmt::format("    {:>{}}  {:>{}}  {}{} [{}]", "+" + format_ms(n.start_offset_ns), w_off,
                                     format_ms(n.duration_ns) + " ms", w_dur, std::string(2 * n.depth, ' '),
                                     one_line(n.name, 80), n.kind);
      if (!n.statement.empty() && one_line(n.statement, 1000) != one_line(n.name, 1000))
        line += "  " + one_line(n.statement, 80);
      if (n.error) line += "  ERROR" + (n.error_message.empty() ? "" : ": " + one_line(n.error_message, 100));
      if (n.parent_missing) line += "  (parent span not in the store)";
      out << line << '\n';
    }
    if (t.spans_left_out)
      out << fmt::format("    ... {} more spans of this trace not shown (limit per trace)\n", t.spans_left_out);
  }
}

void render_statement_table(const char* title, const std::vector<StatementRow>& rows, std::ostream& out) {
  out << "\n" << title << '\n';
  Table t({{"COUNT", true}, {"ERRORS", true}, {"TOTAL ms", true}, {"MAX ms", true}, {"STATEMENT", false}});
  for (const auto& s : rows)
    t.add({std::to_string(s.count), std::to_string(s.errors), format_ms(s.total_ns), format_ms(s.max_ns),
           one_line(s.statement, 100)});
  t.print(out);
}

void render_statements(const Report& r, std::ostream& out) {
  out << fmt::format("\nStatements ({} distinct db.statement values)\n", r.distinct_statements);
  if (r.statements_by_count.empty()) {
    out << "  no spans with a db.statement attribute\n";
    return;
  }
  render_statement_table("  Most frequent", r.statements_by_count, out);
  render_statement_table("  Slowest by total time", r.statements_by_total, out);
  render_statement_table("  Slowest by max time", r.statements_by_max, out);
  if (r.statements_folded)
    out << fmt::format("  {} more executions of statements beyond the first {} distinct ones are not in these tables\n",
                       r.statements_folded, r.distinct_statements);
}

void render_agent_health(const Report& r, std::ostream& out) {
  out << "\nDropped spans\n";
  if (!r.stats_seen) {
    out << "  not recorded: the store has no agentRunStats lines\n";
  } else if (r.dropped_spans_total == 0) {
    out << fmt::format("  none ({} process{} reported)\n", r.drops.size(), r.drops.size() == 1 ? "" : "es");
  } else {
    out << fmt::format(
        "  {} span{} dropped in total: recorded by the app but never stored (buffer full or collector unavailable)\n",
        r.dropped_spans_total, r.dropped_spans_total == 1 ? "" : "s");
    Table t({{"SERVICE", false}, {"PID", true}, {"DROPPED", true}});
    for (const auto& d : r.drops)
      if (d.dropped_spans) t.add({d.service.empty() ? "-" : one_line(d.service, 40), std::to_string(d.pid), std::to_string(d.dropped_spans)});
    t.print(out, "    ");
  }

  out << "\nPlugin health\n";
  if (r.plugins.empty()) {
    out << (r.stats_seen ? "  no plugins reported\n" : "  not recorded: the store has no agentRunStats lines\n");
    return;
  }
  Table t({{"PLUGIN", false}, {"STATE", false}, {"CALLS", true}, {"ERRORS", true}, {"PROCESSES", true}, {"LAST ERROR", false}});
  for (const auto& p : r.plugins) {
    std::string last = one_line(p.last_error, 100);
    if (!p.unplugged_in.empty()) {
      std::string where;
      for (const auto& u : p.unplugged_in) where += (where.empty() ? "" : ", ") + u;
      last = (last.empty() ? "" : last + "  ") + "[unplugged in " + one_line(where, 100) + "]";
    }
    t.add({one_line(p.name, 40), p.state.empty() ? "-" : one_line(p.state, 20), std::to_string(p.calls), std::to_string(p.errors),
           std::to_string(p.processes), last.empty() ? "-" : last});
  }
  t.print(out);
}

}  // namespace

void render_text(const Report& report, const ReportOptions& opts, std::ostream& out) {
  render_header(report, out);
  render_operations(report, opts, out);
  render_traces(report, out);
  render_statements(report, out);
  render_agent_health(report, out);
}

}  // namespace agent_run::report
