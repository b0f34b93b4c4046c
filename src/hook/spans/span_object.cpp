// The Span Python type and the current-span ContextVar.
#define PY_SSIZE_T_CLEAN
#include "hook/compat.hpp"
#include "hook/spans/span.hpp"

#include <atomic>
#include <cstring>
#include <new>
#include <type_traits>

#include "hook/spans/clock.hpp"
#include "hook/spans/ids.hpp"
#include "hook/spans/sql_sanitizer.hpp"
#include "hook/spans/traceparent.hpp"
#include "wire/span_sink.hpp"

namespace agent_run::spans {

namespace {
PyObject* g_current_var = nullptr;
std::atomic<uint64_t> g_ended{0};
}  // namespace

Limits& limits() {
  static Limits l;
  return l;
}

PyObject* current_span_var() {
  if (g_current_var == nullptr) g_current_var = PyContextVar_New("agent_run.current_span", nullptr);
  return g_current_var;
}

SpanObject* current_span() {
  PyObject* var = current_span_var();
  if (var == nullptr) {
    PyErr_Clear();
    return nullptr;
  }
  PyObject* v = nullptr;
  if (PyContextVar_Get(var, nullptr, &v) < 0) {
    PyErr_Clear();
    return nullptr;
  }
  if (v == nullptr) return nullptr;
  if (!is_span(v)) {
    Py_DECREF(v);
    return nullptr;
  }
  return reinterpret_cast<SpanObject*>(v);
}

bool current_parent(uint8_t trace_id[16], uint8_t parent_span_id[8], uint8_t* flags) {
  SpanObject* p = current_span();
  if (p == nullptr) return false;
  std::memcpy(trace_id, p->span.trace_id, 16);
  std::memcpy(parent_span_id, p->span.span_id, 8);
  *flags = p->span.trace_flags;
  Py_DECREF(p);
  return true;
}

void truncate_in_place(std::string& s) {
  size_t max = limits().max_attribute_length;
  if (s.size() > max) s.resize(utf8_cut(s, max));
}

std::string truncate(std::string s) {
  truncate_in_place(s);
  return s;
}

void set_attribute(wire::Span& span, std::string_view key, wire::AttributeValue value) {
  if (auto* str = std::get_if<std::string>(&value)) truncate_in_place(*str);
  for (auto& a : span.attributes) {
    if (a.key == key) {
      a.value = std::move(value);
      return;
    }
  }
  if (span.attributes.size() >= limits().max_attributes) {
    ++span.dropped_attributes_count;
    return;
  }
  span.attributes.push_back(wire::Attribute{std::string(key), std::move(value)});
}

namespace {

// Attribute vectors of ended spans (spans start and end under the GIL).
constexpr int kPoolSize = 8;
std::vector<wire::Attribute> g_attr_pool[kPoolSize];
int g_attr_pool_n = 0;

void recycle_attributes(std::vector<wire::Attribute>& v) {
  if (g_attr_pool_n < kPoolSize && v.capacity() != 0) {
    g_attr_pool[g_attr_pool_n++].swap(v);
  }
  std::vector<wire::Attribute>().swap(v);
}

// Encoded-attribute buffers of ended spans (under the GIL, as above).
WireBytes g_encoded_pool[kPoolSize];
int g_encoded_pool_n = 0;

void recycle_encoded(SpanObject* s) {
  s->encoded_count = s->start_count = 0;
  s->encoded_attrs.size = s->start_bytes = 0;
  if (g_encoded_pool_n < kPoolSize && s->encoded_attrs.capacity != 0)
    std::swap(g_encoded_pool[g_encoded_pool_n++], s->encoded_attrs);
  s->encoded_attrs = WireBytes();
}

wire::EncodedAttributes encoded_of(const SpanObject* s) {
  return wire::EncodedAttributes{s->encoded_attrs.data.get(), s->encoded_attrs.size, s->encoded_count};
}

std::string_view clamp_value(std::string_view value) {
  size_t max = limits().max_attribute_length;
  return value.size() > max ? value.substr(0, utf8_cut(value, max)) : value;
}

void append_encoded(SpanObject* s, std::string_view key, std::string_view value) {
  value = clamp_value(value);
  uint8_t* p = s->encoded_attrs.extend(wire::encoded_string_attribute_size(key.size(), value.size()));
  wire::put_string_attribute(p, key.data(), key.size(), value.data(), value.size());
  ++s->encoded_count;
}

void append_encoded(SpanObject* s, std::string_view key, int64_t value) {
  uint8_t* p = s->encoded_attrs.extend(wire::encoded_int_attribute_size(key.size()));
  wire::put_int_attribute(p, key.data(), key.size(), value);
  ++s->encoded_count;
}

// Whether the limits leave room for one more encoded attribute; if not, it
// is counted as dropped.
bool encoded_room(SpanObject* s) {
  if (s->encoded_count < limits().max_attributes && s->encoded_count < wire::kMaxAttributes) return true;
  ++s->span.dropped_attributes_count;
  return false;
}

// Whether an attribute more is encoded: Yes while all so far are and the
// key is new, Dropped (and counted) at the limit, else No (set_attribute).
// search=false: the caller knows the key is new (add_span_attribute).
enum class Encode { Yes, No, Dropped };
Encode may_encode(SpanObject* s, std::string_view key, bool search) {
  if (s->encoded_count == 0 || !s->span.attributes.empty()) return Encode::No;
  if (search) {
    // Only those set after the start can have it (the caller's promise).
    const wire::EncodedAttributes later{s->encoded_attrs.data.get() + s->start_bytes,
                                        s->encoded_attrs.size - s->start_bytes, s->encoded_count - s->start_count};
    if (later.count != 0 && wire::has_key(later, key.data(), key.size())) return Encode::No;
  }
  return encoded_room(s) ? Encode::Yes : Encode::Dropped;
}

// set_span_attribute() and add_span_attribute() for either kind of value.
template <typename Value>
void set_encoded_or_plain(SpanObject* s, std::string_view key, Value value, bool search) {
  Encode e = may_encode(s, key, search);
  if (e == Encode::Yes) append_encoded(s, key, value);
  if (e != Encode::No) return;
  materialize_attributes(s);
  if constexpr (std::is_same_v<Value, std::string_view>) set_attribute(s->span, key, std::string(value));
  else set_attribute(s->span, key, value);
}

}  // namespace

void WireBytes::grow(size_t need) {
  size_t cap = capacity < 256 ? 256 : capacity;
  while (cap < need) cap *= 2;
  std::unique_ptr<uint8_t[]> bigger(new uint8_t[cap]);
  if (size != 0) std::memcpy(bigger.get(), data.get(), size);
  data = std::move(bigger);
  capacity = cap;
}

EncodedAttributeWriter::EncodedAttributeWriter(SpanObject* s) : s_(s) {
  if (s->encoded_count == 0 && s->encoded_attrs.capacity == 0 && g_encoded_pool_n > 0)
    std::swap(s->encoded_attrs, g_encoded_pool[--g_encoded_pool_n]);
}

EncodedAttributeWriter::~EncodedAttributeWriter() {
  s_->start_count = s_->encoded_count;
  s_->start_bytes = s_->encoded_attrs.size;
}

void EncodedAttributeWriter::put(std::string_view key, std::string_view value) {
  if (encoded_room(s_)) append_encoded(s_, key, value);
}

void EncodedAttributeWriter::put(std::string_view key, int64_t value) {
  if (encoded_room(s_)) append_encoded(s_, key, value);
}

void materialize_attributes(SpanObject* s) {
  if (s->encoded_count == 0) return;
  std::vector<wire::Attribute> attrs;
  // Our own bytes, written by append_encoded: they decode.
  wire::decode_attributes(s->encoded_attrs.data.get(), s->encoded_attrs.size, s->encoded_count, attrs);
  for (auto& a : s->span.attributes) attrs.push_back(std::move(a));
  s->span.attributes.swap(attrs);
  recycle_encoded(s);
}

void set_span_attribute(SpanObject* s, std::string_view key, std::string_view value) {
  set_encoded_or_plain(s, key, value, true);
}

void set_span_attribute(SpanObject* s, std::string_view key, int64_t value) {
  set_encoded_or_plain(s, key, value, true);
}

void add_span_attribute(SpanObject* s, std::string_view key, std::string_view value) {
  set_encoded_or_plain(s, key, value, false);
}

void add_span_attribute(SpanObject* s, std::string_view key, int64_t value) {
  set_encoded_or_plain(s, key, value, false);
}

namespace {

bool utf8_of(PyObject* o, std::string& out) {
  Py_ssize_t n = 0;
  const char* s = PyUnicode_AsUTF8AndSize(o, &n);
  if (s == nullptr) {
    PyErr_Clear();
    return false;
  }
  out.assign(s, size_t(n));
  return true;
}

bool str_of(PyObject* o, std::string& out) {
  PyObject* s = PyObject_Str(o);
  if (s == nullptr) {
    PyErr_Clear();
    return false;
  }
  bool ok = utf8_of(s, out);
  Py_DECREF(s);
  return ok;
}

}  // namespace

int set_attribute_py(wire::Span& span, PyObject* key, PyObject* value) {
  if (!PyUnicode_Check(key)) {
    PyErr_SetString(PyExc_TypeError, "attribute keys are str");
    return -1;
  }
  std::string k;
  if (!utf8_of(key, k)) {
    PyErr_SetString(PyExc_ValueError, "attribute key is not valid UTF-8");
    return -1;
  }
  if (value == Py_None) return 0;  // OpenTelemetry: None is not a valid value; ignored
  if (PyBool_Check(value)) {
    set_attribute(span, k, value == Py_True);
  } else if (PyLong_Check(value)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (overflow != 0 || (v == -1 && PyErr_Occurred())) {
      PyErr_Clear();
      std::string s;
      if (str_of(value, s)) set_attribute(span, k, std::move(s));
    } else {
      set_attribute(span, k, int64_t(v));
    }
  } else if (PyFloat_Check(value)) {
    set_attribute(span, k, PyFloat_AS_DOUBLE(value));
  } else if (PyUnicode_Check(value)) {
    std::string s;
    if (utf8_of(value, s)) set_attribute(span, k, std::move(s));
  } else {
    std::string s;
    if (str_of(value, s)) set_attribute(span, k, std::move(s));
  }
  return 0;
}

namespace {

std::string type_name(PyObject* type) {
  std::string qual, mod;
  PyObject* q = PyObject_GetAttrString(type, "__qualname__");
  if (q != nullptr && PyUnicode_Check(q)) utf8_of(q, qual);
  Py_XDECREF(q);
  PyObject* m = PyObject_GetAttrString(type, "__module__");
  if (m != nullptr && PyUnicode_Check(m)) utf8_of(m, mod);
  Py_XDECREF(m);
  PyErr_Clear();
  if (qual.empty()) qual = reinterpret_cast<PyTypeObject*>(type)->tp_name;
  if (mod.empty() || mod == "builtins") return qual;
  return mod + "." + qual;
}

// "Traceback (most recent call last):\n  File "f", line 3, in g\n...Type: msg"
// built natively from the traceback chain (no traceback/linecache import).
std::string stacktrace(PyObject* exc, const std::string& type, const std::string& message) {
  std::string out = "Traceback (most recent call last):\n";
  PyObject* tb = PyException_GetTraceback(exc);  // new ref or null
  int depth = 0;
  while (tb != nullptr && tb != Py_None && depth < 64) {
    PyObject* frame = PyObject_GetAttrString(tb, "tb_frame");
    PyObject* lineno = PyObject_GetAttrString(tb, "tb_lineno");
    PyObject* code = frame ? PyObject_GetAttrString(frame, "f_code") : nullptr;
    PyObject* filename = code ? PyObject_GetAttrString(code, "co_filename") : nullptr;
    PyObject* name = code ? PyObject_GetAttrString(code, "co_name") : nullptr;
    std::string f, n;
    if (filename && PyUnicode_Check(filename)) utf8_of(filename, f);
    if (name && PyUnicode_Check(name)) utf8_of(name, n);
    long line = lineno ? PyLong_AsLong(lineno) : -1;
    out += "  File \"" + f + "\", line " + std::to_string(line) + ", in " + n + "\n";
    Py_XDECREF(frame);
    Py_XDECREF(lineno);
    Py_XDECREF(code);
    Py_XDECREF(filename);
    Py_XDECREF(name);
    PyObject* next = PyObject_GetAttrString(tb, "tb_next");
    Py_DECREF(tb);
    tb = next;
    ++depth;
  }
  Py_XDECREF(tb);
  PyErr_Clear();
  out += type;
  if (!message.empty()) out += ": " + message;
  return out;
}

}  // namespace

void record_exception(wire::Span& span, PyObject* exc, bool set_error_status) {
  if (exc == nullptr || exc == Py_None) return;
  // Keep whatever exception is being handled intact around our own calls.
  agent_run::hook::SavedError saved;  // put back below; errors of our own calls are cleared first
  saved.fetch();
  std::string type = type_name(reinterpret_cast<PyObject*>(Py_TYPE(exc)));
  std::string message;
  str_of(exc, message);
  if (span.events.size() < limits().max_events) {
    wire::Event ev;
    ev.time_unix_nano = now_unix_ns();
    ev.name = "exception";
    ev.attributes.push_back({"exception.type", type});
    ev.attributes.push_back({"exception.message", truncate(message)});
    ev.attributes.push_back({"exception.stacktrace", truncate(stacktrace(exc, type, message))});
    span.events.push_back(std::move(ev));
  }
  if (set_error_status) {
    span.status_code = wire::StatusCode::Error;
    span.status_message = truncate(message.empty() ? type : type + ": " + message);
  }
  PyErr_Clear();
  saved.restore();
}

void submit(const wire::Span& span, const wire::EncodedAttributes& first) {
  g_ended.fetch_add(1, std::memory_order_relaxed);
  wire::SpanSink::instance().submit(span, first);
}

void submit_encoded(const uint8_t* head, size_t head_size, const uint8_t* body, size_t body_size) {
  g_ended.fetch_add(1, std::memory_order_relaxed);
  wire::SpanSink::instance().submit_encoded(head, head_size, body, body_size);
}

uint64_t spans_ended() { return g_ended.load(std::memory_order_relaxed); }

SpanObject* new_span(std::string name, wire::SpanKind kind, SpanObject* parent, const char* traceparent,
                     bool use_current) {
  SpanObject* s = PyObject_New(SpanObject, &SpanType);
  if (s == nullptr) return nullptr;
  new (&s->span) wire::Span();
  new (&s->encoded_attrs) WireBytes();
  s->encoded_count = s->start_count = 0;
  s->start_bytes = 0;
  s->method_length = 0;
  s->token = nullptr;
  s->previous = nullptr;
  s->ended = false;
  s->span.name = truncate(std::move(name));
  s->span.kind = kind;
  TraceParent tp;
  if (traceparent != nullptr && parse_traceparent(traceparent, tp)) {
    std::memcpy(s->span.trace_id, tp.trace_id, 16);
    std::memcpy(s->span.parent_span_id, tp.span_id, 8);
    s->span.trace_flags = tp.flags;
  } else if (parent != nullptr) {
    std::memcpy(s->span.trace_id, parent->span.trace_id, 16);
    std::memcpy(s->span.parent_span_id, parent->span.span_id, 8);
    s->span.trace_flags = parent->span.trace_flags;
  } else if (!use_current || !current_parent(s->span.trace_id, s->span.parent_span_id, &s->span.trace_flags)) {
    new_trace_id(s->span.trace_id);
    s->span.trace_flags = 1;
  }
  new_span_id(s->span.span_id);
  s->start_mono = monotonic_ns();
  s->span.start_unix_nano = to_unix_ns(s->start_mono);
  return s;
}

int activate(SpanObject* s) {
  if (s->token != nullptr) return 0;  // already active
  PyObject* var = current_span_var();
  if (var == nullptr) return -1;
  PyObject* prev = nullptr;
  if (PyContextVar_Get(var, nullptr, &prev) < 0) return -1;
  if (prev == nullptr) {
    // First activation in this context: None first, once. Then this and every
    // later activation replaces a value in the context's mapping, and the
    // reset puts None back, instead of inserting and removing the key (node
    // allocations and copies per request).
    PyObject* t = PyContextVar_Set(var, Py_None);
    if (t == nullptr) return -1;
    Py_DECREF(t);
    Py_INCREF(Py_None);
    prev = Py_None;
  }
  PyObject* token = PyContextVar_Set(var, reinterpret_cast<PyObject*>(s));
  if (token == nullptr) {
    Py_XDECREF(prev);
    return -1;
  }
  s->token = token;
  s->previous = prev;
  return 0;
}

void deactivate(SpanObject* s) {
  if (s->token == nullptr) return;
  PyObject* var = current_span_var();
  PyObject* token = s->token;
  PyObject* prev = s->previous;
  s->token = nullptr;
  s->previous = nullptr;
  agent_run::hook::SavedError saved;  // put back below; errors of our own calls are cleared first
  saved.fetch();
  if (PyContextVar_Reset(var, token) < 0) {
    // Another context than the one it was activated in (a generator
    // resumed elsewhere): put back what was current before, if we can.
    PyErr_Clear();
    SpanObject* cur = current_span();
    if (cur == s) {
      PyObject* t = PyContextVar_Set(var, prev ? prev : Py_None);
      Py_XDECREF(t);
      PyErr_Clear();
    }
    Py_XDECREF(cur);
  }
  Py_DECREF(token);
  Py_XDECREF(prev);
  PyErr_Clear();
  saved.restore();
}

void end_span(SpanObject* s, uint64_t end_mono) {
  if (s->ended) return;
  s->ended = true;
  if (end_mono == 0) end_mono = monotonic_ns();
  s->span.end_unix_nano = s->span.start_unix_nano + (end_mono - s->start_mono);
  submit(s->span, encoded_of(s));
  // Keep ids and name (still readable); free the rest (the attributes'
  // storage goes to the next server span).
  recycle_attributes(s->span.attributes);
  recycle_encoded(s);
  std::vector<wire::Event>().swap(s->span.events);
}

// ---- the Python type ----

namespace {

void span_dealloc(PyObject* self) {
  auto* s = reinterpret_cast<SpanObject*>(self);
  Py_CLEAR(s->token);
  Py_CLEAR(s->previous);
  s->span.~Span();
  s->encoded_attrs.~WireBytes();
  PyObject_Free(self);
}

PyObject* span_end(PyObject* self, PyObject*) {
  auto* s = reinterpret_cast<SpanObject*>(self);
  deactivate(s);
  end_span(s);
  Py_RETURN_NONE;
}

PyObject* span_set_attribute(PyObject* self, PyObject* args) {
  PyObject *k, *v;
  if (!PyArg_ParseTuple(args, "OO:set_attribute", &k, &v)) return nullptr;
  auto* s = reinterpret_cast<SpanObject*>(self);
  if (s->ended) Py_RETURN_NONE;
  materialize_attributes(s);
  if (set_attribute_py(s->span, k, v) < 0) return nullptr;
  Py_RETURN_NONE;
}

PyObject* span_set_attributes(PyObject* self, PyObject* mapping) {
  auto* s = reinterpret_cast<SpanObject*>(self);
  if (!PyDict_Check(mapping)) {
    PyErr_SetString(PyExc_TypeError, "set_attributes() takes a dict");
    return nullptr;
  }
  if (s->ended) Py_RETURN_NONE;
  materialize_attributes(s);
  Py_ssize_t pos = 0;
  PyObject *k, *v;
  while (PyDict_Next(mapping, &pos, &k, &v))
    if (set_attribute_py(s->span, k, v) < 0) return nullptr;
  Py_RETURN_NONE;
}

PyObject* span_record_exception(PyObject* self, PyObject* args) {
  PyObject* exc;
  int set_status = 0;
  if (!PyArg_ParseTuple(args, "O|p:record_exception", &exc, &set_status)) return nullptr;
  auto* s = reinterpret_cast<SpanObject*>(self);
  if (!s->ended && PyExceptionInstance_Check(exc)) record_exception(s->span, exc, set_status != 0);
  Py_RETURN_NONE;
}

PyObject* span_set_status(PyObject* self, PyObject* args) {
  int code;
  const char* message = nullptr;
  if (!PyArg_ParseTuple(args, "i|z:set_status", &code, &message)) return nullptr;
  if (code < 0 || code > 2) {
    PyErr_SetString(PyExc_ValueError, "status code is 0 (unset), 1 (ok) or 2 (error)");
    return nullptr;
  }
  auto* s = reinterpret_cast<SpanObject*>(self);
  if (s->ended) Py_RETURN_NONE;
  s->span.status_code = wire::StatusCode(code);
  s->span.status_message = code == 2 && message ? truncate(message) : std::string();
  Py_RETURN_NONE;
}

PyObject* span_activate(PyObject* self, PyObject*) {
  if (activate(reinterpret_cast<SpanObject*>(self)) < 0) return nullptr;
  Py_INCREF(self);
  return self;
}

PyObject* span_deactivate(PyObject* self, PyObject*) {
  deactivate(reinterpret_cast<SpanObject*>(self));
  Py_RETURN_NONE;
}

PyObject* span_exit(PyObject* self, PyObject* args) {
  PyObject *t = Py_None, *v = Py_None, *tb = Py_None;
  if (!PyArg_ParseTuple(args, "|OOO:__exit__", &t, &v, &tb)) return nullptr;
  auto* s = reinterpret_cast<SpanObject*>(self);
  if (v != Py_None && PyExceptionInstance_Check(v) && !s->ended) record_exception(s->span, v, true);
  deactivate(s);
  end_span(s);
  Py_RETURN_FALSE;
}

PyObject* get_trace_id(PyObject* self, void*) {
  auto& sp = reinterpret_cast<SpanObject*>(self)->span;
  return PyUnicode_FromString(to_hex(sp.trace_id, 16).c_str());
}
PyObject* get_span_id(PyObject* self, void*) {
  auto& sp = reinterpret_cast<SpanObject*>(self)->span;
  return PyUnicode_FromString(to_hex(sp.span_id, 8).c_str());
}
PyObject* get_parent_span_id(PyObject* self, void*) {
  auto& sp = reinterpret_cast<SpanObject*>(self)->span;
  static const uint8_t zero[8] = {};
  if (std::memcmp(sp.parent_span_id, zero, 8) == 0) Py_RETURN_NONE;
  return PyUnicode_FromString(to_hex(sp.parent_span_id, 8).c_str());
}
PyObject* get_traceparent(PyObject* self, void*) {
  auto& sp = reinterpret_cast<SpanObject*>(self)->span;
  return PyUnicode_FromString(format_traceparent(sp.trace_id, sp.span_id, sp.trace_flags).c_str());
}
PyObject* get_name(PyObject* self, void*) {
  auto& sp = reinterpret_cast<SpanObject*>(self)->span;
  return PyUnicode_FromStringAndSize(sp.name.data(), Py_ssize_t(sp.name.size()));
}
int set_name(PyObject* self, PyObject* value, void*) {
  if (value == nullptr || !PyUnicode_Check(value)) {
    PyErr_SetString(PyExc_TypeError, "a span's name is a str");
    return -1;
  }
  auto* s = reinterpret_cast<SpanObject*>(self);
  if (s->ended) return 0;
  std::string n;
  if (!utf8_of(value, n)) {
    PyErr_SetString(PyExc_ValueError, "name is not valid UTF-8");
    return -1;
  }
  s->span.name = truncate(std::move(n));
  s->method_length = 0;  // no longer the method alone
  return 0;
}
PyObject* get_kind(PyObject* self, void*) {
  return PyLong_FromLong(long(reinterpret_cast<SpanObject*>(self)->span.kind));
}
PyObject* get_ended(PyObject* self, void*) { return PyBool_FromLong(reinterpret_cast<SpanObject*>(self)->ended); }
PyObject* get_status(PyObject* self, void*) {
  return PyLong_FromLong(long(reinterpret_cast<SpanObject*>(self)->span.status_code));
}
PyObject* get_attributes(PyObject* self, void*) {
  materialize_attributes(reinterpret_cast<SpanObject*>(self));
  auto& sp = reinterpret_cast<SpanObject*>(self)->span;
  PyObject* d = PyDict_New();
  if (d == nullptr) return nullptr;
  for (auto& a : sp.attributes) {
    PyObject* v = nullptr;
    if (auto* s = std::get_if<std::string>(&a.value)) v = PyUnicode_DecodeUTF8(s->data(), Py_ssize_t(s->size()), "replace");
    else if (auto* i = std::get_if<int64_t>(&a.value)) v = PyLong_FromLongLong(*i);
    else if (auto* f = std::get_if<double>(&a.value)) v = PyFloat_FromDouble(*f);
    else if (auto* b = std::get_if<bool>(&a.value)) v = PyBool_FromLong(*b);
    if (v == nullptr || PyDict_SetItemString(d, a.key.c_str(), v) < 0) {
      Py_XDECREF(v);
      Py_DECREF(d);
      return nullptr;
    }
    Py_DECREF(v);
  }
  return d;
}

PyObject* span_repr(PyObject* self) {
  auto* s = reinterpret_cast<SpanObject*>(self);
  return PyUnicode_FromFormat("<Span %s trace=%s span=%s%s>", s->span.name.c_str(),
                              to_hex(s->span.trace_id, 16).c_str(), to_hex(s->span.span_id, 8).c_str(),
                              s->ended ? " ended" : "");
}

PyMethodDef span_methods[] = {
    {"end", span_end, METH_NOARGS, "end(): stamp the end time and export (once); deactivates it if active."},
    {"set_attribute", span_set_attribute, METH_VARARGS, "set_attribute(key, value): str/int/float/bool (others: str())."},
    {"set_attributes", span_set_attributes, METH_O, "set_attributes(dict)."},
    {"record_exception", span_record_exception, METH_VARARGS,
     "record_exception(exc, set_status=False): an 'exception' event (type, message, stacktrace)."},
    {"set_status", span_set_status, METH_VARARGS, "set_status(code, message=None): 0 unset, 1 ok, 2 error."},
    {"activate", span_activate, METH_NOARGS, "activate() -> self: make it the current span of this context."},
    {"deactivate", span_deactivate, METH_NOARGS, "deactivate(): restore the span that was current before."},
    {"__enter__", span_activate, METH_NOARGS, nullptr},
    {"__exit__", span_exit, METH_VARARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef span_getset[] = {
    {"trace_id", get_trace_id, nullptr, "32 lowercase hex digits", nullptr},
    {"span_id", get_span_id, nullptr, "16 lowercase hex digits", nullptr},
    {"parent_span_id", get_parent_span_id, nullptr, "16 hex digits, or None for a root span", nullptr},
    {"traceparent", get_traceparent, nullptr, "the W3C traceparent header naming this span", nullptr},
    {"name", get_name, set_name, "the span's name", nullptr},
    {"kind", get_kind, nullptr, "OTLP SpanKind number", nullptr},
    {"status", get_status, nullptr, "OTLP StatusCode number", nullptr},
    {"ended", get_ended, nullptr, "True once end() ran", nullptr},
    {"attributes", get_attributes, nullptr, "a dict copy of the attributes (empty once ended)", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

}  // namespace

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
PyTypeObject SpanType = {
    PyVarObject_HEAD_INIT(nullptr, 0)
    "_agent_run._hook.Span",  // tp_name
    sizeof(SpanObject),       // tp_basicsize
};
#pragma GCC diagnostic pop

int init_span_type() {
  SpanType.tp_dealloc = span_dealloc;
  SpanType.tp_repr = span_repr;
  SpanType.tp_flags = Py_TPFLAGS_DEFAULT;
  SpanType.tp_doc = "A span: made by start_span(); a context manager that activates it and ends it.";
  SpanType.tp_methods = span_methods;
  SpanType.tp_getset = span_getset;
  return PyType_Ready(&SpanType);
}

}  // namespace agent_run::spans
