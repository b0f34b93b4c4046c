// FunctionWrapper / MethodWrapper and the call path they share: see wrapper.hpp.
#include "wrapper.hpp"

#include <exception>
#include <string>

#include "errors.hpp"
#include "registration.hpp"

namespace agent_run::hook {

PyTypeObject FunctionWrapperType = {PyVarObject_HEAD_INIT(nullptr, 0)};
PyTypeObject MethodWrapperType = {PyVarObject_HEAD_INIT(nullptr, 0)};

thread_local int agent_depth AR_INITIAL_EXEC_TLS = 0;

void report_handler_failure(WrapperObject* w, const char* where, int rc) {
  if (rc < 0 && !PyErr_Occurred()) PyErr_Format(PyExc_SystemError, "handler %s() failed without an exception", where);
  report_error(w->plugin, where);
}

namespace {

WrapperObject* self_of(PyObject* o) { return reinterpret_cast<WrapperObject*>(o); }

// Runs handler->before() contained; an error indicator already set on entry
// (rare: a call from C code with an exception pending) is kept aside and put back.
void run_before(WrapperObject* w, Handler* h, CallContext& ctx) {
  SavedError pending;
  pending.fetch();
  run_contained(w, "before", [&] { return h->before(ctx); });
  // pending's destructor restores it
}

PyObject* proxy_result(WrapperObject* w, PyObject* result) {
  PyObject* proxy = make_object_proxy(result, w->proxy_overrides);
  if (proxy == nullptr) {
    report_error(w->plugin, "proxy");
    return result;
  }
  Py_DECREF(result);
  return proxy;
}

}  // namespace

void complete_call(WrapperObject* w, CallContext& ctx, PyObject* result, Finish finish) {
  SavedError in_flight;
  in_flight.fetch();
  if (w->core->is_active()) {
    if (ctx.start_ns != 0) {
      ctx.end_ns = monotonic_ns();
      w->op->add_duration(ctx.end_ns - ctx.start_ns);
    }
    if (Handler* h = w->handler) {
      ctx.result = finish == Finish::Returned ? result : nullptr;
      ctx.exception = finish == Finish::Raised ? in_flight.value() : nullptr;
      ctx.finish = finish;
      run_contained(w, "after", [&] { return h->after(ctx); });
    }
  } else if (Handler* h = w->handler) {
    // Unplugged while the call ran: it finishes as a plain pass-through.
    try {
      h->abandon(ctx);
    } catch (...) {
    }
    PyErr_Clear();
  }
  ctx.result = nullptr;
  ctx.exception = nullptr;
  Py_CLEAR(ctx.state);  // may run __del__ code: the original's error is still held aside
  // in_flight's destructor puts the original's error back, untouched
}

PyObject* invoke_slow(WrapperObject* w, PyObject* callable, PyObject* instance, bool self_in_args,
                      PyObject* const* args, size_t nargsf, PyObject* kwnames, PyObject* via) {
  if (agent_depth > 0) return vectorcall(callable, args, nargsf, kwnames);
  InterruptDeferral deferral;
  Handler* h = w->handler;
  CallContext ctx;
  ctx.callable = callable;
  ctx.op = w->op;
  ctx.plugin = w->plugin;
  Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
  if (self_in_args && nargs > 0) {
    ctx.instance = args[0];
    ctx.args = args + 1;
    ctx.nargs = nargs - 1;
  } else {
    ctx.instance = instance;
    ctx.args = args;
    ctx.nargs = nargs;
  }
  ctx.kwnames = kwnames;
  bool needs_end = w->timing || (h != nullptr && h->wants_after());
  if (w->timing || (h != nullptr && h->wants_timing())) ctx.start_ns = monotonic_ns();
  if (h != nullptr) run_before(w, h, ctx);

  PyObject* result = vectorcall(callable, args, nargsf, kwnames);  // exactly once

  ctx.args = nullptr;  // the caller's arguments are not ours after the call
  ctx.nargs = 0;
  ctx.kwnames = nullptr;
  if (result != nullptr && w->flavor != Flavor::Plain && needs_end && w->core->is_active()) {
    PyObject* proxy = make_flavor_proxy(w, result, ctx);
    if (proxy != nullptr) {
      Py_DECREF(result);
      return proxy;
    }
    report_error(w->plugin, "generator proxy");  // then finish the call now
  }
  complete_call(w, ctx, result, result != nullptr ? Finish::Returned : Finish::Raised);
  if (result == nullptr) return nullptr;
  if (via != nullptr && result == instance) {
    Py_DECREF(result);
    return new_ref(via);
  }
  if (w->proxy_overrides != nullptr && result != Py_None && w->core->is_active()) return proxy_result(w, result);
  return result;
}

namespace {

// Vectorcall entry points, one per kind, chosen in wrap().
PyObject* call_target(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
  WrapperObject* w = self_of(self);
  return invoke(w, w->target, nullptr, false, args, nargsf, kwnames, nullptr);
}
PyObject* call_target_on_class(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
  WrapperObject* w = self_of(self);
  return invoke(w, w->target, nullptr, true, args, nargsf, kwnames, nullptr);
}
PyObject* call_wrapped_bound(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
  WrapperObject* w = self_of(self);
  return invoke(w, w->wrapped, w->bound_self, false, args, nargsf, kwnames, nullptr);
}
PyObject* call_wrapped(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
  WrapperObject* w = self_of(self);
  return invoke(w, w->wrapped, nullptr, false, args, nargsf, kwnames, nullptr);
}

int w_traverse(PyObject* o, visitproc visit, void* arg) {
  WrapperObject* w = self_of(o);
  Py_VISIT(w->wrapped);
  Py_VISIT(w->target);
  Py_VISIT(w->plugin);
  Py_VISIT(w->handler_obj);
  Py_VISIT(w->proxy_overrides);
  return 0;
}

int w_clear(PyObject* o) {
  WrapperObject* w = self_of(o);
  // The call path dereferences these without checks: a cleared wrapper (only
  // ever seen inside a garbage cycle being collected) keeps its wrapped object
  // and plugin, and only drops what can form cycles through Python code.
  w->handler = nullptr;
  w->fast = true;
  Py_CLEAR(w->handler_obj);
  Py_CLEAR(w->proxy_overrides);
  return 0;
}

void w_dealloc(PyObject* o) {
  WrapperObject* w = self_of(o);
  PyObject_GC_UnTrack(o);
  if (w->weaklist != nullptr) PyObject_ClearWeakRefs(o);
  w_clear(o);
  Py_CLEAR(w->wrapped);
  Py_CLEAR(w->target);
  Py_CLEAR(w->plugin);
  Py_TYPE(o)->tp_free(o);
}

PyObject* w_descr_get(PyObject* self, PyObject* obj, PyObject* type) {
  return bind_wrapper(self_of(self), obj, type, nullptr);
}

// Introspection reads the original: the function for class/staticmethods.
PyObject* attr_source(WrapperObject* w) { return w->target; }

PyObject* w_getattro(PyObject* self, PyObject* name) {
  if (is_own_attribute(self, name)) return PyObject_GenericGetAttr(self, name);
  return PyObject_GetAttr(attr_source(self_of(self)), name);
}

int w_setattro(PyObject* self, PyObject* name, PyObject* value) {
  if (is_own_attribute(self, name)) return PyObject_GenericSetAttr(self, name, value);
  return PyObject_SetAttr(attr_source(self_of(self)), name, value);
}

PyObject* get_wrapped(PyObject* self, void*) {
  WrapperObject* w = self_of(self);
  // A staticmethod's function is what inspect.signature() needs (3.8/3.9
  // staticmethod objects are not callable).
  return new_ref(w->kind == Kind::StaticMethod ? w->target : w->wrapped);
}
PyObject* get_forwarded(PyObject* self, void* name) {
  return PyObject_GetAttrString(attr_source(self_of(self)), static_cast<const char*>(name));
}
int set_forwarded(PyObject* self, PyObject* value, void* name) {
  if (value == nullptr) return PyObject_DelAttrString(attr_source(self_of(self)), static_cast<const char*>(name));
  return PyObject_SetAttrString(attr_source(self_of(self)), static_cast<const char*>(name), value);
}
PyObject* get_plugin(PyObject* self, void*) { return new_ref(self_of(self)->plugin); }
PyObject* get_op(PyObject* self, void*) {
  const std::string& n = self_of(self)->op->name;
  return PyUnicode_FromStringAndSize(n.data(), Py_ssize_t(n.size()));
}
PyObject* get_kind(PyObject* self, void*) {
  static const char* names[] = {"function", "method_descriptor", "classmethod", "staticmethod",
                                "builtin", "bound_method", "descriptor", "callable"};
  return PyUnicode_FromString(names[int(self_of(self)->kind)]);
}
PyObject* get_flavor(PyObject* self, void*) {
  static const char* names[] = {"plain", "generator", "coroutine", "async_generator"};
  return PyUnicode_FromString(names[int(self_of(self)->flavor)]);
}

PyGetSetDef w_getset[] = {
    {"__wrapped__", get_wrapped, nullptr, nullptr, nullptr},
    {"__name__", get_forwarded, set_forwarded, nullptr, const_cast<char*>("__name__")},
    {"__qualname__", get_forwarded, set_forwarded, nullptr, const_cast<char*>("__qualname__")},
    {"__doc__", get_forwarded, set_forwarded, nullptr, const_cast<char*>("__doc__")},
    {"__module__", get_forwarded, set_forwarded, nullptr, const_cast<char*>("__module__")},
    {"_agent_run_plugin", get_plugin, nullptr, nullptr, nullptr},
    {"_agent_run_op", get_op, nullptr, nullptr, nullptr},
    {"_agent_run_kind", get_kind, nullptr, nullptr, nullptr},
    {"_agent_run_flavor", get_flavor, nullptr, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyObject* w_repr(PyObject* self) {
  return PyUnicode_FromFormat("<agent-run wrapper of %R>", self_of(self)->wrapped);
}

Py_hash_t w_hash(PyObject* self) { return PyObject_Hash(self_of(self)->wrapped); }

PyObject* w_richcompare(PyObject* self, PyObject* other, int op) {
  if (is_wrapper(other)) other = self_of(other)->wrapped;
  return PyObject_RichCompare(self_of(self)->wrapped, other, op);
}

Flavor flavor_of_function(PyObject* f) {
  if (PyMethod_Check(f)) f = PyMethod_GET_FUNCTION(f);
  if (!PyFunction_Check(f)) return Flavor::Plain;
  int flags = reinterpret_cast<PyCodeObject*>(PyFunction_GET_CODE(f))->co_flags;
  if (flags & CO_ASYNC_GENERATOR) return Flavor::AsyncGenerator;
  if (flags & CO_COROUTINE) return Flavor::Coroutine;
  if (flags & (CO_GENERATOR | CO_ITERABLE_COROUTINE)) return Flavor::Generator;
  return Flavor::Plain;
}

std::string default_op_name(PyObject* target) {
  PyObject* q = PyObject_GetAttrString(target, "__qualname__");
  if (q == nullptr) {
    PyErr_Clear();
    q = PyObject_Repr(target);
    if (q == nullptr) {
      PyErr_Clear();
      return "?";
    }
  }
  std::string out;
  if (const char* s = PyUnicode_Check(q) ? PyUnicode_AsUTF8(q) : nullptr) out = s;
  PyErr_Clear();
  Py_DECREF(q);
  return out.empty() ? "?" : out;
}

// wrap(wrapped, plugin, op=None, *, handler=None, extract=None, before=None,
//      after=None, timing=False, on_class=False, proxy=None)
PyObject* py_wrap(PyObject*, PyObject* args, PyObject* kwds) {
  static const char* kwlist[] = {"wrapped", "plugin", "op", "handler", "extract", "before",
                                 "after", "timing", "on_class", "proxy", nullptr};
  PyObject *wrapped, *plugin, *op = Py_None, *handler = Py_None, *extract = Py_None, *before = Py_None,
                                 *after = Py_None, *proxy = Py_None;
  int timing = 0, on_class = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|O$OOOOppO", const_cast<char**>(kwlist), &wrapped, &plugin, &op,
                                   &handler, &extract, &before, &after, &timing, &on_class, &proxy)) {
    return nullptr;
  }
  if (!is_plugin_state(plugin)) {
    PyErr_SetString(PyExc_TypeError, "wrap(): plugin must be a _hook.PluginState");
    return nullptr;
  }
  if (proxy != Py_None && !PyDict_Check(proxy)) {
    PyErr_SetString(PyExc_TypeError, "wrap(): proxy must be a dict {method name: wrapper} or None");
    return nullptr;
  }
  PyObject* handler_obj = nullptr;
  if (handler != Py_None) {
    if (!handler_of(handler)) {
      PyErr_SetString(PyExc_TypeError, "wrap(): handler must be a _hook.Handler");
      return nullptr;
    }
    if (extract != Py_None || before != Py_None || after != Py_None) {
      PyErr_SetString(PyExc_TypeError, "wrap(): give either handler or extract/before/after");
      return nullptr;
    }
    handler_obj = new_ref(handler);
  } else if (extract != Py_None || before != Py_None || after != Py_None) {
    handler_obj = make_handler_object(make_python_handler(extract, before, after));
    if (handler_obj == nullptr) return nullptr;
  }

  Kind kind;
  PyObject* target = wrapped;
  PyTypeObject* wtype = &FunctionWrapperType;
  PyTypeObject* tp = Py_TYPE(wrapped);
  if (PyFunction_Check(wrapped)) {
    kind = Kind::Function;
  } else if (PyObject_TypeCheck(wrapped, &PyClassMethod_Type) || PyObject_TypeCheck(wrapped, &PyStaticMethod_Type)) {
    kind = PyObject_TypeCheck(wrapped, &PyClassMethod_Type) ? Kind::ClassMethod : Kind::StaticMethod;
    target = PyObject_GetAttrString(wrapped, "__func__");
    if (target == nullptr) {
      Py_XDECREF(handler_obj);
      return nullptr;
    }
    Py_DECREF(target);  // still referenced by the classmethod/staticmethod; re-owned below
  } else if (PyMethod_Check(wrapped)) {
    kind = Kind::BoundMethod;
  } else if (PyCFunction_Check(wrapped)) {
    kind = Kind::Builtin;
  } else if (PyType_HasFeature(tp, Py_TPFLAGS_METHOD_DESCRIPTOR)) {
    kind = Kind::MethodDescriptor;
  } else if (tp->tp_descr_get != nullptr && !PyType_Check(wrapped)) {
    kind = Kind::Descriptor;
  } else if (PyCallable_Check(wrapped)) {
    kind = Kind::Callable;
  } else {
    Py_XDECREF(handler_obj);
    PyErr_Format(PyExc_TypeError, "wrap(): %R is not callable", wrapped);
    return nullptr;
  }
  if (kind == Kind::Function || kind == Kind::MethodDescriptor) wtype = &MethodWrapperType;

  std::string op_name;
  if (op != Py_None) {
    const char* s = PyUnicode_Check(op) ? PyUnicode_AsUTF8(op) : nullptr;
    if (s == nullptr) {
      Py_XDECREF(handler_obj);
      if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "wrap(): op must be a str");
      return nullptr;
    }
    op_name = s;
  } else {
    op_name = default_op_name(target);
  }

