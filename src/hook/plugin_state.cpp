// _hook.PluginState: see plugin_state.hpp.
#include "plugin_state.hpp"

#include <new>

#include "errors.hpp"

namespace agent_run::hook {

OpStats* PluginCore::op(const std::string& op_name) {
  auto it = ops_by_name.find(op_name);
  if (it != ops_by_name.end()) return it->second;
  ops.emplace_back();
  OpStats* s = &ops.back();
  s->name = op_name;
  ops_by_name.emplace(op_name, s);
  return s;
}

PyTypeObject PluginStateType = {PyVarObject_HEAD_INIT(nullptr, 0)};

namespace {

PluginStateObject* self_of(PyObject* o) { return reinterpret_cast<PluginStateObject*>(o); }

PyObject* ps_new(PyTypeObject* type, PyObject* args, PyObject* kwds) {
  static const char* kwlist[] = {"name", "error_limit", "on_error", nullptr};
  const char* name = nullptr;
  long long limit = 3;
  PyObject* on_error = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|LO", const_cast<char**>(kwlist), &name, &limit, &on_error)) {
    return nullptr;
  }
  auto* self = self_of(type->tp_alloc(type, 0));
  if (self == nullptr) return nullptr;
  try {
    self->core = new PluginCore();
    self->core->name = name;
    self->core->error_limit = limit;
  } catch (const std::bad_alloc&) {
    Py_DECREF(self);
    return PyErr_NoMemory();
  }
  self->on_error = on_error == Py_None ? nullptr : new_ref(on_error);
  return reinterpret_cast<PyObject*>(self);
}

int ps_traverse(PyObject* o, visitproc visit, void* arg) {
  Py_VISIT(self_of(o)->on_error);
  Py_VISIT(self_of(o)->info);
  return 0;
}

int ps_clear(PyObject* o) {
  Py_CLEAR(self_of(o)->on_error);
  Py_CLEAR(self_of(o)->info);
  return 0;
}

void ps_dealloc(PyObject* o) {
  PyObject_GC_UnTrack(o);
  ps_clear(o);
  delete self_of(o)->core;
  Py_TYPE(o)->tp_free(o);
}

PyObject* ps_repr(PyObject* o) {
  PluginCore* c = self_of(o)->core;
  return PyUnicode_FromFormat("<PluginState %s %s errors=%llu>", c->name.c_str(),
                              c->is_active() ? "active" : "unplugged", (unsigned long long)c->errors);
}

PyObject* str_or_none(const std::string& s, bool none_if_empty = true) {
  if (s.empty() && none_if_empty) Py_RETURN_NONE;
  return PyUnicode_DecodeUTF8(s.data(), Py_ssize_t(s.size()), "replace");
}

uint64_t total_calls(const PluginCore* c) {
  uint64_t n = 0;
  for (const auto& op : c->ops) n += op.calls;
  return n;
}

PyObject* get_name(PyObject* o, void*) { return str_or_none(self_of(o)->core->name, false); }
PyObject* get_active(PyObject* o, void*) { return PyBool_FromLong(self_of(o)->core->is_active()); }
PyObject* get_errors(PyObject* o, void*) { return PyLong_FromUnsignedLongLong(self_of(o)->core->errors); }
PyObject* get_calls(PyObject* o, void*) { return PyLong_FromUnsignedLongLong(total_calls(self_of(o)->core)); }
PyObject* get_last_error(PyObject* o, void*) { return str_or_none(self_of(o)->core->last_error); }
PyObject* get_unplug_reason(PyObject* o, void*) { return str_or_none(self_of(o)->core->unplug_reason); }
PyObject* get_error_limit(PyObject* o, void*) { return PyLong_FromLongLong(self_of(o)->core->error_limit); }
int set_error_limit(PyObject* o, PyObject* v, void*) {
  if (v == nullptr) {
    PyErr_SetString(PyExc_AttributeError, "error_limit cannot be deleted");
    return -1;
  }
  long long n = PyLong_AsLongLong(v);
  if (n == -1 && PyErr_Occurred()) return -1;
  self_of(o)->core->error_limit = n;
  return 0;
}
PyObject* get_obj(PyObject* field) { return new_ref(field != nullptr ? field : Py_None); }
int set_obj(PyObject** field, PyObject* v) {
  PyObject* old = *field;
  *field = (v == nullptr || v == Py_None) ? nullptr : new_ref(v);
  Py_XDECREF(old);
  return 0;
}
PyObject* get_on_error(PyObject* o, void*) { return get_obj(self_of(o)->on_error); }
int set_on_error(PyObject* o, PyObject* v, void*) { return set_obj(&self_of(o)->on_error, v); }
PyObject* get_info(PyObject* o, void*) { return get_obj(self_of(o)->info); }
int set_info(PyObject* o, PyObject* v, void*) { return set_obj(&self_of(o)->info, v); }

PyGetSetDef ps_getset[] = {
    {"name", get_name, nullptr, "the plugin's name", nullptr},
    {"active", get_active, nullptr, "False once the plugin is unplugged", nullptr},
    {"errors", get_errors, nullptr, "errors counted against the plugin", nullptr},
    {"calls", get_calls, nullptr, "calls through the plugin's wrappers, all operations", nullptr},
    {"last_error", get_last_error, nullptr, "the last error, 'where: Type: message', or None", nullptr},
    {"unplug_reason", get_unplug_reason, nullptr, "why the plugin was unplugged, or None", nullptr},
    {"error_limit", get_error_limit, set_error_limit, "errors that unplug the plugin (<= 0: never)", nullptr},
    {"on_error", get_on_error, set_on_error, "callable(state, where, exc, unplugged_now) or None", nullptr},
    {"info", get_info, set_info, "free slot for the Python side", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

// unplug(reason) -> bool: flips the flag; True if this call unplugged it.
PyObject* ps_unplug(PyObject* o, PyObject* args) {
  const char* reason = "";
  if (!PyArg_ParseTuple(args, "|s", &reason)) return nullptr;
  PluginCore* c = self_of(o)->core;
  bool was = c->active.exchange(false);
  if (was) c->unplug_reason = reason;
  return PyBool_FromLong(was);
}

// record_error(where, exc): an error of the plugin's Python-side code (its
// post-import hook, its patch function), counted like a wrapper's.
PyObject* ps_record_error(PyObject* o, PyObject* args) {
  const char* where = nullptr;
  PyObject* exc = nullptr;
  if (!PyArg_ParseTuple(args, "sO", &where, &exc)) return nullptr;
  if (!PyExceptionInstance_Check(exc)) {
    PyErr_SetString(PyExc_TypeError, "record_error() needs an exception instance");
    return nullptr;
  }
  PyObject* tb = PyException_GetTraceback(exc);  // new ref or null
  PyErr_Restore(new_ref(reinterpret_cast<PyObject*>(Py_TYPE(exc))), new_ref(exc), tb);
  report_error(o, where);
  Py_RETURN_NONE;
}

PyObject* op_dict(const OpStats& s) {
  return Py_BuildValue("{s:K,s:K,s:K,s:K}", "calls", (unsigned long long)s.calls, "timed",
                       (unsigned long long)s.timed, "total_ns", (unsigned long long)s.total_ns, "max_ns",
                       (unsigned long long)s.max_ns);
}

// snapshot() -> dict: state, errors, last_error, calls, ops {name: stats}.
PyObject* ps_snapshot(PyObject* o, PyObject*) {
  PluginCore* c = self_of(o)->core;
  PyObject* ops = PyDict_New();
  if (ops == nullptr) return nullptr;
  for (const auto& s : c->ops) {
    PyObject* d = op_dict(s);
    if (d == nullptr || PyDict_SetItemString(ops, s.name.c_str(), d) < 0) {
      Py_XDECREF(d);
      Py_DECREF(ops);
      return nullptr;
    }
    Py_DECREF(d);
  }
  PyObject* last = str_or_none(c->last_error);
  PyObject* reason = str_or_none(c->unplug_reason);
  PyObject* out = Py_BuildValue("{s:s,s:K,s:N,s:K,s:N,s:N}", "state", c->is_active() ? "active" : "unplugged",
                                "errors", (unsigned long long)c->errors, "last_error", last, "calls",
                                (unsigned long long)total_calls(c), "unplug_reason", reason, "ops", ops);
  return out;
}

PyMethodDef ps_methods[] = {
    {"unplug", ps_unplug, METH_VARARGS, "unplug(reason='') -> bool: True if this call unplugged the plugin"},
    {"record_error", ps_record_error, METH_VARARGS, "record_error(where, exc): count an error of the plugin"},
    {"snapshot", ps_snapshot, METH_NOARGS, "snapshot() -> dict of the plugin's health"},
    {nullptr, nullptr, 0, nullptr},
};

}  // namespace

int add_plugin_state_type(PyObject* module) {
  PyTypeObject& t = PluginStateType;
  t.tp_name = "_agent_run._hook.PluginState";
  t.tp_basicsize = sizeof(PluginStateObject);
  t.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;
  t.tp_doc = "PluginState(name, error_limit=3, on_error=None): a plugin's native state and statistics.";
  t.tp_new = ps_new;
  t.tp_dealloc = ps_dealloc;
  t.tp_traverse = ps_traverse;
  t.tp_clear = ps_clear;
  t.tp_repr = ps_repr;
  t.tp_getset = ps_getset;
  t.tp_methods = ps_methods;
  if (PyType_Ready(&t) < 0) return -1;
  Py_INCREF(&t);
  if (PyModule_AddObject(module, "PluginState", reinterpret_cast<PyObject*>(&t)) < 0) {
    Py_DECREF(&t);
    return -1;
  }
  return 0;
}

}  // namespace agent_run::hook
