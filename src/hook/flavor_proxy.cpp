// Proxies for what generator, coroutine and async generator functions return,
// so that a wrapper's "after" half runs at the end of the generator (exhausted,
// closed, raised, dropped) or coroutine (returned, raised, cancelled), not when
// the object is created.
//
// Four types share one struct: GeneratorProxy (__iter__/__next__/send/throw/
// close), CoroutineProxy (__await__ returning itself, send/throw/close), and
// AsyncGeneratorProxy (__aiter__/__anext__/asend/athrow/aclose), whose
// awaitables are AwaitableProxy objects reporting the generator's end back to
// it. Separate types, because frameworks tell these apart by their methods
// (collections.abc / inspect.isawaitable): a generator proxy must not look
// awaitable. Values, exceptions and StopIteration pass through untouched.
#include <new>

#include "errors.hpp"
#include "wrapper.hpp"

namespace agent_run::hook {

namespace {

PyTypeObject GeneratorProxyType = {PyVarObject_HEAD_INIT(nullptr, 0)};
PyTypeObject CoroutineProxyType = {PyVarObject_HEAD_INIT(nullptr, 0)};
PyTypeObject AsyncGeneratorProxyType = {PyVarObject_HEAD_INIT(nullptr, 0)};
PyTypeObject AwaitableProxyType = {PyVarObject_HEAD_INIT(nullptr, 0)};

enum class WatchMode : uint8_t { None, Step, Close };

struct FlavorProxyObject {
  PyObject_HEAD
  PyObject* inner;            // the generator / coroutine / async generator / awaitable
  WrapperObject* wrapper;     // owned; null for an AwaitableProxy
  FlavorProxyObject* parent;  // AwaitableProxy: its async generator proxy (owned)
  PyObject* instance;         // owned refs behind ctx.instance / ctx.callable
  PyObject* callable;
  CallContext ctx;
  bool done;
  WatchMode mode;
  PyObject* weaklist;
};

FlavorProxyObject* self_of(PyObject* o) { return reinterpret_cast<FlavorProxyObject*>(o); }

PyObject* str_send;
PyObject* str_throw;
PyObject* str_close;
PyObject* str_asend;
PyObject* str_athrow;
PyObject* str_aclose;

// The end of the call: once, with the error indicator (if any) as it is.
void finish(FlavorProxyObject* p, Finish how) {
  if (p->parent != nullptr) {
    finish(p->parent, how);
    return;
  }
  if (p->done || p->wrapper == nullptr) return;
  p->done = true;
  complete_call(p->wrapper, p->ctx, nullptr, how);
}

// Classifies the end of a step of the inner object (it returned null).
void ended(FlavorProxyObject* p) {
  if (p->mode == WatchMode::Step) {
    // An async generator's step awaitable ends with StopIteration for every
    // value it yields; only StopAsyncIteration is the generator's end.
    if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_StopIteration)) return;
    if (PyErr_ExceptionMatches(PyExc_StopAsyncIteration)) {
      finish(p, Finish::Returned);
    } else if (PyErr_ExceptionMatches(PyExc_GeneratorExit)) {
      finish(p, Finish::Closed);
    } else {
      finish(p, Finish::Raised);
    }
    return;
  }
  if (p->mode == WatchMode::Close) {
    if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_StopIteration)) {
      finish(p, Finish::Closed);
    } else {
      finish(p, Finish::Raised);
    }
    return;
  }
  if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_StopIteration)) {
    finish(p, Finish::Returned);
  } else if (PyErr_ExceptionMatches(PyExc_GeneratorExit)) {
    finish(p, Finish::Closed);
  } else {
    finish(p, Finish::Raised);
  }
}

PyObject* step_result(FlavorProxyObject* p, PyObject* r) {
  if (r == nullptr) ended(p);
  return r;
}

PyObject* fp_iternext(PyObject* self) {
  FlavorProxyObject* p = self_of(self);
  iternextfunc next = Py_TYPE(p->inner)->tp_iternext;
  PyObject* r;
  if (next != nullptr && PyIter_Check(p->inner)) {
    r = next(p->inner);
  } else {  // coroutines have no __next__: a step is send(None)
    r = PyObject_CallMethodObjArgs(p->inner, str_send, Py_None, nullptr);
  }
  return step_result(p, r);
}

PyObject* fp_send(PyObject* self, PyObject* value) {
  FlavorProxyObject* p = self_of(self);
  return step_result(p, PyObject_CallMethodObjArgs(p->inner, str_send, value, nullptr));
}

PyObject* forward_method(FlavorProxyObject* p, PyObject* name, PyObject* args) {
  PyObject* m = PyObject_GetAttr(p->inner, name);
  if (m == nullptr) return nullptr;
  PyObject* r = PyObject_Call(m, args, nullptr);
  Py_DECREF(m);
  return r;
}

