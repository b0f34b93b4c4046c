// BoundWrapper: a wrapper bound to an instance by attribute access.
//
// It is the analogue of a bound method: two pointers and a reference to the
// wrapper, no per-call work beyond putting self in front of the arguments
// (in the caller's spare slot when it offers one, PY_VECTORCALL_ARGUMENTS_OFFSET,
// else on the C stack). Calls on patched classes do not even create one: see
// MethodWrapper in wrapper.hpp.
#include "free_list.hpp"
#include "prepended_args.hpp"
#include "wrapper.hpp"

namespace agent_run::hook {

PyTypeObject BoundWrapperType = {PyVarObject_HEAD_INIT(nullptr, 0)};

namespace {

FreeList<BoundWrapperObject> g_free;  // the type is final: every object is exactly a BoundWrapper

BoundWrapperObject* self_of(PyObject* o) { return reinterpret_cast<BoundWrapperObject*>(o); }

PyObject* bw_vectorcall(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
  BoundWrapperObject* b = self_of(self);
  WrapperObject* w = b->wrapper;
  if (b->callable != nullptr) {
    return invoke(w, b->callable, b->instance, false, args, nargsf, kwnames, b->via);
  }
  PrependedArgs full(b->instance, args, nargsf, kwnames);
  if (!full.ok()) return nullptr;
  return invoke(w, w->target, b->instance, true, full.args(), full.nargsf(), kwnames, b->via);
}

int bw_traverse(PyObject* o, visitproc visit, void* arg) {
  BoundWrapperObject* b = self_of(o);
  Py_VISIT(reinterpret_cast<PyObject*>(b->wrapper));
  Py_VISIT(b->instance);
  Py_VISIT(b->callable);
  Py_VISIT(b->via);
  return 0;
}

int bw_clear(PyObject* o) {
  // wrapper and instance stay: the call path relies on them (see w_clear).
  Py_CLEAR(self_of(o)->via);
  return 0;
}

void bw_dealloc(PyObject* o) {
  BoundWrapperObject* b = self_of(o);
  PyObject_GC_UnTrack(o);
  if (b->weaklist != nullptr) PyObject_ClearWeakRefs(o);
  Py_CLEAR(b->via);
  Py_CLEAR(b->callable);
  Py_CLEAR(b->instance);
  Py_CLEAR(b->wrapper);
  g_free.give(o);
}

// The original, bound the same way: what introspection should see
// (inspect.signature without self, __self__, __func__, __name__...).
PyObject* bound_original(BoundWrapperObject* b) {
  if (b->callable != nullptr) return new_ref(b->callable);
  WrapperObject* w = b->wrapper;
  PyObject* orig = w->wrapped;
  descrgetfunc get = Py_TYPE(orig)->tp_descr_get;
  if (get == nullptr) return new_ref(orig);
  if (w->kind == Kind::ClassMethod) return get(orig, nullptr, b->instance);
  return get(orig, b->instance, reinterpret_cast<PyObject*>(Py_TYPE(b->instance)));
}

PyObject* bw_getattro(PyObject* self, PyObject* name) {
  if (is_own_attribute(self, name)) return PyObject_GenericGetAttr(self, name);
  PyObject* orig = bound_original(self_of(self));
  if (orig == nullptr) return nullptr;
  PyObject* r = PyObject_GetAttr(orig, name);
  Py_DECREF(orig);
  return r;
}

PyObject* get_wrapped(PyObject* self, void*) { return bound_original(self_of(self)); }
PyObject* get_self(PyObject* self, void*) { return new_ref(self_of(self)->instance); }
PyObject* get_wrapper(PyObject* self, void*) { return new_ref(reinterpret_cast<PyObject*>(self_of(self)->wrapper)); }
PyObject* get_forwarded(PyObject* self, void* name) {
  PyObject* orig = bound_original(self_of(self));
  if (orig == nullptr) return nullptr;
  PyObject* r = PyObject_GetAttrString(orig, static_cast<const char*>(name));
  Py_DECREF(orig);
  return r;
}

PyGetSetDef bw_getset[] = {
    {"__wrapped__", get_wrapped, nullptr, nullptr, nullptr},
    {"__self__", get_self, nullptr, nullptr, nullptr},
    {"__name__", get_forwarded, nullptr, nullptr, const_cast<char*>("__name__")},
    {"__qualname__", get_forwarded, nullptr, nullptr, const_cast<char*>("__qualname__")},
    {"__doc__", get_forwarded, nullptr, nullptr, const_cast<char*>("__doc__")},
    {"__module__", get_forwarded, nullptr, nullptr, const_cast<char*>("__module__")},
    {"_agent_run_wrapper", get_wrapper, nullptr, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyObject* bw_repr(PyObject* self) {
  PyObject* orig = bound_original(self_of(self));
  if (orig == nullptr) return nullptr;
  PyObject* r = PyUnicode_FromFormat("<agent-run wrapper of %R>", orig);
  Py_DECREF(orig);
  return r;
}

PyObject* bw_richcompare(PyObject* self, PyObject* other, int op) {
  if ((op != Py_EQ && op != Py_NE) || !PyObject_TypeCheck(other, &BoundWrapperType)) Py_RETURN_NOTIMPLEMENTED;
  BoundWrapperObject* a = self_of(self);
  BoundWrapperObject* b = self_of(other);
  bool eq = a->wrapper == b->wrapper && a->instance == b->instance && a->callable == b->callable;
  return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

Py_hash_t bw_hash(PyObject* self) {
  BoundWrapperObject* b = self_of(self);
  Py_hash_t h = PyObject_Hash(reinterpret_cast<PyObject*>(b->wrapper)) ^ Py_hash_t(uintptr_t(b->instance) >> 4);
  return h == -1 ? -2 : h;
}

}  // namespace

PyObject* bind_wrapper(WrapperObject* w, PyObject* obj, PyObject* type, PyObject* via) {
  PyObject* self = reinterpret_cast<PyObject*>(w);
  PyObject* instance = nullptr;
  PyObject* callable = nullptr;
  switch (w->kind) {
    case Kind::Function:
    case Kind::MethodDescriptor:
      if (obj == nullptr || obj == Py_None) return new_ref(self);
      instance = new_ref(obj);
      break;
    case Kind::ClassMethod:
      if (type == nullptr) type = reinterpret_cast<PyObject*>(Py_TYPE(obj));
      instance = new_ref(type);
      break;
    case Kind::Descriptor: {
      callable = Py_TYPE(w->wrapped)->tp_descr_get(w->wrapped, obj, type);
      if (callable == nullptr) return nullptr;
      if (callable == w->wrapped) {
        Py_DECREF(callable);
        return new_ref(self);
      }
      instance = obj != nullptr ? new_ref(obj) : xnew_ref(type);
      break;
    }
    default:
      return new_ref(self);
  }
  BoundWrapperObject* b = g_free.take(&BoundWrapperType);
  if (b == nullptr) {
    Py_XDECREF(instance);
    Py_XDECREF(callable);
    return nullptr;
  }
  b->vectorcall = bw_vectorcall;
  b->wrapper = reinterpret_cast<WrapperObject*>(new_ref(self));
  b->instance = instance;
  b->callable = callable;
  b->via = xnew_ref(via);
  b->weaklist = nullptr;
  PyObject_GC_Track(b);
  return reinterpret_cast<PyObject*>(b);
}

int add_bound_wrapper_type(PyObject* module) {
  PyTypeObject& t = BoundWrapperType;
  t.tp_name = "_agent_run._hook.BoundWrapper";
  t.tp_basicsize = sizeof(BoundWrapperObject);
  t.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | AR_TPFLAGS_HAVE_VECTORCALL;
  t.tp_vectorcall_offset = offsetof(BoundWrapperObject, vectorcall);
  t.tp_call = PyVectorcall_Call;
  t.tp_dealloc = bw_dealloc;
  t.tp_traverse = bw_traverse;
  t.tp_clear = bw_clear;
  t.tp_getattro = bw_getattro;
  t.tp_setattro = PyObject_GenericSetAttr;
  t.tp_getset = bw_getset;
  t.tp_repr = bw_repr;
  t.tp_richcompare = bw_richcompare;
  t.tp_hash = bw_hash;
  t.tp_weaklistoffset = offsetof(BoundWrapperObject, weaklist);
  if (PyType_Ready(&t) < 0 || override_doc_getset(&t, bw_getset) < 0) return -1;
  Py_INCREF(&t);
  if (PyModule_AddObject(module, "BoundWrapper", reinterpret_cast<PyObject*>(&t)) < 0) {
    Py_DECREF(&t);
    return -1;
  }
  return 0;
}

}  // namespace agent_run::hook
