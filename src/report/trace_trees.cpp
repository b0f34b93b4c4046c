#include "report/trace_trees.hpp"

#include <algorithm>

namespace agent_run::report {

namespace {

// Kept spans hold their texts only up to this size, so that N traces of
// max_spans_per_trace spans have a bounded footprint whatever the lines hold.
constexpr size_t kMaxTextBytes = 4096;

void cut(std::string& s) {
  if (s.size() <= kMaxTextBytes) return;
  size_t n = kMaxTextBytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  s += "...";
}

}  // namespace

void TopTraceSelector::add_span(const SpanRecord& span) {
  if (n_ == 0) return;
  const bool candidate = span.parent_span_id == 0 || span.kind == kKindServer || span.kind == kKindConsumer;
  if (!candidate) return;
  const uint64_t d = span.duration_ns();
  auto it = best_.find(span.trace_id);
  if (it != best_.end()) {
    if (d <= it->second.first) return;
    by_duration_.erase({it->second.first, span.trace_id});
    it->second = {d, span.span_id};
    by_duration_.insert({d, span.trace_id});
    return;
  }
  if (by_duration_.size() >= n_) {
    auto shortest = by_duration_.begin();
    if (d <= shortest->first) return;
    best_.erase(shortest->second);
    by_duration_.erase(shortest);
  }
  best_.emplace(span.trace_id, std::make_pair(d, span.span_id));
  by_duration_.insert({d, span.trace_id});
}

std::vector<TopTraceSelector::Pick> TopTraceSelector::picks() const {
  std::vector<Pick> out;
  for (auto it = by_duration_.rbegin(); it != by_duration_.rend(); ++it) {
    const auto& b = best_.at(it->second);
    out.push_back(Pick{it->second, b.first, b.second});
  }
  return out;
}

TraceCollector::TraceCollector(std::vector<TopTraceSelector::Pick> picks, size_t max_spans_per_trace)
    : max_spans_(max_spans_per_trace) {
  for (auto& p : picks) {
    index_[p.trace_id] = traces_.size();
    hex_ids_.push_back(to_hex(p.trace_id));
    traces_.push_back(Collected{p, {}, {}, 0});
  }
  std::sort(hex_ids_.begin(), hex_ids_.end());  // mentions_trace() searches them
}

void TraceCollector::add_span(const SpanRecord& span) {
  auto it = index_.find(span.trace_id);
  if (it == index_.end()) return;
  Collected& c = traces_[it->second];
  if (!c.span_ids.insert(span.span_id).second) return;
  // Keep the root whatever the cap, so the tree always has its top.
  if (c.spans.size() >= max_spans_ && span.span_id != c.pick.root_span_id) {
    ++c.left_out;
    return;
  }
  c.spans.push_back(span);
  SpanRecord& kept = c.spans.back();
  for (std::string* text : {&kept.name, &kept.service, &kept.status_message, &kept.db_statement, &kept.exception}) cut(*text);
}

std::vector<TraceTree> TraceCollector::build() const {
  std::vector<TraceTree> out;
  for (const auto& c : traces_) {
    TraceTree t = build_tree(c.pick.trace_id, c.pick.root_span_id, c.pick.duration_ns, c.spans);
    t.spans += c.left_out;
    t.spans_left_out = c.left_out;
    out.push_back(std::move(t));
  }
  return out;
}

TraceTree build_tree(const TraceId& id, uint64_t root_span_id, uint64_t root_duration_ns,
                     const std::vector<SpanRecord>& spans) {
  TraceTree t;
  t.trace_id = to_hex(id);
  t.duration_ns = root_duration_ns;
  t.spans = spans.size();
  if (spans.empty()) return t;

  std::unordered_map<uint64_t, size_t> by_id;
  for (size_t i = 0; i < spans.size(); ++i) by_id.emplace(spans[i].span_id, i);
  auto by_start = [&](size_t a, size_t b) {
    if (spans[a].start_unix_nano != spans[b].start_unix_nano) return spans[a].start_unix_nano < spans[b].start_unix_nano;
    if (spans[a].end_unix_nano != spans[b].end_unix_nano) return spans[a].end_unix_nano > spans[b].end_unix_nano;
    return spans[a].span_id < spans[b].span_id;
  };

  std::vector<std::vector<size_t>> children(spans.size());
  std::vector<size_t> roots;
  for (size_t i = 0; i < spans.size(); ++i) {
    auto p = spans[i].parent_span_id ? by_id.find(spans[i].parent_span_id) : by_id.end();
    if (p != by_id.end() && p->second != i) children[p->second].push_back(i);
    else roots.push_back(i);
  }
  for (auto& c : children) std::sort(c.begin(), c.end(), by_start);
  // The ranked root first, then other top-level spans (orphans) by start time.
  std::sort(roots.begin(), roots.end(), [&](size_t a, size_t b) {
    const bool ra = spans[a].span_id == root_span_id, rb = spans[b].span_id == root_span_id;
    if (ra != rb) return ra;
    return by_start(a, b);
  });

  uint64_t trace_start = UINT64_MAX;
  for (const auto& s : spans) trace_start = std::min(trace_start, s.start_unix_nano);

  std::vector<bool> visited(spans.size(), false);
  auto emit_from = [&](size_t top) {
    // Iterative pre-order: a deep or malicious trace cannot overflow the stack.
    std::vector<std::pair<size_t, unsigned>> todo{{top, 0}};
    while (!todo.empty()) {
      auto [i, depth] = todo.back();
      todo.pop_back();
      if (visited[i]) continue;
      visited[i] = true;
      const SpanRecord& s = spans[i];
      TreeNode n;
      n.depth = depth;
      n.name = s.name;
      n.kind = kind_name(s.kind);
      n.service = s.service;
      n.statement = s.db_statement;
      n.span_id = to_hex(s.span_id);
      n.start_offset_ns = s.start_unix_nano - trace_start;
      n.duration_ns = s.duration_ns();
      n.status_code = s.status_code;
      n.error = s.status_code == kStatusError;
      n.error_message = !s.status_message.empty() ? s.status_message : s.exception;
      n.parent_missing = depth == 0 && s.parent_span_id != 0;
      t.nodes.push_back(std::move(n));
      for (auto c = children[i].rbegin(); c != children[i].rend(); ++c) todo.push_back({*c, depth + 1});
    }
  };
  for (size_t r : roots) emit_from(r);
  // Spans in a parent cycle are reachable from no root; show them rather than lose them.
  for (size_t i = 0; i < spans.size(); ++i)
    if (!visited[i]) emit_from(i);

  const SpanRecord* root = nullptr;
  for (const auto& s : spans)
    if (s.span_id == root_span_id) root = &s;
  if (!root) root = &spans[roots.empty() ? 0 : roots.front()];
  t.root_name = root->name;
  t.service = root->service;
  t.start_unix_nano = root->start_unix_nano;
  return t;
}

}  // namespace agent_run::report
