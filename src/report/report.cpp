#include "report/report.hpp"

#include <unistd.h>

#include <cstdlib>

#include <fmt/format.h>

#include "report/aggregation.hpp"
#include "report/json_renderer.hpp"
#include "report/otlp_json.hpp"
#include "report/store_reader.hpp"
#include "report/text_renderer.hpp"
#include "report/trace_trees.hpp"

namespace agent_run::report {

std::string default_store_path() {
  // The same rules as config::effective_local_path() with nothing configured;
  // the launcher passes that path, so this only serves direct library use.
  const char* xdg = std::getenv("XDG_DATA_HOME");
  if (xdg && xdg[0] == '/') return std::string(xdg) + "/agent-run/traces";  // XDG: relative values are invalid
  const char* home = std::getenv("HOME");
  if (home && *home) return std::string(home) + "/.local/share/agent-run/traces";
  return "/tmp/agent-run-" + std::to_string(::getuid()) + "/traces";
}

int run_report(const ReportOptions& opts_in, std::ostream& out, std::ostream& err) {
  ReportOptions opts = opts_in;
  if (opts.path.empty()) opts.path = default_store_path();
  if (opts.top > 1000) {
    err << fmt::format("agent-run report: --top {} is too many; use at most 1000\n", opts.top);
    return 2;
  }

  const ResolvedStore store = resolve_store(opts.path);
  if (!store.error.empty()) {
    err << "agent-run report: " << store.error << '\n';
    return 1;
  }

  Report report;
  report.path = opts.path;
  report.top = opts.top;

  StoreReader reader(store.files, opts.limits.max_line_bytes);
  OtlpLineParser parser;
  ParsedLine parsed;
  std::string error;

  // Pass 1: every table, and which traces are the slowest.
  Aggregator aggregator(opts.limits);
  TopTraceSelector selector(opts.top);
  reader.scan(
      [&](std::string_view line, std::string& reason) {
        if (!parser.parse(line, parsed, error)) {
          reason = error;
          return LineVerdict::Malformed;
        }
        for (const auto& s : parsed.spans) {
          aggregator.add_span(s);
          selector.add_span(s);
        }
        for (const auto& st : parsed.stats) aggregator.add_stats(st);
        return LineVerdict::Ok;
      },
      /*count=*/true);
  aggregator.finish(report, opts.statements);

  // Pass 2: the spans of those traces only (see trace_trees.hpp for why two passes).
  TraceCollector collector(selector.picks(), opts.limits.max_spans_per_trace);
  if (!collector.hex_ids().empty()) {
    reader.scan(
        [&](std::string_view line, std::string&) {
          if (!mentions_trace(line, collector.hex_ids())) return LineVerdict::Ok;
          if (parser.parse(line, parsed, error))
            for (const auto& s : parsed.spans) collector.add_span(s);
          return LineVerdict::Ok;
        },
        /*count=*/false);
  }
  report.slowest_traces = collector.build();
  report.files = reader.summaries();

  if (opts.json) render_json(report, out);
  else render_text(report, opts, out);
  return 0;
}

}  // namespace agent_run::report