PyObject* fp_throw(PyObject* self, PyObject* args) {
  FlavorProxyObject* p = self_of(self);
  return step_result(p, forward_method(p, str_throw, args));
}

PyObject* fp_close(PyObject* self, PyObject*) {
  FlavorProxyObject* p = self_of(self);
  PyObject* r = PyObject_CallMethodObjArgs(p->inner, str_close, nullptr);
  if (p->mode == WatchMode::Step) return step_result(p, r);
  if (r != nullptr) {
    finish(p, Finish::Closed);
  } else {
    finish(p, Finish::Raised);
  }
  return r;
}

PyObject* fp_self(PyObject* self) { return new_ref(self); }

PyObject* make(PyTypeObject* type, PyObject* inner, WrapperObject* w, FlavorProxyObject* parent, WatchMode mode) {
  FlavorProxyObject* p = PyObject_GC_New(FlavorProxyObject, type);
  if (p == nullptr) return nullptr;
  p->inner = new_ref(inner);
  p->wrapper = reinterpret_cast<WrapperObject*>(xnew_ref(reinterpret_cast<PyObject*>(w)));
  p->parent = reinterpret_cast<FlavorProxyObject*>(xnew_ref(reinterpret_cast<PyObject*>(parent)));
  p->instance = nullptr;
  p->callable = nullptr;
  new (&p->ctx) CallContext();
  p->done = false;
  p->mode = mode;
  p->weaklist = nullptr;
  PyObject_GC_Track(p);
  return reinterpret_cast<PyObject*>(p);
}

// Async generator steps: each returns an awaitable that reports back.
PyObject* watch(FlavorProxyObject* p, PyObject* awaitable, WatchMode mode) {
  if (awaitable == nullptr) {
    ended(p);
    return nullptr;
  }
  PyObject* w = make(&AwaitableProxyType, awaitable, nullptr, p, mode);
  Py_DECREF(awaitable);
  return w;
}

PyObject* ag_anext(PyObject* self) {
  FlavorProxyObject* p = self_of(self);
  PyAsyncMethods* am = Py_TYPE(p->inner)->tp_as_async;
  if (am == nullptr || am->am_anext == nullptr) {
    PyErr_SetString(PyExc_TypeError, "wrapped object is not an async iterator");
    return nullptr;
  }
  return watch(p, am->am_anext(p->inner), WatchMode::Step);
}
PyObject* ag_asend(PyObject* self, PyObject* value) {
  FlavorProxyObject* p = self_of(self);
  return watch(p, PyObject_CallMethodObjArgs(p->inner, str_asend, value, nullptr), WatchMode::Step);
}
PyObject* ag_athrow(PyObject* self, PyObject* args) {
  FlavorProxyObject* p = self_of(self);
  return watch(p, forward_method(p, str_athrow, args), WatchMode::Step);
}
PyObject* ag_aclose(PyObject* self, PyObject*) {
  FlavorProxyObject* p = self_of(self);
  return watch(p, PyObject_CallMethodObjArgs(p->inner, str_aclose, nullptr), WatchMode::Close);
}

// A generator dropped before its end: the call ends as "closed" (PEP 442
// finalizer, so Python-level after() callbacks may run safely).
void fp_finalize(PyObject* self) {
  FlavorProxyObject* p = self_of(self);
  if (p->parent == nullptr && !p->done && p->wrapper != nullptr) {
    SavedError pending;
    pending.fetch();
    finish(p, Finish::Closed);
  }
}

int fp_traverse(PyObject* o, visitproc visit, void* arg) {
  FlavorProxyObject* p = self_of(o);
  Py_VISIT(p->inner);
  Py_VISIT(reinterpret_cast<PyObject*>(p->wrapper));
  Py_VISIT(reinterpret_cast<PyObject*>(p->parent));
  Py_VISIT(p->instance);
  Py_VISIT(p->callable);
  Py_VISIT(p->ctx.state);
  return 0;
}

int fp_clear(PyObject* o) {
  FlavorProxyObject* p = self_of(o);
  p->done = true;
  Py_CLEAR(p->ctx.state);
  Py_CLEAR(p->instance);
  Py_CLEAR(p->callable);
  Py_CLEAR(p->parent);
  Py_CLEAR(p->wrapper);
  Py_CLEAR(p->inner);
  return 0;
}

void fp_dealloc(PyObject* o) {
  if (PyObject_CallFinalizerFromDealloc(o) < 0) return;  // resurrected
  PyObject_GC_UnTrack(o);
  if (self_of(o)->weaklist != nullptr) PyObject_ClearWeakRefs(o);
  fp_clear(o);
  Py_TYPE(o)->tp_free(o);
}

PyObject* fp_getattro(PyObject* self, PyObject* name) {
  if (is_own_attribute(self, name)) return PyObject_GenericGetAttr(self, name);
  return PyObject_GetAttr(self_of(self)->inner, name);
}

