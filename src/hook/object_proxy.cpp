// ObjectProxy: stands in for an object whose methods cannot be patched
// (instances of immutable C types such as sqlite3.Connection): the wrapper of
// the function that returns the object (sqlite3.connect) returns a proxy, and
// the proxy serves the instrumented methods.
//
// Transparent where CPython allows: attribute get/set/del, repr/str, hash,
// comparisons, truth, len, iteration, calls, subscripts and `with` are
// forwarded; __class__ is the wrapped object's class, so isinstance() checks
// pass (isinstance falls back to __class__). type(proxy) and C code that checks
// the exact C type (e.g. Connection.backup(target)) still see the proxy.
//
// overrides: {name: wrapper}, shared by every proxy of one kind. proxy.name
// binds the wrapper to the wrapped object, but only while the plugin is active
// and only if type(wrapped).name is the very object the wrapper wraps (a
// subclass that overrides the method keeps its own).
//
// Subclassable in Python; subclass instance attributes are named _self_*.
#include "free_list.hpp"
#include "wrapper.hpp"

namespace agent_run::hook {

namespace {

PyTypeObject ObjectProxyType = {PyVarObject_HEAD_INIT(nullptr, 0)};

struct ObjectProxyObject {
  PyObject_HEAD
  PyObject* wrapped;
  PyObject* overrides;  // dict or null
  PyObject* weaklist;
};

FreeList<ObjectProxyObject> g_free;  // exact ObjectProxy objects only (not Python subclasses)

ObjectProxyObject* self_of(PyObject* o) { return reinterpret_cast<ObjectProxyObject*>(o); }
PyObject* wrapped_of(PyObject* o) { return self_of(o)->wrapped; }

PyObject* op_new(PyTypeObject* type, PyObject* args, PyObject* kwds) {
  static const char* kwlist[] = {"wrapped", "overrides", nullptr};
  PyObject* wrapped;
  PyObject* overrides = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O", const_cast<char**>(kwlist), &wrapped, &overrides)) {
    return nullptr;
  }
  if (overrides != Py_None && !PyDict_Check(overrides)) {
    PyErr_SetString(PyExc_TypeError, "ObjectProxy: overrides must be a dict or None");
    return nullptr;
  }
  ObjectProxyObject* p = reinterpret_cast<ObjectProxyObject*>(type->tp_alloc(type, 0));
  if (p == nullptr) return nullptr;
  p->wrapped = new_ref(wrapped);
  p->overrides = overrides == Py_None ? nullptr : new_ref(overrides);
  return reinterpret_cast<PyObject*>(p);
}

int op_traverse(PyObject* o, visitproc visit, void* arg) {
  Py_VISIT(self_of(o)->wrapped);
  Py_VISIT(self_of(o)->overrides);
  return 0;
}

int op_clear(PyObject* o) {
  Py_CLEAR(self_of(o)->overrides);  // wrapped stays: every slot forwards to it
  return 0;
}

// Also the base dealloc of Python subclasses (whose subtype_dealloc owns the
// type's reference), so it never touches the type's refcount.
void op_dealloc(PyObject* o) {
  PyObject_GC_UnTrack(o);
  if (self_of(o)->weaklist != nullptr) PyObject_ClearWeakRefs(o);
  op_clear(o);
  Py_CLEAR(self_of(o)->wrapped);
  if (Py_TYPE(o) == &ObjectProxyType) g_free.give(o);
  else Py_TYPE(o)->tp_free(o);
}

bool starts_with_self(PyObject* name) {
  if (!PyUnicode_Check(name) || PyUnicode_GET_LENGTH(name) < 6) return false;
  static const char prefix[] = "_self_";
  for (Py_ssize_t i = 0; i < 6; ++i) {
    if (PyUnicode_READ_CHAR(name, i) != Py_UCS4(prefix[i])) return false;
  }
  return true;
}

PyObject* op_getattro(PyObject* self, PyObject* name) {
  ObjectProxyObject* p = self_of(self);
  if (p->overrides != nullptr) {
    PyObject* w = PyDict_GetItemWithError(p->overrides, name);  // borrowed
    if (w == nullptr && PyErr_Occurred()) return nullptr;
    if (w != nullptr && is_wrapper(w)) {
      WrapperObject* wr = reinterpret_cast<WrapperObject*>(w);
      if (wr->core->is_active() && _PyType_Lookup(Py_TYPE(p->wrapped), name) == wr->wrapped) {
        return bind_wrapper(wr, p->wrapped, reinterpret_cast<PyObject*>(Py_TYPE(p->wrapped)), self);
      }
    }
  }
  if (starts_with_self(name) || is_own_attribute(self, name)) return PyObject_GenericGetAttr(self, name);
  return PyObject_GetAttr(p->wrapped, name);
}

int op_setattro(PyObject* self, PyObject* name, PyObject* value) {
  if (starts_with_self(name) || is_own_attribute(self, name)) return PyObject_GenericSetAttr(self, name, value);
  return PyObject_SetAttr(wrapped_of(self), name, value);
}

PyObject* op_repr(PyObject* self) { return PyObject_Repr(wrapped_of(self)); }
PyObject* op_str(PyObject* self) { return PyObject_Str(wrapped_of(self)); }
Py_hash_t op_hash(PyObject* self) { return PyObject_Hash(wrapped_of(self)); }
PyObject* op_richcompare(PyObject* self, PyObject* other, int op) {
  if (PyObject_TypeCheck(other, &ObjectProxyType)) other = wrapped_of(other);
  return PyObject_RichCompare(wrapped_of(self), other, op);
}
int op_bool(PyObject* self) { return PyObject_IsTrue(wrapped_of(self)); }
Py_ssize_t op_len(PyObject* self) { return PyObject_Length(wrapped_of(self)); }
PyObject* op_iter(PyObject* self) { return PyObject_GetIter(wrapped_of(self)); }
PyObject* op_iternext(PyObject* self) {
  PyObject* w = wrapped_of(self);
  iternextfunc next = Py_TYPE(w)->tp_iternext;
  if (next == nullptr || !PyIter_Check(w)) {
    PyErr_Format(PyExc_TypeError, "'%.200s' object is not an iterator", Py_TYPE(w)->tp_name);
    return nullptr;
  }
  return next(w);
}
PyObject* op_call(PyObject* self, PyObject* args, PyObject* kwargs) {
  return PyObject_Call(wrapped_of(self), args, kwargs);
}
PyObject* op_getitem(PyObject* self, PyObject* key) { return PyObject_GetItem(wrapped_of(self), key); }
int op_setitem(PyObject* self, PyObject* key, PyObject* value) {
  if (value == nullptr) return PyObject_DelItem(wrapped_of(self), key);
  return PyObject_SetItem(wrapped_of(self), key, value);
}
int op_contains(PyObject* self, PyObject* value) { return PySequence_Contains(wrapped_of(self), value); }

// `with proxy as x`: x is the proxy when __enter__ returns the wrapped object
// itself (sqlite3.Connection does), so calls on x stay instrumented.
PyObject* op_enter(PyObject* self, PyObject*) {
  PyObject* r = PyObject_CallMethod(wrapped_of(self), "__enter__", nullptr);
  if (r == wrapped_of(self)) {
    Py_DECREF(r);
    return new_ref(self);
  }
  return r;
}
PyObject* op_exit(PyObject* self, PyObject* args) {
  PyObject* m = PyObject_GetAttrString(wrapped_of(self), "__exit__");
  if (m == nullptr) return nullptr;
  PyObject* r = PyObject_Call(m, args, nullptr);
  Py_DECREF(m);
  return r;
}
PyObject* op_dir(PyObject* self, PyObject*) { return PyObject_Dir(wrapped_of(self)); }

PyMethodDef op_methods[] = {
    {"__enter__", op_enter, METH_NOARGS, nullptr},
    {"__exit__", op_exit, METH_VARARGS, nullptr},
    {"__dir__", op_dir, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyObject* get_wrapped(PyObject* self, void*) { return new_ref(wrapped_of(self)); }
PyObject* get_class(PyObject* self, void*) { return new_ref(reinterpret_cast<PyObject*>(Py_TYPE(wrapped_of(self)))); }
int set_class(PyObject* self, PyObject* value, void*) {
  return PyObject_SetAttrString(wrapped_of(self), "__class__", value);
}
PyObject* get_forwarded(PyObject* self, void* name) {
  return PyObject_GetAttrString(wrapped_of(self), static_cast<const char*>(name));
}
PyObject* get_overrides(PyObject* self, void*) {
  return new_ref(self_of(self)->overrides != nullptr ? self_of(self)->overrides : Py_None);
}

PyGetSetDef op_getset[] = {
    {"__wrapped__", get_wrapped, nullptr, nullptr, nullptr},
    {"__class__", get_class, set_class, nullptr, nullptr},
    {"__doc__", get_forwarded, nullptr, nullptr, const_cast<char*>("__doc__")},
    {"__module__", get_forwarded, nullptr, nullptr, const_cast<char*>("__module__")},
    {"_self_overrides", get_overrides, nullptr, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyNumberMethods op_number = {};
PyMappingMethods op_mapping = {};
PySequenceMethods op_sequence = {};

}  // namespace

PyObject* make_object_proxy(PyObject* wrapped, PyObject* overrides) {
  ObjectProxyObject* p = g_free.take(&ObjectProxyType);
  if (p == nullptr) return nullptr;
  p->wrapped = new_ref(wrapped);
  p->overrides = xnew_ref(overrides);
  p->weaklist = nullptr;
  PyObject_GC_Track(p);
  return reinterpret_cast<PyObject*>(p);
}

int add_object_proxy_type(PyObject* module) {
  PyTypeObject& t = ObjectProxyType;
  t.tp_name = "_agent_run._hook.ObjectProxy";
  t.tp_basicsize = sizeof(ObjectProxyObject);
  t.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE;
  t.tp_new = op_new;
  t.tp_dealloc = op_dealloc;
  t.tp_traverse = op_traverse;
  t.tp_clear = op_clear;
  t.tp_getattro = op_getattro;
  t.tp_setattro = op_setattro;
  t.tp_repr = op_repr;
  t.tp_str = op_str;
  t.tp_hash = op_hash;
  t.tp_richcompare = op_richcompare;
  t.tp_iter = op_iter;
  t.tp_iternext = op_iternext;
  t.tp_call = op_call;
  t.tp_methods = op_methods;
  t.tp_getset = op_getset;
  t.tp_weaklistoffset = offsetof(ObjectProxyObject, weaklist);
  op_number.nb_bool = op_bool;
  t.tp_as_number = &op_number;
  op_mapping.mp_length = op_len;
  op_mapping.mp_subscript = op_getitem;
  op_mapping.mp_ass_subscript = op_setitem;
  t.tp_as_mapping = &op_mapping;
  op_sequence.sq_contains = op_contains;
  t.tp_as_sequence = &op_sequence;
  if (PyType_Ready(&t) < 0 || override_doc_getset(&t, op_getset) < 0) return -1;
  Py_INCREF(&t);
  if (PyModule_AddObject(module, "ObjectProxy", reinterpret_cast<PyObject*>(&t)) < 0) {
    Py_DECREF(&t);
    return -1;
  }
  return 0;
}

}  // namespace agent_run::hook
