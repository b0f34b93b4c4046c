// The SERVER span of a WSGI request: started from the environ, ended with
// the status line and the exception, if any (the traced callables that do it
// per request are in wsgi_app.cpp).
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstring>
#include <string>
#include <string_view>

#include "hook/compat.hpp"
#include "hook/spans/clock.hpp"
#include "hook/spans/span.hpp"
#include "hook/spans/wsgi.hpp"

namespace agent_run::spans {
namespace {

// The environ keys read per request, as interned str objects made once:
// PyDict_GetItemString would build and hash a new str on every lookup.
enum EnvKey { kMethod, kTraceparent, kScriptName, kPathInfo, kScheme, kHost, kServerName, kServerPort,
              kProtocol, kRemoteAddr, kUserAgent, kEnvKeyCount };
const char* const kEnvKeyNames[kEnvKeyCount] = {
    "REQUEST_METHOD", "HTTP_TRACEPARENT", "SCRIPT_NAME", "PATH_INFO", "wsgi.url_scheme", "HTTP_HOST",
    "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR", "HTTP_USER_AGENT"};
PyObject* g_env_keys[kEnvKeyCount] = {};

bool init_env_keys() {
  // Every request asks: the loop runs until all keys exist (under the GIL).
  static bool ready = false;
  if (ready) return true;
  for (int i = 0; i < kEnvKeyCount; ++i) {
    if (g_env_keys[i] == nullptr) g_env_keys[i] = PyUnicode_InternFromString(kEnvKeyNames[i]);
    if (g_env_keys[i] == nullptr) return false;
  }
  ready = true;
  return true;
}

// The environ's str value for `key` as UTF-8 (borrowed from the str), or an
// empty view with ok=false when absent or not a str. Out of line: a request
// runs it a dozen times, and one copy is a few cache lines where the copies
// inlined at each call made start_server_span 750 bytes larger, all of it
// cold at every request.
__attribute__((noinline)) std::string_view environ_str(PyObject* environ, EnvKey key, bool* ok = nullptr) {
  if (ok != nullptr) *ok = false;
  PyObject* v = PyDict_GetItemWithError(environ, g_env_keys[key]);  // borrowed
  if (v == nullptr) {
    PyErr_Clear();
    return {};
  }
  if (!PyUnicode_Check(v)) return {};
  Py_ssize_t n = 0;
  const char* s = PyUnicode_AsUTF8AndSize(v, &n);
  if (s == nullptr) {
    PyErr_Clear();
    return {};
  }
  if (ok != nullptr) *ok = true;
  return std::string_view(s, size_t(n));
}

long parse_port(std::string_view s) {
  long v = 0;
  size_t i = 0;
  for (; i < s.size() && i < 6 && s[i] >= '0' && s[i] <= '9'; ++i) v = v * 10 + (s[i] - '0');
  return i == 0 ? 0 : v;
}

}  // namespace

SpanObject* start_server_span(PyObject* environ) {
  if (!init_env_keys()) return nullptr;
  std::string_view method = environ_str(environ, kMethod);
  if (method.empty()) method = "_OTHER";
  // UTF-8 of a str is NUL-terminated.
  std::string_view traceparent = environ_str(environ, kTraceparent);
  // A request starts its own trace (or continues the caller's): never a
  // child of whatever this thread left current.
  SpanObject* s = new_span(std::string(method), wire::SpanKind::Server, nullptr,
                           traceparent.empty() ? nullptr : traceparent.data(), false);
  if (s == nullptr) return nullptr;
  s->method_length = uint32_t(s->span.name.size());
  EncodedAttributeWriter attrs(s);
  attrs.put("http.request.method", method);
  bool has_sn = false, has_pi = false;
  std::string_view sn = environ_str(environ, kScriptName, &has_sn);
  std::string_view pi = environ_str(environ, kPathInfo, &has_pi);
  if (sn.empty()) {
    attrs.put("url.path", pi.empty() ? std::string_view("/") : pi);
  } else {
    std::string path;
    path.reserve(sn.size() + pi.size());
    path.append(sn).append(pi);
    attrs.put("url.path", path);
  }
  bool ok = false;
  std::string_view v = environ_str(environ, kScheme, &ok);
  if (ok) attrs.put("url.scheme", v);
  std::string_view address = environ_str(environ, kHost);
  long port = 0;
  if (!address.empty()) {
    size_t colon = address.rfind(':');
    if (colon != std::string_view::npos && address.find(']', colon) == std::string_view::npos) {
      port = parse_port(address.substr(colon + 1));
      address = address.substr(0, colon);
    }
  } else {
    address = environ_str(environ, kServerName);
  }
  if (port == 0) port = parse_port(environ_str(environ, kServerPort));
  if (!address.empty()) attrs.put("server.address", address);
  if (port > 0) attrs.put("server.port", int64_t(port));
  v = environ_str(environ, kProtocol);
  if (v.size() >= 5 && v.compare(0, 5, "HTTP/") == 0) attrs.put("network.protocol.version", v.substr(5));
  v = environ_str(environ, kRemoteAddr, &ok);
  if (ok) attrs.put("client.address", v);
  v = environ_str(environ, kUserAgent, &ok);
  if (ok) attrs.put("user_agent.original", v);
  if (activate(s) < 0) {
    Py_DECREF(s);
    return nullptr;
  }
  return s;
}

void finish_server_span(SpanObject* s, PyObject* status, PyObject* exc) {
  uint64_t end = monotonic_ns();
  if (!s->ended) {
    long code = 0;
    if (status != nullptr && status != Py_None && PyUnicode_Check(status)) {
      Py_ssize_t n = 0;
      const char* st = PyUnicode_AsUTF8AndSize(status, &n);
      if (st == nullptr) PyErr_Clear();
      else code = parse_port(std::string_view(st, size_t(n)).substr(0, 3));
    }
    // Keys nothing set before (the span's own code sets them only here,
    // once: `ended` is checked above): no search for an earlier value.
    if (code > 0) {
      add_span_attribute(s, "http.response.status_code", int64_t(code));
      if (code >= 500) s->span.status_code = wire::StatusCode::Error;
    }
    if (exc != nullptr && exc != Py_None && PyExceptionInstance_Check(exc)) {
      record_exception(s->span, exc, true);
      if (code == 0) add_span_attribute(s, "error.type", Py_TYPE(exc)->tp_name);
    } else if (code >= 500) {
      add_span_attribute(s, "error.type", std::to_string(code));
    }
  }
  deactivate(s);
  end_span(s, end);
}

void set_server_route(SpanObject* s, PyObject* environ, PyObject* route) {
  if (s->ended || !PyUnicode_Check(route)) return;
  Py_ssize_t n = 0;
  const char* r = PyUnicode_AsUTF8AndSize(route, &n);
  if (r == nullptr) {
    PyErr_Clear();
    return;
  }
  std::string_view rv(r, size_t(n));
  set_span_attribute(s, "http.route", rv);
  std::string& name = s->span.name;
  if (s->method_length != 0 && s->method_length <= name.size()) {
    // The name is still the method start_server_span gave it: "GET /items/<id>"
    // in place, with no environ lookup.
    name.resize(s->method_length);
  } else {
    std::string_view method = init_env_keys() ? environ_str(environ, kMethod) : std::string_view();
    name.assign(method.empty() ? std::string_view("_OTHER") : method);
  }
  s->method_length = 0;  // named: a second route names it from the environ
  name.append(1, ' ').append(rv);
  truncate_in_place(name);
}

namespace {

// wsgi_start(environ) -> Span: the request's SERVER span, activated.
PyObject* py_wsgi_start(PyObject*, PyObject* environ) {
  if (!PyDict_Check(environ)) {
    PyErr_SetString(PyExc_TypeError, "environ is a dict");
    return nullptr;
  }
  return reinterpret_cast<PyObject*>(start_server_span(environ));
}

// wsgi_finish(span, status, exc=None): status is start_response's status
// line ("200 OK") or None; 5xx or an exception make the span an error.
PyObject* py_wsgi_finish(PyObject*, PyObject* args) {
  PyObject *span, *status, *exc = Py_None;
  if (!PyArg_ParseTuple(args, "OO|O:wsgi_finish", &span, &status, &exc)) return nullptr;
  if (!is_span(span)) {
    PyErr_SetString(PyExc_TypeError, "wsgi_finish() takes a Span");
    return nullptr;
  }
  finish_server_span(reinterpret_cast<SpanObject*>(span), status, exc);
  Py_RETURN_NONE;
}

PyMethodDef wsgi_span_functions[] = {
    {"wsgi_start", py_wsgi_start, METH_O, "wsgi_start(environ) -> the request's SERVER Span, activated."},
    {"wsgi_finish", py_wsgi_finish, METH_VARARGS, "wsgi_finish(span, status_line, exc=None): end the SERVER span."},
    {nullptr, nullptr, 0, nullptr},
};

}  // namespace

int add_wsgi_span_functions(PyObject* module) { return PyModule_AddFunctions(module, wsgi_span_functions); }

}  // namespace agent_run::spans
