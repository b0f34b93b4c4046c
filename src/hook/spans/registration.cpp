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

// ---- WSGI server spans ----

// The environ keys read per request, as interned str objects made once:
// PyDict_GetItemString would build and hash a new str on every lookup.
enum EnvKey { kMethod, kTraceparent, kScriptName, kPathInfo, kScheme, kHost, kServerName, kServerPort,
              kProtocol, kRemoteAddr, kUserAgent, kEnvKeyCount };
const char* const kEnvKeyNames[kEnvKeyCount] = {
    "REQUEST_METHOD", "HTTP_TRACEPARENT", "SCRIPT_NAME", "PATH_INFO", "wsgi.url_scheme", "HTTP_HOST",
    "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR", "HTTP_USER_AGENT"};
PyObject* g_env_keys[kEnvKeyCount] = {};

bool init_env_keys() {
  for (int i = 0; i < kEnvKeyCount; ++i) {
    if (g_env_keys[i] == nullptr) g_env_keys[i] = PyUnicode_InternFromString(kEnvKeyNames[i]);
    if (g_env_keys[i] == nullptr) return false;
  }
  return true;
}

const char* environ_str(PyObject* environ, EnvKey key, Py_ssize_t* len = nullptr) {
  PyObject* v = PyDict_GetItemWithError(environ, g_env_keys[key]);  // borrowed
  if (v == nullptr) {
    PyErr_Clear();
    return nullptr;
  }
  if (!PyUnicode_Check(v)) return nullptr;
  const char* s = PyUnicode_AsUTF8AndSize(v, len);
  if (s == nullptr) PyErr_Clear();
  return s;
}

// wsgi_start(environ) -> Span: a SERVER span named after the method, made
// current, child of the request's valid `traceparent` header if any, else a
// new trace.
PyObject* py_wsgi_start(PyObject*, PyObject* environ) {
  if (!PyDict_Check(environ)) {
    PyErr_SetString(PyExc_TypeError, "environ is a dict");
    return nullptr;
  }
  if (!init_env_keys()) return nullptr;
  const char* method = environ_str(environ, kMethod);
  if (method == nullptr || !*method) method = "_OTHER";
  const char* tp = environ_str(environ, kTraceparent);
  // A request starts its own trace (or continues the caller's): never a
  // child of whatever this thread left current.
  SpanObject* s = new_span(method, wire::SpanKind::Server, nullptr, tp, false);
  if (s == nullptr) return nullptr;
  wire::Span& sp = s->span;
  sp.attributes.reserve(12);
  set_attribute(sp, "http.request.method", std::string(method));
  std::string path;
  if (const char* sn = environ_str(environ, kScriptName)) path = sn;
  if (const char* pi = environ_str(environ, kPathInfo)) path += pi;
  if (path.empty()) path = "/";
  set_attribute(sp, "url.path", std::move(path));
  if (const char* v = environ_str(environ, kScheme)) set_attribute(sp, "url.scheme", std::string(v));
  const char* host = environ_str(environ, kHost);
  std::string address;
  long port = 0;
  if (host != nullptr && *host) {
    std::string h(host);
    size_t colon = h.rfind(':');
    if (colon != std::string::npos && h.find(']', colon) == std::string::npos) {
      port = std::strtol(h.c_str() + colon + 1, nullptr, 10);
      h.resize(colon);
    }
    address = h;
  } else if (const char* sn = environ_str(environ, kServerName)) {
    address = sn;
  }
  if (port == 0)
    if (const char* p = environ_str(environ, kServerPort)) port = std::strtol(p, nullptr, 10);
  if (!address.empty()) set_attribute(sp, "server.address", std::move(address));
  if (port > 0) set_attribute(sp, "server.port", int64_t(port));
  if (const char* v = environ_str(environ, kProtocol))
    if (std::strncmp(v, "HTTP/", 5) == 0) set_attribute(sp, "network.protocol.version", std::string(v + 5));
  if (const char* v = environ_str(environ, kRemoteAddr)) set_attribute(sp, "client.address", std::string(v));
  if (const char* v = environ_str(environ, kUserAgent)) set_attribute(sp, "user_agent.original", std::string(v));
  if (activate(s) < 0) {
    Py_DECREF(s);
    return nullptr;
  }
  return reinterpret_cast<PyObject*>(s);
}

