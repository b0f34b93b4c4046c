// when_module_appears(name, callback): calls callback(module) once a module
// of that name is in sys.modules, for modules that no import statement
// brings (uWSGI creates its `uwsgi` module from C after the interpreter
// started, after sitecustomize ran). A native audit hook (PySys_AddAuditHook,
// 3.8+) looks at sys.modules on each audited event while something is
// awaited; afterwards it costs one branch per event.
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "hook/compat.hpp"

#include <string>
#include <utility>
#include <vector>

namespace agent_run::spans {
namespace {

std::vector<std::pair<std::string, PyObject*>>* g_waiting = nullptr;
bool g_hook_added = false;
bool g_in_callback = false;

int audit_hook(const char*, PyObject*, void*) {
  if (g_waiting == nullptr || g_waiting->empty() || g_in_callback) return 0;
  if (!Py_IsInitialized()) return 0;
  PyObject* modules = PyImport_GetModuleDict();  // borrowed
  if (modules == nullptr) return 0;
  for (size_t i = 0; i < g_waiting->size(); ++i) {
    PyObject* m = PyDict_GetItemString(modules, (*g_waiting)[i].first.c_str());  // borrowed
    if (m == nullptr) continue;
    PyObject* cb = (*g_waiting)[i].second;
    g_waiting->erase(g_waiting->begin() + Py_ssize_t(i));
    --i;
    // Whatever error state the audited operation has stays untouched.
    agent_run::hook::SavedError saved;  // put back below; errors of our own calls are cleared first
    saved.fetch();
    Py_INCREF(m);
    g_in_callback = true;
    PyObject* r = PyObject_CallFunctionObjArgs(cb, m, nullptr);
    g_in_callback = false;
    Py_DECREF(m);
    Py_XDECREF(r);
    PyErr_Clear();  // a failing callback must not fail the app's operation
    Py_DECREF(cb);
    PyErr_Clear();
    saved.restore();
  }
  return 0;
}

PyObject* py_when_module_appears(PyObject*, PyObject* args) {
  const char* name;
  PyObject* cb;
  if (!PyArg_ParseTuple(args, "sO:when_module_appears", &name, &cb)) return nullptr;
  if (!PyCallable_Check(cb)) {
    PyErr_SetString(PyExc_TypeError, "callback must be callable");
    return nullptr;
  }
  PyObject* m = PyDict_GetItemString(PyImport_GetModuleDict(), name);
  if (m != nullptr) return PyObject_CallFunctionObjArgs(cb, m, nullptr);
  if (g_waiting == nullptr) g_waiting = new std::vector<std::pair<std::string, PyObject*>>();
  Py_INCREF(cb);
  g_waiting->emplace_back(name, cb);
  if (!g_hook_added) {
    if (PySys_AddAuditHook(audit_hook, nullptr) < 0) return nullptr;
    g_hook_added = true;
  }
  Py_RETURN_NONE;
}

PyMethodDef watch_functions[] = {
    {"when_module_appears", py_when_module_appears, METH_VARARGS,
     "when_module_appears(name, callback): callback(module) once sys.modules has it (now if it does)."},
    {nullptr, nullptr, 0, nullptr},
};

}  // namespace

int add_module_watch_functions(PyObject* module) {
  return PyModule_AddFunctions(module, watch_functions);
}

}  // namespace agent_run::spans