  WrapperObject* w = PyObject_GC_New(WrapperObject, wtype);
  if (w == nullptr) {
    Py_XDECREF(handler_obj);
    return nullptr;
  }
  w->wrapped = new_ref(wrapped);
  w->target = new_ref(target);
  w->bound_self = kind == Kind::BoundMethod ? PyMethod_GET_SELF(wrapped) : nullptr;
  w->plugin = new_ref(plugin);
  w->core = core_of(plugin);
  w->op = w->core->op(op_name);
  w->handler_obj = handler_obj;
  w->handler = handler_obj != nullptr ? handler_of(handler_obj).get() : nullptr;  // kept alive by handler_obj
  w->proxy_overrides = proxy != Py_None ? new_ref(proxy) : nullptr;
  w->weaklist = nullptr;
  w->kind = kind;
  w->flavor = flavor_of_function(target);
  w->timing = timing != 0;
  w->on_class = on_class != 0;
  w->fast = w->handler == nullptr && !w->timing && w->proxy_overrides == nullptr;
  switch (kind) {
    case Kind::Function:
    case Kind::MethodDescriptor:
      w->vectorcall = w->on_class ? call_target_on_class : call_target;
      break;
    case Kind::StaticMethod:
      w->vectorcall = call_target;
      break;
    case Kind::BoundMethod:
      w->vectorcall = call_wrapped_bound;
      break;
    default:  // ClassMethod called unbound behaves as the classmethod object would
      w->vectorcall = call_wrapped;
      break;
  }
  PyObject_GC_Track(w);
  return reinterpret_cast<PyObject*>(w);
}

// unwrap(obj) -> the original of a wrapper, bound wrapper or object proxy, else obj.
PyObject* py_unwrap(PyObject*, PyObject* obj) {
  if (is_wrapper(obj)) return new_ref(self_of(obj)->wrapped);
  PyObject* inner = PyObject_GetAttrString(obj, "__wrapped__");
  if (inner != nullptr) return inner;
  PyErr_Clear();
  return new_ref(obj);
}

PyObject* py_monotonic_ns(PyObject*, PyObject*) { return PyLong_FromUnsignedLongLong(monotonic_ns()); }

PyMethodDef wrapper_functions[] = {
    {"wrap", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(py_wrap)), METH_VARARGS | METH_KEYWORDS,
     "wrap(wrapped, plugin, op=None, *, handler=None, extract=None, before=None, after=None, timing=False, "
     "on_class=False, proxy=None) -> wrapper"},
    {"unwrap", py_unwrap, METH_O, "unwrap(obj) -> the original behind a wrapper, else obj"},
    {"monotonic_ns", py_monotonic_ns, METH_NOARGS, "the clock wrappers time calls with"},
    {nullptr, nullptr, 0, nullptr},
};