// wsgi_finish(span, status, exc=None): status is start_response's status
// line ("200 OK") or None; 5xx or an exception make the span an error.
void finish_server(SpanObject* s, PyObject* status, PyObject* exc) {
  uint64_t end = monotonic_ns();
  if (!s->ended) {
    long code = 0;
    if (status != nullptr && status != Py_None && PyUnicode_Check(status)) {
      const char* st = PyUnicode_AsUTF8(status);
      if (st == nullptr) PyErr_Clear();
      else code = std::strtol(st, nullptr, 10);
    }
    if (code > 0) {
      set_attribute(s->span, "http.response.status_code", int64_t(code));
      if (code >= 500) s->span.status_code = wire::StatusCode::Error;
    }
    if (exc != nullptr && exc != Py_None && PyExceptionInstance_Check(exc)) {
      record_exception(s->span, exc, true);
      if (code == 0) set_attribute(s->span, "error.type", std::string(Py_TYPE(exc)->tp_name));
    } else if (code >= 500) {
      set_attribute(s->span, "error.type", std::to_string(code));
    }
  }
  deactivate(s);
  end_span(s, end);
}

PyObject* py_wsgi_finish(PyObject*, PyObject* args) {
  PyObject *span, *status, *exc = Py_None;
  if (!PyArg_ParseTuple(args, "OO|O:wsgi_finish", &span, &status, &exc)) return nullptr;
  if (!is_span(span)) {
    PyErr_SetString(PyExc_TypeError, "wsgi_finish() takes a Span");
    return nullptr;
  }
  finish_server(reinterpret_cast<SpanObject*>(span), status, exc);
  Py_RETURN_NONE;
}

// ---- the WSGI call wrapper, natively (wsgi_call) ----
//
// wsgi_call(app, environ, start_response) does what the Python _traced_call
// does, without Python frames: the server span, a start_response that keeps
// the status line, and a response iterable whose close() ends the span.

struct StartResponseObject {
  PyObject_HEAD
  PyObject* inner;
  PyObject* status;
};

void sr_dealloc(PyObject* self) {
  auto* o = reinterpret_cast<StartResponseObject*>(self);
  Py_XDECREF(o->inner);
  Py_XDECREF(o->status);
  PyObject_Free(self);
}

