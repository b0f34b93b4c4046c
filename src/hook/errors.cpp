// Containment of plugin errors: see errors.hpp.
#include "errors.hpp"

#include <string>

#include "plugin_state.hpp"

namespace agent_run::hook {

namespace {

// The on_error callback is Python (it logs); if logging itself ends up in a
// wrapper of a plugin that fails, the nested report only counts.
int reporting_depth = 0;

thread_local int deferral_depth AR_INITIAL_EXEC_TLS = 0;
thread_local bool interrupt_pending AR_INITIAL_EXEC_TLS = false;

std::string describe(PyObject* exc) {
  std::string out = Py_TYPE(exc)->tp_name;
  // str(exc) runs plugin-defined code: it may fail, and that must not escape.
  PyObject* s = PyObject_Str(exc);
  if (s == nullptr) {
    PyErr_Clear();
    return out;
  }
  const char* text = PyUnicode_AsUTF8(s);
  if (text == nullptr) {
    PyErr_Clear();
  } else if (*text != '\0') {
    out += ": ";
    out += text;
  }
  Py_DECREF(s);
  if (out.size() > 500) out.resize(500);
  return out;
}

void count(PyObject* state, const char* where, PyObject* exc, const std::string& text) {
  auto* s = reinterpret_cast<PluginStateObject*>(state);
  PluginCore* c = s->core;
  ++c->errors;
  c->last_error = std::string(where) + ": " + text;
  bool unplugged_now = false;
  if (c->error_limit > 0 && c->errors >= uint64_t(c->error_limit) && c->active.exchange(false)) {
    unplugged_now = true;
    c->unplug_reason = std::to_string(c->errors) + " errors (limit " + std::to_string(c->error_limit) +
                       "), last: " + c->last_error;
  }
  if (s->on_error == nullptr || reporting_depth > 0) return;
  ++reporting_depth;
  PyObject* cb = new_ref(s->on_error);  // the callback may replace itself
  PyObject* r = PyObject_CallFunction(cb, "OsOO", state, where, exc != nullptr ? exc : Py_None,
                                      unplugged_now ? Py_True : Py_False);
  Py_DECREF(cb);
  if (r == nullptr) {
    PyErr_Clear();  // nowhere left to report a failure of the reporter
  } else {
    Py_DECREF(r);
  }
  --reporting_depth;
}

}  // namespace

void report_error(PyObject* state, const char* where) {
  SavedError err;
  if (!err.fetch()) return;
  if (err.matches(PyExc_KeyboardInterrupt)) {
    err.discard();
    if (deferral_depth > 0) {
      interrupt_pending = true;
    } else {
      PyErr_SetInterrupt();
    }
    return;
  }
  if (state == nullptr || !is_plugin_state(state)) {
    err.discard();
    return;
  }
  PyObject* exc = err.value();
  if (exc == nullptr) {
    err.discard();
    return;
  }
  Py_INCREF(exc);
  err.discard();
  count(state, where, exc, describe(exc));
  Py_DECREF(exc);
}

InterruptDeferral::InterruptDeferral() { ++deferral_depth; }

InterruptDeferral::~InterruptDeferral() {
  if (--deferral_depth == 0 && interrupt_pending) {
    interrupt_pending = false;
    PyErr_SetInterrupt();
  }
}

void report_native_error(PyObject* state, const char* where, const char* what) {
  PyErr_Format(PyExc_RuntimeError, "native handler error: %s", what != nullptr ? what : "unknown C++ exception");
  report_error(state, where);
}

}  // namespace agent_run::hook
