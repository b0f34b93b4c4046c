// add_span_functions(): the span part of _agent_run._hook.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "hook/compat.hpp"
#include "hook/registration.hpp"
#include "hook/spans/clock.hpp"
#include "hook/spans/span.hpp"
#include "hook/spans/sql_sanitizer.hpp"
#include "hook/spans/traceparent.hpp"
#include "hook/spans/wsgi.hpp"
#include "wire/span_sink.hpp"

namespace agent_run::spans {
int init_span_type();
int add_module_watch_functions(PyObject* module);
}

namespace {

using namespace agent_run::spans;
namespace wire = agent_run::wire;

bool g_configured = false;
bool g_has_collector = false;

PyObject* py_start_span(PyObject*, PyObject* args, PyObject* kwargs) {
  static const char* kwlist[] = {"name", "kind", "traceparent", "parent", "attributes", nullptr};
  const char* name;
  int kind = 1;
  const char* traceparent = nullptr;
  PyObject* parent = Py_None;
  PyObject* attributes = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|izOO:start_span", const_cast<char**>(kwlist), &name, &kind,
                                   &traceparent, &parent, &attributes))
    return nullptr;
  if (kind < 0 || kind > 5) {
    PyErr_SetString(PyExc_ValueError, "kind is an OTLP SpanKind number, 0-5");
    return nullptr;
  }
  if (parent != Py_None && !is_span(parent)) {
    PyErr_SetString(PyExc_TypeError, "parent is a Span or None");
    return nullptr;
  }
  SpanObject* s = new_span(name, wire::SpanKind(kind), parent == Py_None ? nullptr : reinterpret_cast<SpanObject*>(parent),
                           traceparent);
  if (s == nullptr) return nullptr;
  if (attributes != Py_None) {
    if (!PyDict_Check(attributes)) {
      Py_DECREF(s);
      PyErr_SetString(PyExc_TypeError, "attributes is a dict");
      return nullptr;
    }
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(attributes, &pos, &k, &v)) {
      if (set_attribute_py(s->span, k, v) < 0) {
        Py_DECREF(s);
        return nullptr;
      }
    }
  }
  return reinterpret_cast<PyObject*>(s);
}

PyObject* py_current_span(PyObject*, PyObject*) {
  SpanObject* s = current_span();
  if (s == nullptr) Py_RETURN_NONE;
  return reinterpret_cast<PyObject*>(s);
}

// settings: the dict boot hands to the instrumentation (dotted keys).
bool get_int(PyObject* settings, const char* key, long long& out) {
  PyObject* v = PyDict_GetItemString(settings, key);  // borrowed
  if (v == nullptr || !PyLong_Check(v) || PyBool_Check(v)) return false;
  long long x = PyLong_AsLongLong(v);
  if (x == -1 && PyErr_Occurred()) {
    PyErr_Clear();
    return false;
  }
  out = x;
  return true;
}

bool get_str(PyObject* settings, const char* key, std::string& out) {
  PyObject* v = PyDict_GetItemString(settings, key);
  if (v == nullptr || !PyUnicode_Check(v)) return false;
  const char* s = PyUnicode_AsUTF8(v);
  if (s == nullptr) {
    PyErr_Clear();
    return false;
  }
  out = s;
  return true;
}