PyObject* sr_call(PyObject* self, PyObject* args, PyObject* kwargs) {
  auto* o = reinterpret_cast<StartResponseObject*>(self);
  if (PyTuple_GET_SIZE(args) >= 1) {
    PyObject* st = PyTuple_GET_ITEM(args, 0);
    Py_INCREF(st);
    Py_XSETREF(o->status, st);
  }
  return PyObject_Call(o->inner, args, kwargs);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
PyTypeObject StartResponseType = {PyVarObject_HEAD_INIT(nullptr, 0) "_agent_run._hook.StartResponse",
                                  sizeof(StartResponseObject)};
#pragma GCC diagnostic pop

struct ResponseObject {
  PyObject_HEAD
  PyObject* result;
  PyObject* iter;
  SpanObject* span;
  StartResponseObject* sr;
  PyObject* exc;  // raised while iterating
  bool finished;
};

PyObject* fetch_exception_value() {
  // Takes the current exception as a normalized value, leaving it set.
#if PY_VERSION_HEX >= 0x030C0000
  PyObject* e = PyErr_GetRaisedException();
  Py_XINCREF(e);
  PyErr_SetRaisedException(e);
  return e;
#else
  PyObject *t, *v, *tb;
  PyErr_Fetch(&t, &v, &tb);
  PyErr_NormalizeException(&t, &v, &tb);
  if (v != nullptr && tb != nullptr) PyException_SetTraceback(v, tb);
  Py_XINCREF(v);
  PyErr_Restore(t, v, tb);
  return v;
#endif
}

void resp_finish(ResponseObject* r, PyObject* exc) {
  if (r->finished) return;
  r->finished = true;
  finish_server(r->span, r->sr ? r->sr->status : nullptr, exc ? exc : r->exc);
}

void resp_dealloc(PyObject* self) {
  auto* r = reinterpret_cast<ResponseObject*>(self);
  if (!r->finished) {
    // The server never closed it (not WSGI-compliant): end it now.
    agent_run::hook::SavedError saved;  // put back below; errors of our own calls are cleared first
    saved.fetch();
    resp_finish(r, nullptr);
    PyErr_Clear();
    saved.restore();
  }
  Py_XDECREF(r->result);
  Py_XDECREF(r->iter);
  Py_XDECREF(reinterpret_cast<PyObject*>(r->span));
  Py_XDECREF(reinterpret_cast<PyObject*>(r->sr));
  Py_XDECREF(r->exc);
  PyObject_Free(self);
}

// The app's result iterator, made on first use. False (the error set, and
// kept for the span) when the result is not iterable.
bool ensure_iter(ResponseObject* r) {
  if (r->iter != nullptr) return true;
  r->iter = PyObject_GetIter(r->result);
  if (r->iter != nullptr) return true;
  Py_XSETREF(r->exc, fetch_exception_value());
  return false;
}

PyObject* resp_iter(PyObject* self) {
  if (!ensure_iter(reinterpret_cast<ResponseObject*>(self))) return nullptr;
  Py_INCREF(self);
  return self;
}

PyObject* resp_next(PyObject* self) {
  auto* r = reinterpret_cast<ResponseObject*>(self);
  if (!ensure_iter(r)) return nullptr;
  PyObject* item = (*Py_TYPE(r->iter)->tp_iternext)(r->iter);
  if (item == nullptr && PyErr_Occurred()) {
    if (PyErr_ExceptionMatches(PyExc_StopIteration)) {
      PyErr_Clear();
    } else if (!PyErr_ExceptionMatches(PyExc_GeneratorExit)) {
      Py_XSETREF(r->exc, fetch_exception_value());
    }
  }
  return item;
}

PyObject* resp_close(PyObject* self, PyObject*) {
  auto* r = reinterpret_cast<ResponseObject*>(self);
  PyObject* close = PyObject_GetAttrString(r->result, "close");
  if (close == nullptr) {
    if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
      PyErr_Clear();
    } else {
      PyObject* e = fetch_exception_value();
      resp_finish(r, e);
      Py_XDECREF(e);
      return nullptr;
    }
  } else {
    PyObject* res = PyObject_CallObject(close, nullptr);
    Py_DECREF(close);
    if (res == nullptr) {
      PyObject* e = fetch_exception_value();
      resp_finish(r, e);
      Py_XDECREF(e);
      return nullptr;
    }
    Py_DECREF(res);
  }
  resp_finish(r, nullptr);
  Py_RETURN_NONE;
}

PyMethodDef resp_methods[] = {
    {"close", resp_close, METH_NOARGS, "close(): closes the app's iterable, then ends the server span."},
    {nullptr, nullptr, 0, nullptr},
};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
PyTypeObject ResponseType = {PyVarObject_HEAD_INIT(nullptr, 0) "_agent_run._hook.WsgiResponse",
                             sizeof(ResponseObject)};
#pragma GCC diagnostic pop

PyObject* g_server_span_key = nullptr;  // environ["agent_run.server_span"]