void fill_wrapper_type(PyTypeObject& t, const char* name, unsigned long extra_flags) {
  t.tp_name = name;
  t.tp_basicsize = sizeof(WrapperObject);
  t.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | AR_TPFLAGS_HAVE_VECTORCALL | extra_flags;
  t.tp_vectorcall_offset = offsetof(WrapperObject, vectorcall);
  t.tp_call = PyVectorcall_Call;
  t.tp_dealloc = w_dealloc;
  t.tp_traverse = w_traverse;
  t.tp_clear = w_clear;
  t.tp_descr_get = w_descr_get;
  t.tp_getattro = w_getattro;
  t.tp_setattro = w_setattro;
  t.tp_repr = w_repr;
  t.tp_hash = w_hash;
  t.tp_richcompare = w_richcompare;
  t.tp_weaklistoffset = offsetof(WrapperObject, weaklist);
}

}  // namespace

int add_wrapper_types(PyObject* module) {
  fill_wrapper_type(FunctionWrapperType, "_agent_run._hook.FunctionWrapper", Py_TPFLAGS_BASETYPE);
  FunctionWrapperType.tp_getset = w_getset;
  if (PyType_Ready(&FunctionWrapperType) < 0 || override_doc_getset(&FunctionWrapperType, w_getset) < 0) return -1;
  fill_wrapper_type(MethodWrapperType, "_agent_run._hook.MethodWrapper", Py_TPFLAGS_METHOD_DESCRIPTOR);
  MethodWrapperType.tp_base = &FunctionWrapperType;
  if (PyType_Ready(&MethodWrapperType) < 0 || override_doc_getset(&MethodWrapperType, w_getset) < 0) return -1;
  PyTypeObject* types[] = {&FunctionWrapperType, &MethodWrapperType};
  const char* names[] = {"FunctionWrapper", "MethodWrapper"};
  for (int i = 0; i < 2; ++i) {
    Py_INCREF(types[i]);
    if (PyModule_AddObject(module, names[i], reinterpret_cast<PyObject*>(types[i])) < 0) {
      Py_DECREF(types[i]);
      return -1;
    }
  }
  if (PyModule_AddFunctions(module, wrapper_functions) < 0) return -1;
  if (add_plugin_state_type(module) < 0 || add_handler_types(module) < 0 || add_bound_wrapper_type(module) < 0 ||
      add_flavor_proxy_types(module) < 0 || add_object_proxy_type(module) < 0) {
    return -1;
  }
  return 0;
}

}  // namespace agent_run::hook
