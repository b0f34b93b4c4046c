#include "report/json_renderer.hpp"

#include <nlohmann/json.hpp>

#include "report/text_renderer.hpp"

namespace agent_run::report {
namespace {

using ojson = nlohmann::ordered_json;

double ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }

ojson statement_rows(const std::vector<StatementRow>& rows) {
  ojson a = ojson::array();
  for (const auto& s : rows)
    a.push_back({{"statement", s.statement}, {"count", s.count}, {"errors", s.errors},
                 {"total_ms", ms(s.total_ns)}, {"max_ms", ms(s.max_ns)}});
  return a;
}

// Pre-order nodes with depths -> nested {"children": [...]} objects.
ojson tree_json(const TraceTree& t) {
  ojson roots = ojson::array();
  std::vector<ojson*> path;  // path[d] = the last node emitted at depth d
  for (const auto& n : t.nodes) {
    ojson node = {{"name", n.name}, {"kind", n.kind}, {"service", n.service}, {"span_id", n.span_id},
                  {"start_offset_ms", ms(n.start_offset_ns)}, {"duration_ms", ms(n.duration_ns)},
                  {"status", n.error ? "ERROR" : n.status_code == 1 ? "OK" : "UNSET"}};
    if (!n.statement.empty()) node["statement"] = n.statement;
    if (!n.error_message.empty()) node["error_message"] = n.error_message;
    if (n.parent_missing) node["parent_missing"] = true;
    node["children"] = ojson::array();
    ojson* parent_children = (n.depth == 0 || path.size() < n.depth) ? &roots : &(*path[n.depth - 1])["children"];
    parent_children->push_back(std::move(node));
    path.resize(n.depth);
    path.push_back(&parent_children->back());
  }
  return roots;
}

}  // namespace

void render_json(const Report& r, std::ostream& out) {
  ojson j;
  ojson files = ojson::array();
  for (const auto& f : r.files) {
    ojson jf = {{"path", f.path}, {"lines", f.lines}, {"malformed_lines", f.malformed}};
    if (f.malformed) {
      jf["first_malformed_line"] = f.first_malformed_line;
      jf["first_malformed_reason"] = f.first_malformed_reason;
      jf["message"] = malformed_note(f);
    }
    if (f.incomplete_tail) jf["incomplete_last_line"] = true;
    if (!f.read_error.empty()) jf["read_error"] = f.read_error;
    files.push_back(std::move(jf));
  }
  j["source"] = {{"path", r.path}, {"files", std::move(files)}};
  j["totals"] = {{"spans", r.spans}, {"root_spans", r.root_spans},
                 {"first_start_unix_nano", r.first_start_unix_nano}, {"last_end_unix_nano", r.last_end_unix_nano}};

  ojson ops = ojson::array();
  for (const auto& o : r.operations)
    ops.push_back({{"service", o.service}, {"kind", o.kind}, {"name", o.name}, {"count", o.count},
                   {"errors", o.errors}, {"error_rate", o.count ? static_cast<double>(o.errors) / static_cast<double>(o.count) : 0.0},
                   {"p50_ms", ms(o.p50_ns)}, {"p95_ms", ms(o.p95_ns)}, {"p99_ms", ms(o.p99_ns)},
                   {"max_ms", ms(o.max_ns)}, {"total_ms", ms(o.total_ns)}, {"percentiles_exact", !o.approximate}});
  j["operations"] = std::move(ops);
  j["operations_folded_spans"] = r.operations_folded;

  ojson traces = ojson::array();
  for (const auto& t : r.slowest_traces)
    traces.push_back({{"trace_id", t.trace_id}, {"root_name", t.root_name}, {"service", t.service},
                      {"duration_ms", ms(t.duration_ns)}, {"start_unix_nano", t.start_unix_nano},
                      {"spans", t.spans}, {"spans_left_out", t.spans_left_out}, {"roots", tree_json(t)}});
  j["slowest_traces"] = std::move(traces);

  j["statements"] = {{"distinct", r.distinct_statements},
                     {"folded_executions", r.statements_folded},
                     {"most_frequent", statement_rows(r.statements_by_count)},
                     {"slowest_by_total", statement_rows(r.statements_by_total)},
                     {"slowest_by_max", statement_rows(r.statements_by_max)}};

  ojson drops = ojson::array();
  for (const auto& d : r.drops) drops.push_back({{"service", d.service}, {"pid", d.pid}, {"dropped_spans", d.dropped_spans}});
  ojson plugins = ojson::array();
  for (const auto& p : r.plugins)
    plugins.push_back({{"name", p.name}, {"state", p.state}, {"calls", p.calls}, {"errors", p.errors},
                       {"processes", p.processes}, {"last_error", p.last_error}, {"unplugged_in", p.unplugged_in}});
  j["agent"] = {{"stats_seen", r.stats_seen}, {"dropped_spans_total", r.dropped_spans_total},
                {"dropped_spans", std::move(drops)}, {"plugins", std::move(plugins)}};

  // Invalid UTF-8 in a span name must not abort the report.
  out << j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
}

}  // namespace agent_run::report
