// The traced WSGI callables, natively: no Python frame per request.
//
// - TracedWsgiApp (_hook.traced_wsgi_app(app, plugin)): what gunicorn's
//   patched BaseApplication.wsgi() returns and what uWSGI's in-place
//   instrumentation calls: app(environ, start_response), traced.
// - FlaskWsgiApp (_hook.traced_flask_wsgi_app(wsgi_app, plugin)): replaces
//   Flask.wsgi_app except under gunicorn (uWSGI, other servers, test
//   clients: wsgi.py decides); binds like a function. It makes the span and
//   names it after the matched route (the request werkzeug keeps in
//   environ["werkzeug.request"], whose url_rule Flask set while matching,
//   read when the response starts). Under a server wrapper, which names the
//   span the same way, it only passes the route on.
// - wsgi_call(app, environ, start_response): the same traced call as a
//   function (the instance path of the in-place instrumentation).
//
// One traced call: the SERVER span from the environ (wsgi_span.cpp), marked
// in environ["agent_run.server_span"] so that an inner wrapper does not make
// a second one; a start_response that keeps the status line and names the
// span after a Flask route found in the environ; and a response
// iterable whose close() (or exhaustion's end, if the server never closes)
// ends the span. Errors of the agent are counted against the wsgi plugin's
// PluginState (unplugged at its limit: every callable then forwards) and the
// request runs untraced.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstddef>

#include "hook/compat.hpp"
#include "hook/errors.hpp"
#include "hook/plugin_state.hpp"
#include "hook/spans/span.hpp"
#include "hook/spans/wsgi.hpp"
#include "hook/wrapper.hpp"  // is_own_attribute

