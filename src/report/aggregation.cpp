#include "report/aggregation.hpp"

#include <algorithm>
#include <cctype>
#include <string_view>

#include <fmt/format.h>

namespace agent_run::report {

// ---- Latencies ----

void Latencies::add(uint64_t ns) {
  ++count_;
  min_ = std::min(min_, ns);
  max_ = std::max(max_, ns);
  if (approximate_) {
    ++histogram_[bucket_of(ns)];
  } else {
    exact_.push_back(ns);
  }
}

void Latencies::switch_to_histogram() {
  if (approximate_) return;
  for (uint64_t v : exact_) ++histogram_[bucket_of(v)];
  std::deque<uint64_t>().swap(exact_);
  approximate_ = true;
}

uint32_t Latencies::bucket_of(uint64_t ns) {
  if (ns < 256) return static_cast<uint32_t>(ns);  // below 256 ns, every value is its own bucket
  const unsigned top_bit = 63u - static_cast<unsigned>(__builtin_clzll(ns));
  const unsigned shift = top_bit - 7;                     // keep 8 significant bits
  const uint64_t mantissa = ns >> shift;                  // 128..255
  return 256u + (shift - 1) * 128u + static_cast<uint32_t>(mantissa - 128);
}

uint64_t Latencies::bucket_value(uint32_t bucket) {
  if (bucket < 256) return bucket;
  const unsigned shift = (bucket - 256) / 128 + 1;
  const uint64_t mantissa = (bucket - 256) % 128 + 128;
  const uint64_t low = mantissa << shift;
  const uint64_t high = ((mantissa + 1) << shift) - 1;
  return low + (high - low) / 2;
}

uint64_t Latencies::percentile(double p) {
  if (count_ == 0) return 0;
  // Nearest rank: ceil(p/100 * n), at least 1. Computed on integers (p in
  // hundredths of a percent) so that 95% of 20 is exactly rank 19.
  const uint64_t p100 = static_cast<uint64_t>(p * 100.0 + 0.5);
  uint64_t rank = (p100 * count_ + 9999) / 10000;
  rank = std::clamp<uint64_t>(rank, 1, count_);
  if (!approximate_) {
    auto nth = exact_.begin() + static_cast<std::ptrdiff_t>(rank - 1);
    std::nth_element(exact_.begin(), nth, exact_.end());
    return *nth;
  }
  // The extremes are known exactly even when the rest is bucketed.
  if (rank == 1) return min_;
  if (rank == count_) return max_;
  uint64_t seen = 0;
  for (const auto& [bucket, n] : histogram_) {
    seen += n;
    if (seen >= rank) return std::clamp(bucket_value(bucket), min_, max_);
  }
  return max_;
}

// ---- naming ----

std::string statement_operation(const std::string& statement) {
  size_t i = 0;
  const size_t n = statement.size();
  // Skip leading blanks, parentheses and SQL comments before the verb.
  for (;;) {
    while (i < n && (std::isspace(static_cast<unsigned char>(statement[i])) || statement[i] == '(')) ++i;
    if (i + 1 < n && statement[i] == '-' && statement[i + 1] == '-') {
      while (i < n && statement[i] != '\n') ++i;
    } else if (i + 1 < n && statement[i] == '/' && statement[i + 1] == '*') {
      const size_t close = statement.find("*/", i + 2);
      i = close == std::string::npos ? n : close + 2;
    } else {
      break;
    }
  }
  std::string op;
  while (i < n && (std::isalnum(static_cast<unsigned char>(statement[i])) || statement[i] == '_') && op.size() < 32)
    op += static_cast<char>(std::toupper(static_cast<unsigned char>(statement[i++])));
  return op;
}

std::string operation_name(const SpanRecord& span) {
  if (span.kind == kKindClient && (!span.db_statement.empty() || !span.db_operation.empty())) {
    std::string op = span.db_operation.empty() ? statement_operation(span.db_statement) : span.db_operation;
    if (op.empty()) op = span.name;
    return span.db_system.empty() ? op : span.db_system + " " + op;
  }
  return span.name;
}

// ---- Aggregator ----

namespace {

// At most `max` bytes, cut on a UTF-8 character boundary, "..." appended when cut.
std::string_view bounded(const std::string& s, size_t max, std::string& scratch) {
  if (s.size() <= max) return s;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  scratch.assign(s, 0, cut);
  scratch += "...";
  return scratch;
}

}  // namespace

Aggregator::Op& Aggregator::op_for(const SpanRecord& span) {
  const std::string full_name = operation_name(span);
  std::string scratch;
  const std::string name(bounded(full_name, limits_.max_name_bytes, scratch));
  const char* kind = kind_name(span.kind);
  key_.clear();
  key_.append(span.service).push_back('\x1f');
  key_.append(kind).push_back('\x1f');
  key_.append(name);
  auto it = ops_.find(key_);
  if (it != ops_.end()) return *it->second;
  if (ops_.size() >= limits_.max_operations) {
    if (!other_op_) {
      other_op_ = std::make_unique<Op>();
      other_op_->service = "*";
      other_op_->kind = "*";
      other_op_->name = fmt::format("(other: operations beyond the first {})", limits_.max_operations);
    }
    ++ops_folded_;
    return *other_op_;
  }
  auto op = std::make_unique<Op>();
  op->service = span.service;
  op->kind = kind;
  op->name = name;
  return *ops_.emplace(key_, std::move(op)).first->second;
}

void Aggregator::enforce_sample_budget() {
  // Give up exactness where it frees the most memory: the biggest operation first.
  while (exact_samples_ > limits_.max_exact_samples) {
    Op* biggest = nullptr;
    for (auto& [k, op] : ops_)
      if (!biggest || op->latencies.exact_samples() > biggest->latencies.exact_samples()) biggest = op.get();
    if (other_op_ && (!biggest || other_op_->latencies.exact_samples() > biggest->latencies.exact_samples()))
      biggest = other_op_.get();
    if (!biggest || biggest->latencies.exact_samples() == 0) break;
    exact_samples_ -= biggest->latencies.exact_samples();
    biggest->latencies.switch_to_histogram();
  }
}

void Aggregator::add_span(const SpanRecord& span) {
  const uint64_t d = span.duration_ns();
  const bool error = span.status_code == kStatusError;
  ++spans_;
  if (span.parent_span_id == 0) ++root_spans_;
  first_start_ = std::min(first_start_, span.start_unix_nano);
  last_end_ = std::max(last_end_, span.end_unix_nano);

  Op& op = op_for(span);
  op.errors += error;
  op.total_ns += d;
  op.max_ns = std::max(op.max_ns, d);
  const bool was_exact = !op.latencies.approximate();
  op.latencies.add(d);
  if (was_exact && ++exact_samples_ > limits_.max_exact_samples) enforce_sample_budget();

  if (!span.db_statement.empty()) {
    std::string scratch;
    const std::string_view text = bounded(span.db_statement, limits_.max_statement_bytes, scratch);
    Stmt* st;
    key_.assign(text.data(), text.size());
    auto it = statements_.find(key_);
    if (it != statements_.end()) st = &it->second;
    else if (statements_.size() < limits_.max_statements) st = &statements_[key_];
    else st = &other_statements_;
    ++st->count;
    st->errors += error;
    st->total_ns += d;
    st->max_ns = std::max(st->max_ns, d);
  }
}

void Aggregator::add_stats(const StatsRecord& stats) {
  stats_seen_ = true;
  stats_[{stats.service, stats.pid}] = stats;
}

void Aggregator::finish(Report& report, size_t statement_rows) {
  report.spans = spans_;
  report.root_spans = root_spans_;
  report.first_start_unix_nano = spans_ ? first_start_ : 0;
  report.last_end_unix_nano = last_end_;

  auto row_of = [](Op& op) {
    OperationRow r;
    r.service = op.service;
    r.kind = op.kind;
    r.name = op.name;
    r.count = op.latencies.count();
    r.errors = op.errors;
    r.total_ns = op.total_ns;
    r.max_ns = op.max_ns;
    r.p50_ns = op.latencies.percentile(50);
    r.p95_ns = op.latencies.percentile(95);
    r.p99_ns = op.latencies.percentile(99);
    r.approximate = op.latencies.approximate();
    return r;
  };
  report.operations.clear();
  for (auto& [k, op] : ops_) report.operations.push_back(row_of(*op));
  std::sort(report.operations.begin(), report.operations.end(), [](const OperationRow& a, const OperationRow& b) {
    if (a.count != b.count) return a.count > b.count;
    if (a.service != b.service) return a.service < b.service;
    if (a.name != b.name) return a.name < b.name;
    return a.kind < b.kind;
  });
  if (other_op_) report.operations.push_back(row_of(*other_op_));  // last, whatever its count
  report.operations_folded = ops_folded_;

  std::vector<StatementRow> all;
  all.reserve(statements_.size());
  for (const auto& [text, s] : statements_) all.push_back(StatementRow{text, s.count, s.errors, s.total_ns, s.max_ns});
  report.distinct_statements = statements_.size();
  report.statements_folded = other_statements_.count;
  auto top_by = [&](auto greater) {
    std::vector<StatementRow> rows = all;
    const size_t n = std::min(statement_rows, rows.size());
    auto cmp = [&](const StatementRow& a, const StatementRow& b) {
      if (greater(a, b)) return true;
      if (greater(b, a)) return false;
      return a.statement < b.statement;  // stable output for equal values
    };
    std::partial_sort(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(n), rows.end(), cmp);
    rows.resize(n);
    return rows;
  };
  report.statements_by_count = top_by([](const StatementRow& a, const StatementRow& b) { return a.count > b.count; });
  report.statements_by_total = top_by([](const StatementRow& a, const StatementRow& b) { return a.total_ns > b.total_ns; });
  report.statements_by_max = top_by([](const StatementRow& a, const StatementRow& b) { return a.max_ns > b.max_ns; });

  report.stats_seen = stats_seen_;
  report.drops.clear();
  report.dropped_spans_total = 0;
  std::map<std::string, PluginRow> plugins;
  for (const auto& [key, st] : stats_) {
    if (st.has_dropped_spans) {
      report.drops.push_back(ProcessDrops{st.service, st.pid, st.dropped_spans});
      report.dropped_spans_total += st.dropped_spans;
    }
    for (const auto& p : st.plugins) {
      PluginRow& row = plugins[p.name];
      row.name = p.name;
      row.calls += p.calls;
      row.errors += p.errors;
      ++row.processes;
      const bool unplugged = p.state == "unplugged";
      if (unplugged) row.unplugged_in.push_back(fmt::format("{} (pid {})", st.service, st.pid));
      if (row.state != "unplugged") row.state = p.state;
      // Prefer the error that made a process unplug the plugin.
      if (!p.last_error.empty() && (row.last_error.empty() || unplugged)) row.last_error = p.last_error;
    }
  }
  std::sort(report.drops.begin(), report.drops.end(), [](const ProcessDrops& a, const ProcessDrops& b) {
    if (a.dropped_spans != b.dropped_spans) return a.dropped_spans > b.dropped_spans;
    return std::tie(a.service, a.pid) < std::tie(b.service, b.pid);
  });
  report.plugins.clear();
  for (auto& [name, row] : plugins) report.plugins.push_back(std::move(row));
  std::stable_sort(report.plugins.begin(), report.plugins.end(), [](const PluginRow& a, const PluginRow& b) {
    return (a.state == "unplugged") > (b.state == "unplugged");  // problems first
  });
}

}  // namespace agent_run::report
