// Client spans recorded by native handlers (sqlite3), with no Python object.
#define PY_SSIZE_T_CLEAN
#include <cstring>
#include <unordered_map>

#include "hook/spans/clock.hpp"
#include "hook/spans/ids.hpp"
#include "hook/spans/span.hpp"
#include "hook/spans/sql_sanitizer.hpp"

namespace agent_run::spans {
namespace {

// Statement text -> (db.statement as configured, span name). Keyed by the
// str object, which the cache holds a reference to, so its address cannot be
// reused while cached: a query string constant costs one hash lookup.
struct StatementInfo {
  std::string text;       // sanitized, raw (truncated) or empty (off)
  std::string operation;  // "SELECT"...
};

struct StatementCache {
  std::unordered_map<PyObject*, StatementInfo> map;
  DbStatementMode mode = DbStatementMode::Sanitized;
  uint32_t max_length = 0;
  static constexpr size_t kMax = 1024;

  void clear() {
    for (auto& e : map) Py_DECREF(e.first);
    map.clear();
  }

  const StatementInfo* get(PyObject* statement) {
    const Limits& l = limits();
    if (l.db_statement != mode || l.max_attribute_length != max_length) {
      clear();
      mode = l.db_statement;
      max_length = l.max_attribute_length;
    }
    auto it = map.find(statement);
    if (it != map.end()) return &it->second;
    Py_ssize_t n = 0;
    const char* s = PyUnicode_AsUTF8AndSize(statement, &n);
    if (s == nullptr) {
      PyErr_Clear();
      return nullptr;
    }
    std::string_view sv(s, size_t(n));
    StatementInfo info;
    info.operation = sql_operation(sv);
    if (mode == DbStatementMode::Sanitized) info.text = sanitize_sql(sv, max_length);
    else if (mode == DbStatementMode::Raw) info.text = std::string(sv.substr(0, utf8_cut(sv, max_length)));
    if (map.size() >= kMax) clear();
    Py_INCREF(statement);
    return &map.emplace(statement, std::move(info)).first->second;
  }
};

StatementCache& cache() {
  static StatementCache* c = new StatementCache();  // never destroyed: holds Python refs
  return *c;
}

}  // namespace

void ClientSpan::begin() { start_mono = monotonic_ns(); }

namespace {

// One reusable record: client spans are made under the GIL, one at a time,
// so keeping the strings' and vectors' capacity saves the allocations. A
// nested use (str() of an exception running code that queries) gets a fresh one.
wire::Span* g_scratch = nullptr;
bool g_scratch_busy = false;

inline void set_attr(wire::Span& span, size_t i, std::string_view key, std::string_view value) {
  if (span.attributes.size() <= i) span.attributes.emplace_back();
  wire::Attribute& a = span.attributes[i];
  if (a.key != key) a.key.assign(key.data(), key.size());
  if (auto* s = std::get_if<std::string>(&a.value)) s->assign(value.data(), value.size());
  else a.value = std::string(value);
}

}  // namespace

void ClientSpan::finish_db(const char* db_system, PyObject* statement, PyObject* exc, uint64_t end_mono) {
  if (end_mono == 0) end_mono = monotonic_ns();
  if (start_mono == 0 || start_mono > end_mono) start_mono = end_mono;
  wire::Span local;
  bool use_scratch = !g_scratch_busy;
  if (use_scratch && g_scratch == nullptr) g_scratch = new wire::Span();
  wire::Span& span = use_scratch ? *g_scratch : local;
  g_scratch_busy = g_scratch_busy || use_scratch;
  if (!current_parent(span.trace_id, span.parent_span_id, &span.trace_flags)) {
    new_trace_id(span.trace_id);
    std::memset(span.parent_span_id, 0, 8);
    span.trace_flags = 1;
  }
  new_span_id(span.span_id);
  span.kind = wire::SpanKind::Client;
  span.start_unix_nano = to_unix_ns(start_mono);
  span.end_unix_nano = span.start_unix_nano + (end_mono - start_mono);
  span.status_code = wire::StatusCode::Unset;
  span.status_message.clear();
  span.dropped_attributes_count = 0;
  size_t n = 0;
  const StatementInfo* info =
      statement != nullptr && PyUnicode_Check(statement) ? cache().get(statement) : nullptr;
  set_attr(span, n++, "db.system", db_system);
  if (info != nullptr && !info->operation.empty()) {
    span.name.assign(info->operation);
    set_attr(span, n++, "db.operation", info->operation);
  } else {
    span.name.assign(db_system);
  }
  if (info != nullptr && !info->text.empty()) set_attr(span, n++, "db.statement", info->text);
  span.attributes.resize(n);
  span.events.clear();
  if (exc != nullptr) record_exception(span, exc, true);
  submit(span);
  if (use_scratch) g_scratch_busy = false;
}

}  // namespace agent_run::spans
