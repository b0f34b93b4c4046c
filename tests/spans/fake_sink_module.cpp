// A test-only extension (_spans_testmod): the span part of the hook module
// over an in-memory SpanSink, so that the span model can be tested from
// Python with no collector. drain() returns and forgets the ended spans.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <mutex>
#include <vector>

#include "hook/registration.hpp"
#include "hook/spans/traceparent.hpp"
#include "wire/protocol.hpp"
#include "wire/span_sink.hpp"

namespace agent_run::wire {
namespace {
std::mutex g_mu;
std::vector<Span> g_spans;
SinkOptions g_options;
SinkStats g_stats;
}  // namespace

SpanSink& SpanSink::instance() {
  static SpanSink s;
  return s;
}
void SpanSink::configure(const SinkOptions& o) { g_options = o; }
// Spans the recorders encoded themselves, or in part (attributes already in
// wire form), are decoded by the collector's decoder: what they wrote is
// what the collector will read.
bool SpanSink::submit_encoded(const uint8_t* head, size_t head_size, const uint8_t* body, size_t body_size) {
  std::vector<uint8_t> record(head, head + head_size);
  if (body_size != 0) record.insert(record.end(), body, body + body_size);
  Span span;
  if (decode_span(record.data(), record.size(), span) != DecodeError::Ok) return false;
  return submit(span);
}
bool SpanSink::submit(const Span& span, const EncodedAttributes& first) {
  if (first.count != 0) {
    std::vector<uint8_t> record(encoded_span_size(span, first));
    if (encode_span(span, first, record.data()) != record.data() + record.size()) return false;
    return submit_encoded(record.data(), record.size(), nullptr, 0);
  }
  std::lock_guard<std::mutex> l(g_mu);
  ++g_stats.submitted;
  g_spans.push_back(span);
  return true;
}
SinkStats SpanSink::stats() const { return g_stats; }
void SpanSink::flush_and_stop(uint32_t) {}
void SpanSink::submit_health(const Health&) {}
}  // namespace agent_run::wire

namespace {
using agent_run::spans::to_hex;
namespace wire = agent_run::wire;

PyObject* value_of(const wire::AttributeValue& v) {
  if (auto* s = std::get_if<std::string>(&v)) return PyUnicode_DecodeUTF8(s->data(), Py_ssize_t(s->size()), "replace");
  if (auto* i = std::get_if<int64_t>(&v)) return PyLong_FromLongLong(*i);
  if (auto* f = std::get_if<double>(&v)) return PyFloat_FromDouble(*f);
  return PyBool_FromLong(std::get<bool>(v));
}

PyObject* attrs_of(const std::vector<wire::Attribute>& attrs) {
  PyObject* d = PyDict_New();
  for (auto& a : attrs) {
    PyObject* v = value_of(a.value);
    PyDict_SetItemString(d, a.key.c_str(), v);
    Py_DECREF(v);
  }
  return d;
}

// In order, repeats kept: a key written twice shows.
PyObject* keys_of(const std::vector<wire::Attribute>& attrs) {
  PyObject* l = PyList_New(0);
  for (auto& a : attrs) {
    PyObject* k = PyUnicode_FromString(a.key.c_str());
    PyList_Append(l, k);
    Py_DECREF(k);
  }
  return l;
}

PyObject* drain(PyObject*, PyObject*) {
  std::vector<wire::Span> spans;
  {
    std::lock_guard<std::mutex> l(wire::g_mu);
    spans.swap(wire::g_spans);
  }
  PyObject* out = PyList_New(0);
  for (auto& s : spans) {
    PyObject* events = PyList_New(0);
    for (auto& e : s.events) {
      PyObject* ev = Py_BuildValue("{s:s,s:K,s:N}", "name", e.name.c_str(), "time", (unsigned long long)e.time_unix_nano,
                                   "attributes", attrs_of(e.attributes));
      PyList_Append(events, ev);
      Py_DECREF(ev);
    }
    PyObject* d = Py_BuildValue(
        "{s:s,s:s,s:s,s:s,s:i,s:K,s:K,s:i,s:s,s:N,s:N,s:N,s:I,s:i}", "name", s.name.c_str(), "trace_id",
        to_hex(s.trace_id, 16).c_str(), "span_id", to_hex(s.span_id, 8).c_str(), "parent_span_id",
        to_hex(s.parent_span_id, 8).c_str(), "kind", int(s.kind), "start", (unsigned long long)s.start_unix_nano, "end",
        (unsigned long long)s.end_unix_nano, "status", int(s.status_code), "status_message", s.status_message.c_str(),
        "attributes", attrs_of(s.attributes), "attribute_keys", keys_of(s.attributes), "events", events, "dropped_attributes", s.dropped_attributes_count,
        "flags", int(s.trace_flags));
    PyList_Append(out, d);
    Py_DECREF(d);
  }
  return out;
}

PyObject* options(PyObject*, PyObject*) {
  return Py_BuildValue("{s:s,s:s,s:K,s:I}", "socket_path", wire::g_options.socket_path.c_str(), "service_name",
                       wire::g_options.service_name.c_str(), "buffer_bytes",
                       (unsigned long long)wire::g_options.buffer_bytes, "flush_interval_ms",
                       wire::g_options.flush_interval_ms);
}

PyMethodDef methods[] = {
    {"drain", drain, METH_NOARGS, nullptr},
    {"sink_options", options, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef def = {PyModuleDef_HEAD_INIT, "_spans_testmod", nullptr, -1, methods,
                   nullptr, nullptr, nullptr, nullptr};
}  // namespace

PyMODINIT_FUNC PyInit__spans_testmod(void) {
  PyObject* m = PyModule_Create(&def);
  if (m == nullptr) return nullptr;
  if (agent_run::hook::add_wrapper_types(m) < 0 || agent_run::hook::add_span_functions(m) < 0) {
    Py_DECREF(m);
    return nullptr;
  }
  return m;
}