PyObject* fp_repr(PyObject* self) { return PyObject_Repr(self_of(self)->inner); }

PyObject* get_wrapped(PyObject* self, void*) { return new_ref(self_of(self)->inner); }
PyGetSetDef fp_getset[] = {
    {"__wrapped__", get_wrapped, nullptr, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyMethodDef gen_methods[] = {
    {"send", fp_send, METH_O, nullptr},
    {"throw", fp_throw, METH_VARARGS, nullptr},
    {"close", fp_close, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};
PyMethodDef coro_methods[] = {
    {"send", fp_send, METH_O, nullptr},
    {"throw", fp_throw, METH_VARARGS, nullptr},
    {"close", fp_close, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};
PyMethodDef agen_methods[] = {
    {"asend", ag_asend, METH_O, nullptr},
    {"athrow", ag_athrow, METH_VARARGS, nullptr},
    {"aclose", ag_aclose, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyAsyncMethods coro_async = {fp_self, nullptr, nullptr
#if PY_VERSION_HEX >= 0x030A0000
                             , nullptr
#endif
};
PyAsyncMethods agen_async = {nullptr, fp_self, ag_anext
#if PY_VERSION_HEX >= 0x030A0000
                             , nullptr
#endif
};

int ready(PyObject* module, PyTypeObject& t, const char* name, const char* short_name) {
  t.tp_name = name;
  t.tp_basicsize = sizeof(FlavorProxyObject);
  t.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;
  t.tp_dealloc = fp_dealloc;
  t.tp_finalize = fp_finalize;
  t.tp_traverse = fp_traverse;
  t.tp_clear = fp_clear;
  t.tp_getattro = fp_getattro;
  t.tp_repr = fp_repr;
  t.tp_getset = fp_getset;
  t.tp_weaklistoffset = offsetof(FlavorProxyObject, weaklist);
  if (PyType_Ready(&t) < 0) return -1;
  Py_INCREF(&t);
  if (PyModule_AddObject(module, short_name, reinterpret_cast<PyObject*>(&t)) < 0) {
    Py_DECREF(&t);
    return -1;
  }
  return 0;
}

}  // namespace

PyObject* make_flavor_proxy(WrapperObject* w, PyObject* inner, CallContext& ctx) {
  PyTypeObject* type = w->flavor == Flavor::Generator   ? &GeneratorProxyType
                       : w->flavor == Flavor::Coroutine ? &CoroutineProxyType
                                                        : &AsyncGeneratorProxyType;
  PyObject* o = make(type, inner, w, nullptr, WatchMode::None);
  if (o == nullptr) return nullptr;
  FlavorProxyObject* p = self_of(o);
  p->ctx = ctx;
  p->instance = xnew_ref(ctx.instance);
  p->callable = xnew_ref(ctx.callable);
  ctx.state = nullptr;  // moved
  return o;
}

int add_flavor_proxy_types(PyObject* module) {
  str_send = PyUnicode_InternFromString("send");
  str_throw = PyUnicode_InternFromString("throw");
  str_close = PyUnicode_InternFromString("close");
  str_asend = PyUnicode_InternFromString("asend");
  str_athrow = PyUnicode_InternFromString("athrow");
  str_aclose = PyUnicode_InternFromString("aclose");
  if (!str_send || !str_throw || !str_close || !str_asend || !str_athrow || !str_aclose) return -1;

  GeneratorProxyType.tp_iter = fp_self;
  GeneratorProxyType.tp_iternext = fp_iternext;
  GeneratorProxyType.tp_methods = gen_methods;
  if (ready(module, GeneratorProxyType, "_agent_run._hook.GeneratorProxy", "GeneratorProxy") < 0) return -1;

  CoroutineProxyType.tp_as_async = &coro_async;
  CoroutineProxyType.tp_iternext = fp_iternext;  // __await__ returns the proxy itself
  CoroutineProxyType.tp_methods = coro_methods;
  if (ready(module, CoroutineProxyType, "_agent_run._hook.CoroutineProxy", "CoroutineProxy") < 0) return -1;

  AsyncGeneratorProxyType.tp_as_async = &agen_async;
  AsyncGeneratorProxyType.tp_methods = agen_methods;
  if (ready(module, AsyncGeneratorProxyType, "_agent_run._hook.AsyncGeneratorProxy", "AsyncGeneratorProxy") < 0) {
    return -1;
  }

  AwaitableProxyType.tp_as_async = &coro_async;
  AwaitableProxyType.tp_iter = fp_self;
  AwaitableProxyType.tp_iternext = fp_iternext;
  AwaitableProxyType.tp_methods = gen_methods;
  return ready(module, AwaitableProxyType, "_agent_run._hook.AwaitableProxy", "AwaitableProxy");
}

}  // namespace agent_run::hook
