// _hook.Handler, the Python-visible owner of a native Handler: see handler.hpp.
#include "handler.hpp"

#include <new>

namespace agent_run::hook {

PyTypeObject HandlerType = {PyVarObject_HEAD_INIT(nullptr, 0)};

PyObject* keyword_argument(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames, const char* name) {
  if (kwnames == nullptr || args == nullptr) return nullptr;
  Py_ssize_t n = PyTuple_GET_SIZE(kwnames);
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* key = PyTuple_GET_ITEM(kwnames, i);
    if (PyUnicode_CompareWithASCIIString(key, name) == 0) return args[nargs + i];
  }
  return nullptr;
}

namespace {

HandlerObject* self_of(PyObject* o) { return reinterpret_cast<HandlerObject*>(o); }

int h_traverse(PyObject* o, visitproc visit, void* arg) {
  auto* h = self_of(o)->handler;
  return (h != nullptr && *h) ? (*h)->traverse(visit, arg) : 0;
}

int h_clear(PyObject* o) {
  auto* h = self_of(o)->handler;
  if (h != nullptr && *h) (*h)->clear();
  return 0;
}

void h_dealloc(PyObject* o) {
  PyObject_GC_UnTrack(o);
  h_clear(o);
  delete self_of(o)->handler;
  Py_TYPE(o)->tp_free(o);
}

}  // namespace

PyObject* make_handler_object(std::shared_ptr<Handler> handler) {
  auto* o = PyObject_GC_New(HandlerObject, &HandlerType);
  if (o == nullptr) return nullptr;
  try {
    o->handler = new std::shared_ptr<Handler>(std::move(handler));
  } catch (const std::bad_alloc&) {
    o->handler = nullptr;
    Py_DECREF(o);
    return PyErr_NoMemory();
  }
  PyObject_GC_Track(o);
  return reinterpret_cast<PyObject*>(o);
}

std::shared_ptr<Handler> handler_of(PyObject* o) {
  if (o == nullptr || !PyObject_TypeCheck(o, &HandlerType) || self_of(o)->handler == nullptr) return nullptr;
  return *self_of(o)->handler;
}

int add_call_type(PyObject* module);  // python_handler.cpp

int add_handler_types(PyObject* module) {
  PyTypeObject& t = HandlerType;
  t.tp_name = "_agent_run._hook.Handler";
  t.tp_basicsize = sizeof(HandlerObject);
  t.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;
  t.tp_doc = "A native call handler (see src/hook/handler.hpp); made by native code, passed to wrap().";
  t.tp_dealloc = h_dealloc;
  t.tp_traverse = h_traverse;
  t.tp_clear = h_clear;
  if (PyType_Ready(&t) < 0) return -1;
  Py_INCREF(&t);
  if (PyModule_AddObject(module, "Handler", reinterpret_cast<PyObject*>(&t)) < 0) {
    Py_DECREF(&t);
    return -1;
  }
  return add_call_type(module);
}

}  // namespace agent_run::hook