PyObject* py_configure_spans(PyObject*, PyObject* args, PyObject* kwargs) {
  static const char* kwlist[] = {"settings", "force", nullptr};
  PyObject* settings = Py_None;
  int force = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|Op:configure_spans", const_cast<char**>(kwlist), &settings, &force))
    return nullptr;
  if (g_configured && !force) return PyBool_FromLong(g_has_collector);
  Limits& l = limits();
  l = Limits();  // unset keys: defaults
  wire::SinkOptions opt;
  if (settings != Py_None && PyDict_Check(settings)) {
    long long x;
    if (get_int(settings, "spans.max_attributes", x) && x >= 0) l.max_attributes = uint32_t(x);
    if (get_int(settings, "spans.max_attribute_length", x) && x > 0) l.max_attribute_length = uint32_t(x);
    if (get_int(settings, "spans.buffer_bytes", x) && x > 0) opt.buffer_bytes = size_t(x);
    if (get_int(settings, "collector.flush_interval_ms", x) && x > 0) opt.flush_interval_ms = uint32_t(x);
    std::string s;
    if (get_str(settings, "spans.db_statement", s)) {
      if (s == "raw") l.db_statement = DbStatementMode::Raw;
      else if (s == "off") l.db_statement = DbStatementMode::Off;
      else l.db_statement = DbStatementMode::Sanitized;
    }
    get_str(settings, "service_name", opt.service_name);
  }
  const char* sock = std::getenv("AGENT_RUN_COLLECTOR_SOCKET");
  if (sock != nullptr) opt.socket_path = sock;
  g_has_collector = !opt.socket_path.empty();
  wire::SpanSink::instance().configure(opt);
  g_configured = true;
  if (g_has_collector) {
    // Python's atexit does not run in every exit: a uWSGI worker stopped by
    // its master while finishing a request calls exit() without it. The
    // sink is native, so a C atexit handler can ship what is buffered.
    static bool registered = false;
    if (!registered) {
      registered = true;
      std::atexit([] { wire::SpanSink::instance().flush_and_stop(1000); });
    }
  }
  return PyBool_FromLong(g_has_collector);
}

PyObject* py_span_stats(PyObject*, PyObject*) {
  wire::SinkStats st = wire::SpanSink::instance().stats();
  return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:O}", "ended", (unsigned long long)spans_ended(), "submitted",
                       (unsigned long long)st.submitted, "sent", (unsigned long long)st.sent, "dropped_buffer_full",
                       (unsigned long long)st.dropped_buffer_full, "dropped_no_collector",
                       (unsigned long long)st.dropped_no_collector, "collector", g_has_collector ? Py_True : Py_False);
}

// submit_health([(name, state, calls, errors, last_error), ...]): the plugins'
// health for the collector (the report's plugin-health section), sent with the
// sink's next flush. Items that do not fit the shape are skipped.
PyObject* py_submit_health(PyObject*, PyObject* arg) {
  PyObject* seq = PySequence_Fast(arg, "submit_health() takes a list of tuples");
  if (seq == nullptr) return nullptr;
  wire::Health health;
  health.pid = uint32_t(::getpid());
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* item = PySequence_Fast_GET_ITEM(seq, i);
    const char *name, *state, *last_error;
    unsigned long long calls, errors;
    if (!PyTuple_Check(item) ||
        !PyArg_ParseTuple(item, "ssKKs", &name, &state, &calls, &errors, &last_error)) {
      PyErr_Clear();
      continue;
    }
    health.plugins.push_back({name, state, calls, errors, last_error});
  }
  Py_DECREF(seq);
  wire::SpanSink::instance().submit_health(health);
  Py_RETURN_NONE;
}

PyObject* py_flush_spans(PyObject*, PyObject* args) {
  unsigned int timeout_ms = 2000;
  if (!PyArg_ParseTuple(args, "|I:flush_spans", &timeout_ms)) return nullptr;
  Py_BEGIN_ALLOW_THREADS
  wire::SpanSink::instance().flush_and_stop(timeout_ms);
  Py_END_ALLOW_THREADS
  Py_RETURN_NONE;
}

PyObject* py_sanitize_sql(PyObject*, PyObject* args) {
  const char* s;
  Py_ssize_t n;
  if (!PyArg_ParseTuple(args, "s#:sanitize_sql", &s, &n)) return nullptr;
  std::string out = sanitize_sql(std::string_view(s, size_t(n)), limits().max_attribute_length);
  return PyUnicode_DecodeUTF8(out.data(), Py_ssize_t(out.size()), "replace");
}

PyObject* py_parse_traceparent(PyObject*, PyObject* args) {
  const char* s;
  Py_ssize_t n;
  if (!PyArg_ParseTuple(args, "s#:parse_traceparent", &s, &n)) return nullptr;
  TraceParent tp;
  if (!parse_traceparent(std::string_view(s, size_t(n)), tp)) Py_RETURN_NONE;
  return Py_BuildValue("(ssi)", to_hex(tp.trace_id, 16).c_str(), to_hex(tp.span_id, 8).c_str(), int(tp.flags));
}