namespace agent_run::spans {
namespace {

using hook::SavedError;

PyObject* g_server_span_key = nullptr;  // "agent_run.server_span"
PyObject* g_werkzeug_request_key = nullptr;  // "werkzeug.request"
PyObject* g_url_rule = nullptr;   // "url_rule"
PyObject* g_rule = nullptr;       // "rule"
PyObject* g_close = nullptr;      // "close"

bool plugin_active(PyObject* plugin) { return plugin == nullptr || hook::core_of(plugin)->is_active(); }

// Counts the current error against the plugin (logged, cleared).
void agent_error(PyObject* plugin, const char* where) {
  if (plugin != nullptr) hook::report_error(plugin, where);
  else PyErr_Clear();
}

// ---- start_response ----

// Keeps the status line. For Flask, also names the span after the matched
// route: the request werkzeug keeps in environ["werkzeug.request"] has the
// url_rule Flask set while matching, and is still there while the response
// starts (Flask's request context drops it before wsgi_app returns).
struct StartResponseObject {
  PyObject_HEAD
  vectorcallfunc vectorcall;
  PyObject* inner;
  PyObject* status;
  SpanObject* route_span;  // Flask: the span to name (owned), until named
  PyObject* environ;       // with route_span (owned)
  PyObject* plugin;        // with route_span (owned or null)
};

PyTypeObject StartResponseType = {PyVarObject_HEAD_INIT(nullptr, 0)};

void sr_clear_route(StartResponseObject* o) {
  Py_CLEAR(o->route_span);
  Py_CLEAR(o->environ);
  Py_CLEAR(o->plugin);
}

void sr_dealloc(PyObject* self) {
  auto* o = reinterpret_cast<StartResponseObject*>(self);
  Py_XDECREF(o->inner);
  Py_XDECREF(o->status);
  sr_clear_route(o);
  PyObject_Free(self);
}

void name_after_route(SpanObject* span, PyObject* environ, PyObject* plugin);

PyObject* sr_vectorcall(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
  auto* o = reinterpret_cast<StartResponseObject*>(self);
  if (PyVectorcall_NARGS(nargsf) >= 1) Py_XSETREF(o->status, hook::new_ref(args[0]));
  if (o->route_span != nullptr) {
    if (plugin_active(o->plugin)) name_after_route(o->route_span, o->environ, o->plugin);
    sr_clear_route(o);
  }
  return hook::vectorcall(o->inner, args, nargsf, kwnames);
}

StartResponseObject* new_start_response(PyObject* inner) {
  auto* sr = PyObject_New(StartResponseObject, &StartResponseType);
  if (sr == nullptr) return nullptr;
  sr->vectorcall = sr_vectorcall;
  sr->inner = hook::new_ref(inner);
  sr->status = nullptr;
  sr->route_span = nullptr;
  sr->environ = nullptr;
  sr->plugin = nullptr;
  return sr;
}

void name_at_start(StartResponseObject* sr, SpanObject* span, PyObject* environ, PyObject* plugin) {
  if (sr->route_span != nullptr) return;
  Py_INCREF(span);
  sr->route_span = span;
  sr->environ = hook::new_ref(environ);
  sr->plugin = hook::xnew_ref(plugin);
}

// ---- the response iterable ----

struct ResponseObject {
  PyObject_HEAD
  PyObject* result;
  PyObject* iter;
  SpanObject* span;
  StartResponseObject* sr;
  PyObject* exc;  // raised while iterating
  bool finished;
};

PyTypeObject ResponseType = {PyVarObject_HEAD_INIT(nullptr, 0)};

// The current exception as a normalized value (new reference), left set.
PyObject* peek_exception() {
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
  SavedError in_flight;  // the app's error, if any, passes untouched
  in_flight.fetch();
  finish_server_span(r->span, r->sr != nullptr ? r->sr->status : nullptr, exc != nullptr ? exc : r->exc);
  PyErr_Clear();
  // The response is not a GC type: the exception's traceback holds the
  // server's frame, which holds this response. Ended, it lets go of it.
  Py_CLEAR(r->exc);
}

void resp_dealloc(PyObject* self) {
  auto* r = reinterpret_cast<ResponseObject*>(self);
  // A server that never closed it (not WSGI-compliant): the span ends now.
  resp_finish(r, nullptr);
  Py_CLEAR(r->result);
  Py_CLEAR(r->iter);
  Py_CLEAR(r->span);
  Py_CLEAR(r->sr);
  Py_CLEAR(r->exc);
  PyObject_Free(self);
}

// The app's result iterator, made on first use. False (the error set, and
// kept for the span) when the result is not iterable.
bool ensure_iter(ResponseObject* r) {
  if (r->iter != nullptr) return true;
  r->iter = PyObject_GetIter(r->result);
  if (r->iter != nullptr) return true;
  Py_XSETREF(r->exc, peek_exception());
  return false;
}

PyObject* resp_iter(PyObject* self) {
  if (!ensure_iter(reinterpret_cast<ResponseObject*>(self))) return nullptr;
  return hook::new_ref(self);
}

PyObject* resp_next(PyObject* self) {
  auto* r = reinterpret_cast<ResponseObject*>(self);
  if (!ensure_iter(r)) return nullptr;
  PyObject* item = (*Py_TYPE(r->iter)->tp_iternext)(r->iter);
  if (item == nullptr && PyErr_Occurred()) {
    if (PyErr_ExceptionMatches(PyExc_StopIteration)) {
      PyErr_Clear();
    } else if (!PyErr_ExceptionMatches(PyExc_GeneratorExit)) {
      Py_XSETREF(r->exc, peek_exception());
    }
  }
  return item;
}

PyObject* resp_close(PyObject* self, PyObject*) {
  auto* r = reinterpret_cast<ResponseObject*>(self);
  PyObject* close = PyObject_GetAttr(r->result, g_close);
  PyObject* res = nullptr;
  if (close == nullptr) {
    if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
      PyErr_Clear();
      res = hook::new_ref(Py_None);
    }
  } else {
    res = hook::call0(close);
    Py_DECREF(close);
  }
  if (res == nullptr) {
    PyObject* e = peek_exception();
    resp_finish(r, e);
    Py_XDECREF(e);
    return nullptr;
  }
  Py_DECREF(res);
  resp_finish(r, nullptr);
  Py_RETURN_NONE;
}

PyMethodDef resp_methods[] = {
    {"close", resp_close, METH_NOARGS, "close(): closes the app's iterable, then ends the server span."},
    {nullptr, nullptr, 0, nullptr},
};

// ---- one traced call ----

// http.route from the Flask request werkzeug keeps in the environ.
void name_after_route(SpanObject* span, PyObject* environ, PyObject* plugin) {
  SavedError in_flight;  // an error being handled by the caller passes untouched
  in_flight.fetch();
  PyObject* request = PyDict_GetItemWithError(environ, g_werkzeug_request_key);  // borrowed
  if (request == nullptr || request == Py_None) {
    if (PyErr_Occurred()) agent_error(plugin, "flask route");
    return;
  }
  PyObject* rule = PyObject_GetAttr(request, g_url_rule);
  if (rule == nullptr) {
    agent_error(plugin, "flask route");
    return;
  }
  if (rule != Py_None) {
    PyObject* route = PyObject_GetAttr(rule, g_rule);
    if (route == nullptr) {
      agent_error(plugin, "flask route");
    } else {
      set_server_route(span, environ, route);
      Py_DECREF(route);
    }
  }
  Py_DECREF(rule);
}

PyObject* call_app(PyObject* app, PyObject* self, PyObject* environ, PyObject* start_response) {
  PyObject* args[4] = {nullptr, self, environ, start_response};
  if (self != nullptr) return hook::vectorcall(app, args + 1, 3 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
  return hook::vectorcall(app, args + 2, 2 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
}

// Flask under an outer wrapper: the span is named when the response starts,
// through the outer wrapper's start_response if it reaches Flask, else
// through one of its own.
PyObject* flask_under_wrapper(PyObject* app, PyObject* self, PyObject* environ, PyObject* start_response,
                              SpanObject* span, PyObject* plugin) {
  if (Py_TYPE(start_response) == &StartResponseType) {
    name_at_start(reinterpret_cast<StartResponseObject*>(start_response), span, environ, plugin);
    return call_app(app, self, environ, start_response);
  }
  StartResponseObject* sr = new_start_response(start_response);
  if (sr == nullptr) {
    agent_error(plugin, "flask route");
    return call_app(app, self, environ, start_response);
  }
  name_at_start(sr, span, environ, plugin);
  PyObject* result = call_app(app, self, environ, reinterpret_cast<PyObject*>(sr));
  Py_DECREF(sr);
  return result;
}

// app(environ, start_response), or app(self, environ, start_response) when
// self is given, traced; flask: name the span after the matched route.
PyObject* traced_call(PyObject* app, PyObject* self, PyObject* environ, PyObject* start_response, PyObject* plugin,
                      bool flask) {
  PyObject* marked = PyDict_GetItemWithError(environ, g_server_span_key);  // borrowed
  if (marked != nullptr) {
    // An outer wrapper traces this request.
    if (flask && is_span(marked))
      return flask_under_wrapper(app, self, environ, start_response, reinterpret_cast<SpanObject*>(marked), plugin);
    return call_app(app, self, environ, start_response);
  }
  if (PyErr_Occurred()) {
    agent_error(plugin, "wsgi server span");
    return call_app(app, self, environ, start_response);
  }
  SpanObject* span = start_server_span(environ);
  StartResponseObject* sr = nullptr;
  if (span != nullptr) sr = new_start_response(start_response);
  if (sr == nullptr || PyDict_SetItem(environ, g_server_span_key, reinterpret_cast<PyObject*>(span)) < 0) {
    agent_error(plugin, "wsgi server span");  // untraced, never broken
    Py_XDECREF(sr);
    if (span != nullptr) {
      deactivate(span);
      Py_DECREF(span);
    }
    return call_app(app, self, environ, start_response);
  }
  // Every app, not only a patched Flask: a Flask app under a server wrapper
  // (gunicorn, uWSGI) is named here, through whatever middleware wraps its
  // wsgi_app; for other apps it is one failed dict lookup.
  name_at_start(sr, span, environ, plugin);
  PyObject* result = call_app(app, self, environ, reinterpret_cast<PyObject*>(sr));
  sr_clear_route(sr);
  if (result == nullptr) {
    PyObject* e = peek_exception();
    {
      SavedError in_flight;
      in_flight.fetch();
      finish_server_span(span, sr->status, e);
      PyErr_Clear();
    }
    Py_XDECREF(e);
    Py_DECREF(span);
    Py_DECREF(sr);
    return nullptr;
  }
  auto* r = PyObject_New(ResponseObject, &ResponseType);
  if (r == nullptr) {
    agent_error(plugin, "wsgi response");
    finish_server_span(span, sr->status, nullptr);
    Py_DECREF(span);
    Py_DECREF(sr);
    return result;
  }
  r->result = result;
  r->iter = nullptr;
  r->span = span;
  r->sr = sr;
  r->exc = nullptr;
  r->finished = false;
  return reinterpret_cast<PyObject*>(r);
}

// ---- the callables ----

struct TracedAppObject {
  PyObject_HEAD
  vectorcallfunc vectorcall;
  PyObject* app;     // the WSGI app, or the original Flask.wsgi_app function
  PyObject* plugin;  // the wsgi plugin's PluginState, or null (always active)
  hook::OpStats* op; // the plugin's statistics of this callable (its health's call count), or null
};

PyTypeObject TracedWsgiAppType = {PyVarObject_HEAD_INIT(nullptr, 0)};
PyTypeObject FlaskWsgiAppType = {PyVarObject_HEAD_INIT(nullptr, 0)};

TracedAppObject* app_of(PyObject* o) { return reinterpret_cast<TracedAppObject*>(o); }

PyObject* traced_app_call(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
  TracedAppObject* t = app_of(self);
  Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
  if (nargs != 2 || kwnames != nullptr || !PyDict_Check(args[0]) || !plugin_active(t->plugin))
    return hook::vectorcall(t->app, args, nargsf, kwnames);
  if (t->op != nullptr) ++t->op->calls;
  return traced_call(t->app, nullptr, args[0], args[1], t->plugin, false);
}

PyObject* flask_app_call(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
  TracedAppObject* t = app_of(self);
  Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
  if (nargs != 3 || kwnames != nullptr || !PyDict_Check(args[1]) || !plugin_active(t->plugin))
    return hook::vectorcall(t->app, args, nargsf, kwnames);
  if (t->op != nullptr) ++t->op->calls;
  return traced_call(t->app, args[0], args[1], args[2], t->plugin, true);
}

int app_traverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(app_of(self)->app);
  Py_VISIT(app_of(self)->plugin);
  return 0;
}

int app_clear(PyObject* self) {
  // The call path forwards to app without checks: only the plugin goes.
  app_of(self)->op = nullptr;  // the plugin's own
  Py_CLEAR(app_of(self)->plugin);
  return 0;
}

void app_dealloc(PyObject* self) {
  PyObject_GC_UnTrack(self);
  app_clear(self);
  Py_CLEAR(app_of(self)->app);
  PyObject_GC_Del(self);
}

// Bound like the function it replaces: instance.wsgi_app is a method.
PyObject* flask_descr_get(PyObject* self, PyObject* obj, PyObject*) {
  if (obj == nullptr || obj == Py_None) return hook::new_ref(self);
  return PyMethod_New(self, obj);
}

// Attributes other than the wrapper's own are the app's.
PyObject* app_getattro(PyObject* self, PyObject* name) {
  if (hook::is_own_attribute(self, name)) return PyObject_GenericGetAttr(self, name);
  return PyObject_GetAttr(app_of(self)->app, name);
}

int app_setattro(PyObject* self, PyObject* name, PyObject* value) {
  if (hook::is_own_attribute(self, name)) return PyObject_GenericSetAttr(self, name, value);
  return PyObject_SetAttr(app_of(self)->app, name, value);
}

PyObject* get_wrapped(PyObject* self, void*) { return hook::new_ref(app_of(self)->app); }
PyObject* get_mark(PyObject*, void*) { Py_RETURN_TRUE; }
PyObject* get_doc(PyObject* self, void*) { return PyObject_GetAttrString(app_of(self)->app, "__doc__"); }

PyGetSetDef app_getset[] = {
    {"__wrapped__", get_wrapped, nullptr, nullptr, nullptr},
    {"__agent_run_wsgi__", get_mark, nullptr, nullptr, nullptr},
    {"__doc__", get_doc, nullptr, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyObject* app_repr(PyObject* self) { return PyUnicode_FromFormat("<agent-run traced %R>", app_of(self)->app); }

PyObject* make_app(PyTypeObject* type, PyObject* args, const char* fmt) {
  PyObject *app, *plugin = Py_None;
  if (!PyArg_ParseTuple(args, fmt, &app, &plugin)) return nullptr;
  if (!PyCallable_Check(app)) {
    PyErr_Format(PyExc_TypeError, "%R is not callable", app);
    return nullptr;
  }
  if (plugin != Py_None && !hook::is_plugin_state(plugin)) {
    PyErr_SetString(PyExc_TypeError, "plugin is a _hook.PluginState or None");
    return nullptr;
  }
  auto* t = PyObject_GC_New(TracedAppObject, type);
  if (t == nullptr) return nullptr;
  t->vectorcall = type == &FlaskWsgiAppType ? flask_app_call : traced_app_call;
  t->app = hook::new_ref(app);
  t->plugin = plugin == Py_None ? nullptr : hook::new_ref(plugin);
  // Looked up once: a request only bumps the counter (ops never move: a deque).
  t->op = t->plugin == nullptr ? nullptr
                               : hook::core_of(t->plugin)->op(type == &FlaskWsgiAppType ? "flask.Flask.wsgi_app"
                                                                                        : "wsgi.app");
  PyObject_GC_Track(t);
  return reinterpret_cast<PyObject*>(t);
}

PyObject* py_traced_wsgi_app(PyObject*, PyObject* args) {
  return make_app(&TracedWsgiAppType, args, "O|O:traced_wsgi_app");
}

PyObject* py_traced_flask_wsgi_app(PyObject*, PyObject* args) {
  return make_app(&FlaskWsgiAppType, args, "O|O:traced_flask_wsgi_app");
}

PyObject* py_wsgi_call(PyObject*, PyObject* args) {
  PyObject *app, *environ, *start_response;
  if (!PyArg_UnpackTuple(args, "wsgi_call", 3, 3, &app, &environ, &start_response)) return nullptr;
  if (!PyDict_Check(environ)) return call_app(app, nullptr, environ, start_response);
  return traced_call(app, nullptr, environ, start_response, nullptr, false);
}

PyMethodDef wsgi_app_functions[] = {
    {"traced_wsgi_app", py_traced_wsgi_app, METH_VARARGS,
     "traced_wsgi_app(app, plugin=None) -> a WSGI app calling `app` with a SERVER span per request,\n"
     "ended when the server closes the response. plugin: the PluginState errors count against."},
    {"traced_flask_wsgi_app", py_traced_flask_wsgi_app, METH_VARARGS,
     "traced_flask_wsgi_app(wsgi_app, plugin=None) -> a replacement for Flask.wsgi_app: names the\n"
     "request's SERVER span after the matched route (making the span when no server wrapper did)."},
    {"wsgi_call", py_wsgi_call, METH_VARARGS,
     "wsgi_call(app, environ, start_response) -> the app's response, traced (as traced_wsgi_app)."},
    {nullptr, nullptr, 0, nullptr},
};

void fill_app_type(PyTypeObject& t, const char* name, unsigned long extra_flags) {
  t.tp_name = name;
  t.tp_basicsize = sizeof(TracedAppObject);
  t.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | AR_TPFLAGS_HAVE_VECTORCALL | extra_flags;
  t.tp_vectorcall_offset = offsetof(TracedAppObject, vectorcall);
  t.tp_call = PyVectorcall_Call;
  t.tp_dealloc = app_dealloc;
  t.tp_traverse = app_traverse;
  t.tp_clear = app_clear;
  t.tp_getattro = app_getattro;
  t.tp_setattro = app_setattro;
  t.tp_getset = app_getset;
  t.tp_repr = app_repr;
}

PyObject* intern(PyObject*& slot, const char* s) {
  if (slot == nullptr) slot = PyUnicode_InternFromString(s);
  return slot;
}

}  // namespace

int add_wsgi_app_types(PyObject* module) {
  if (!intern(g_server_span_key, "agent_run.server_span") || !intern(g_werkzeug_request_key, "werkzeug.request") ||
      !intern(g_url_rule, "url_rule") || !intern(g_rule, "rule") || !intern(g_close, "close"))
    return -1;
  StartResponseType.tp_name = "_agent_run._hook.StartResponse";
  StartResponseType.tp_basicsize = sizeof(StartResponseObject);
  StartResponseType.tp_flags = Py_TPFLAGS_DEFAULT | AR_TPFLAGS_HAVE_VECTORCALL;
  StartResponseType.tp_vectorcall_offset = offsetof(StartResponseObject, vectorcall);
  StartResponseType.tp_call = PyVectorcall_Call;
  StartResponseType.tp_dealloc = sr_dealloc;
  if (PyType_Ready(&StartResponseType) < 0) return -1;
  ResponseType.tp_name = "_agent_run._hook.WsgiResponse";
  ResponseType.tp_basicsize = sizeof(ResponseObject);
  ResponseType.tp_flags = Py_TPFLAGS_DEFAULT;
  ResponseType.tp_dealloc = resp_dealloc;
  ResponseType.tp_iter = resp_iter;
  ResponseType.tp_iternext = resp_next;
  ResponseType.tp_methods = resp_methods;
  if (PyType_Ready(&ResponseType) < 0) return -1;
  fill_app_type(TracedWsgiAppType, "_agent_run._hook.TracedWsgiApp", 0);
  if (PyType_Ready(&TracedWsgiAppType) < 0 || hook::override_doc_getset(&TracedWsgiAppType, app_getset) < 0)
    return -1;
  fill_app_type(FlaskWsgiAppType, "_agent_run._hook.FlaskWsgiApp", Py_TPFLAGS_METHOD_DESCRIPTOR);
  FlaskWsgiAppType.tp_descr_get = flask_descr_get;
  if (PyType_Ready(&FlaskWsgiAppType) < 0 || hook::override_doc_getset(&FlaskWsgiAppType, app_getset) < 0)
    return -1;
  return PyModule_AddFunctions(module, wsgi_app_functions);
}

}  // namespace agent_run::spans
