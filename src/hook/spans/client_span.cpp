// Client spans recorded by native handlers (sqlite3), with no Python object.
#define PY_SSIZE_T_CLEAN
#include <cstring>
#include <unordered_map>

#include "hook/spans/clock.hpp"
#include "hook/spans/ids.hpp"
#include "hook/spans/span.hpp"
#include "hook/spans/sql_sanitizer.hpp"
#include "wire/protocol.hpp"

namespace agent_run::spans {
namespace {

// Statement text -> (db.statement as configured, span name). Keyed by the
// str object, which the cache holds a reference to, so its address cannot be
// reused while cached: a query string constant costs one hash lookup.
struct StatementInfo {
  std::string text;       // sanitized, raw (truncated) or empty (off)
  std::string operation;  // "SELECT"...
  // db.operation and db.statement (those not empty) as encoded wire
  // attributes, and how many: what every span of this statement carries.
  std::string encoded_attributes;
  uint32_t encoded_count = 0;
  // The rest of a span of this statement after its head (name, status
  // message, attributes, events), for the db.system of `tail_system`: a
  // span is its head and this, copied as they are into the sink.
  std::string tail;
  std::string tail_system;
};

void append_string_attribute(std::string& out, std::string_view key, std::string_view value) {
  size_t old = out.size();
  out.resize(old + wire::encoded_string_attribute_size(key.size(), value.size()));
  wire::put_string_attribute(reinterpret_cast<uint8_t*>(&out[old]), key.data(), key.size(), value.data(),
                             value.size());
}

void encode_attributes(StatementInfo& info) {
  if (!info.operation.empty()) {
    append_string_attribute(info.encoded_attributes, "db.operation", info.operation);
    ++info.encoded_count;
  }
  if (!info.text.empty()) {
    append_string_attribute(info.encoded_attributes, "db.statement", info.text);
    ++info.encoded_count;
  }
}

struct StatementCache {
  std::unordered_map<PyObject*, StatementInfo> map;
  DbStatementMode mode = DbStatementMode::Sanitized;
  uint32_t max_length = 0;
  static constexpr size_t kMax = 1024;

  void clear() {
    for (auto& e : map) Py_DECREF(e.first);
    map.clear();
  }

  StatementInfo* get(PyObject* statement) {
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
    encode_attributes(info);
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

constexpr std::string_view kDbSystem = "db.system";

// What follows the head in a span of `info`'s statement (or of a statement
// with no text, info null) from `db_system`: the bytes the general path
// below encodes for the same span.
void encode_tail(std::string& out, std::string_view db_system, const StatementInfo* info) {
  std::string_view name = info != nullptr && !info->operation.empty() ? std::string_view(info->operation) : db_system;
  size_t extra = info != nullptr ? info->encoded_attributes.size() : 0;
  out.resize(wire::encoded_string_size(name.size()) + wire::encoded_string_size(0) + 4 +
             wire::encoded_string_attribute_size(kDbSystem.size(), db_system.size()) + extra + 4);
  uint8_t* p = reinterpret_cast<uint8_t*>(&out[0]);
  p = wire::put_string(p, name.data(), name.size());
  p = wire::put_string(p, "", 0);  // status message
  p = wire::put_count(p, 1 + (info != nullptr ? info->encoded_count : 0));
  p = wire::put_string_attribute(p, kDbSystem.data(), kDbSystem.size(), db_system.data(), db_system.size());
  if (extra != 0) {
    std::memcpy(p, info->encoded_attributes.data(), extra);
    p += extra;
  }
  wire::put_count(p, 0);  // events
}

// The span of a statement that returned: its head, made here, and the
// statement's tail, made once, go to the sink as they are. No Span, no
// attribute strings, no copy but the sink's.
void submit_statement_span(std::string_view db_system, StatementInfo* info, uint64_t start_mono,
                           uint64_t end_mono) {
  uint8_t head[wire::kSpanHeadBytes];
  uint8_t trace_id[16], parent_span_id[8] = {}, span_id[8], flags = 1;
  if (!current_parent(trace_id, parent_span_id, &flags)) new_trace_id(trace_id);
  new_span_id(span_id);
  uint64_t start = to_unix_ns(start_mono);
  wire::put_span_head(head, wire::SpanHead{trace_id, span_id, parent_span_id, flags, wire::SpanKind::Client,
                                           wire::StatusCode::Unset, start, start + (end_mono - start_mono)});
  if (info == nullptr) {
    std::string tail;
    encode_tail(tail, db_system, nullptr);
    submit_encoded(head, sizeof head, reinterpret_cast<const uint8_t*>(tail.data()), tail.size());
    return;
  }
  if (info->tail.empty() || info->tail_system != db_system) {
    info->tail_system.assign(db_system.data(), db_system.size());
    encode_tail(info->tail, db_system, info);
  }
  submit_encoded(head, sizeof head, reinterpret_cast<const uint8_t*>(info->tail.data()), info->tail.size());
}

}  // namespace

void ClientSpan::finish_db(const char* db_system, PyObject* statement, PyObject* exc, uint64_t end_mono) {
  if (end_mono == 0) end_mono = monotonic_ns();
  if (start_mono == 0 || start_mono > end_mono) start_mono = end_mono;
  StatementInfo* info =
      statement != nullptr && PyUnicode_Check(statement) ? cache().get(statement) : nullptr;
  if (exc == nullptr) {
    submit_statement_span(db_system, info, start_mono, end_mono);
    return;
  }
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
  set_attr(span, n++, kDbSystem, db_system);
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