// ---- client spans from Python plugins (when no native handler is used) ----

PyObject* py_monotonic_ns(PyObject*, PyObject*) { return PyLong_FromUnsignedLongLong(monotonic_ns()); }

PyObject* py_db_span(PyObject*, PyObject* args) {
  unsigned long long start;
  const char* system;
  PyObject* statement = Py_None;
  PyObject* exc = Py_None;
  if (!PyArg_ParseTuple(args, "Ks|OO:db_span", &start, &system, &statement, &exc)) return nullptr;
  ClientSpan cs;
  cs.start_mono = start;
  cs.finish_db(system, statement == Py_None ? nullptr : statement,
               exc != Py_None && PyExceptionInstance_Check(exc) ? exc : nullptr);
  Py_RETURN_NONE;
}

PyMethodDef span_functions[] = {
    {"start_span", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(py_start_span)),
     METH_VARARGS | METH_KEYWORDS,
     "start_span(name, kind=1, traceparent=None, parent=None, attributes=None) -> Span (not activated).\n"
     "Parent: a valid traceparent header, else `parent`, else the current span, else a new trace."},
    {"current_span", py_current_span, METH_NOARGS, "current_span() -> the current Span of this context, or None."},
    {"configure_spans", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(py_configure_spans)),
     METH_VARARGS | METH_KEYWORDS,
     "configure_spans(settings=None, force=False) -> bool: limits and sink options from the settings dict;\n"
     "the collector socket from AGENT_RUN_COLLECTOR_SOCKET. Returns whether there is a collector. Once per process."},
    {"span_stats", py_span_stats, METH_NOARGS, "span_stats() -> dict of counters."},
    {"submit_health", py_submit_health, METH_O,
     "submit_health([(name, state, calls, errors, last_error), ...]): plugin health for the collector."},
    {"flush_spans", py_flush_spans, METH_VARARGS, "flush_spans(timeout_ms=2000): send what is buffered, stop the flusher."},
    {"sanitize_sql", py_sanitize_sql, METH_VARARGS, "sanitize_sql(sql) -> sql with literals replaced by ?"},
    {"parse_traceparent", py_parse_traceparent, METH_VARARGS,
     "parse_traceparent(header) -> (trace_id hex, span_id hex, flags) or None if invalid."},
    {"monotonic_ns", py_monotonic_ns, METH_NOARGS, "monotonic_ns() -> the span clock's monotonic reading."},
    {"db_span", py_db_span, METH_VARARGS,
     "db_span(start_monotonic_ns, db_system, statement=None, exc=None): record a finished CLIENT span."},
    {nullptr, nullptr, 0, nullptr},
};

}  // namespace

namespace agent_run::hook {

int add_span_functions(PyObject* module) {
  if (agent_run::spans::init_span_type() < 0) return -1;
  if (agent_run::spans::current_span_var() == nullptr) return -1;
  Py_INCREF(&SpanType);
  if (PyModule_AddObject(module, "Span", reinterpret_cast<PyObject*>(&SpanType)) < 0) {
    Py_DECREF(&SpanType);
    return -1;
  }
  if (PyModule_AddFunctions(module, span_functions) < 0) return -1;
  static const struct {
    const char* name;
    long value;
  } constants[] = {
      {"SPAN_KIND_INTERNAL", 1}, {"SPAN_KIND_SERVER", 2}, {"SPAN_KIND_CLIENT", 3}, {"SPAN_KIND_PRODUCER", 4},
      {"SPAN_KIND_CONSUMER", 5}, {"STATUS_UNSET", 0},     {"STATUS_OK", 1},        {"STATUS_ERROR", 2},
  };
  for (auto& c : constants)
    if (PyModule_AddIntConstant(module, c.name, c.value) < 0) return -1;
  if (agent_run::spans::add_module_watch_functions(module) < 0) return -1;
  if (agent_run::spans::add_wsgi_span_functions(module) < 0) return -1;
  if (agent_run::spans::add_wsgi_app_types(module) < 0) return -1;
  if (agent_run::spans::add_sqlite_connection_functions(module) < 0) return -1;
  return agent_run::spans::add_db_handler_functions(module);
}

}  // namespace agent_run::hook