int init_wsgi_types() {
  StartResponseType.tp_dealloc = sr_dealloc;
  StartResponseType.tp_call = sr_call;
  StartResponseType.tp_flags = Py_TPFLAGS_DEFAULT;
  if (PyType_Ready(&StartResponseType) < 0) return -1;
  ResponseType.tp_dealloc = resp_dealloc;
  ResponseType.tp_flags = Py_TPFLAGS_DEFAULT;
  ResponseType.tp_iter = resp_iter;
  ResponseType.tp_iternext = resp_next;
  ResponseType.tp_methods = resp_methods;
  if (PyType_Ready(&ResponseType) < 0) return -1;
  g_server_span_key = PyUnicode_InternFromString("agent_run.server_span");
  return g_server_span_key == nullptr ? -1 : 0;
}

PyObject* call_app(PyObject* app, PyObject* environ, PyObject* start_response) {
  return PyObject_CallFunctionObjArgs(app, environ, start_response, nullptr);
}

PyObject* py_wsgi_call(PyObject*, PyObject* args) {
  PyObject *app, *environ, *start_response;
  if (!PyArg_UnpackTuple(args, "wsgi_call", 3, 3, &app, &environ, &start_response)) return nullptr;
  if (!PyDict_Check(environ)) return call_app(app, environ, start_response);
  int has = PyDict_Contains(environ, g_server_span_key);
  if (has != 0) {
    if (has < 0) PyErr_Clear();
    return call_app(app, environ, start_response);  // an outer wrapper traces this request
  }
  PyObject* span = py_wsgi_start(nullptr, environ);
  if (span == nullptr) {
    PyErr_Clear();
    return call_app(app, environ, start_response);  // untraced, never broken
  }
  auto* sr = PyObject_New(StartResponseObject, &StartResponseType);
  if (sr == nullptr || PyDict_SetItem(environ, g_server_span_key, span) < 0) {
    PyErr_Clear();
    Py_XDECREF(reinterpret_cast<PyObject*>(sr));
    finish_server(reinterpret_cast<SpanObject*>(span), nullptr, nullptr);
    Py_DECREF(span);
    return call_app(app, environ, start_response);
  }
  Py_INCREF(start_response);
  sr->inner = start_response;
  sr->status = nullptr;
  PyObject* result = call_app(app, environ, reinterpret_cast<PyObject*>(sr));
  if (result == nullptr) {
    PyObject* e = fetch_exception_value();
    finish_server(reinterpret_cast<SpanObject*>(span), sr->status, e);
    Py_XDECREF(e);
    Py_DECREF(span);
    Py_DECREF(reinterpret_cast<PyObject*>(sr));
    return nullptr;
  }
  auto* r = PyObject_New(ResponseObject, &ResponseType);
  if (r == nullptr) {
    PyErr_Clear();
    finish_server(reinterpret_cast<SpanObject*>(span), sr->status, nullptr);
    Py_DECREF(span);
    Py_DECREF(reinterpret_cast<PyObject*>(sr));
    return result;
  }
  r->result = result;
  r->iter = nullptr;
  r->span = reinterpret_cast<SpanObject*>(span);
  r->sr = sr;
  r->exc = nullptr;
  r->finished = false;
  return reinterpret_cast<PyObject*>(r);
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
    {"wsgi_start", py_wsgi_start, METH_O, "wsgi_start(environ) -> the request's SERVER Span, activated."},
    {"wsgi_finish", py_wsgi_finish, METH_VARARGS, "wsgi_finish(span, status_line, exc=None): end the SERVER span."},
    {"wsgi_call", py_wsgi_call, METH_VARARGS,
     "wsgi_call(app, environ, start_response) -> the app's response, traced: a SERVER span from\n"
     "wsgi_start(), ended (wsgi_finish) when the server closes the returned iterable."},
    {nullptr, nullptr, 0, nullptr},
};

}  // namespace

namespace agent_run::hook {

int add_span_functions(PyObject* module) {
  if (agent_run::spans::init_span_type() < 0) return -1;
  if (init_wsgi_types() < 0) return -1;
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
  return agent_run::spans::add_db_handler_functions(module);
}

}  // namespace agent_run::hook
