#pragma once
// The function wrapper: the building block every plugin uses.
//
// What the wrapped object is (Kind) and whether it is a generator, coroutine
// or async generator function (Flavor) is decided once, in wrap(), and the
// wrapper's vectorcall entry point is chosen from the kind then: no per-call
// lookups (wrapt's per-call, usually failing, __self__ lookup is most of its
// cost).
//
// Two Python types share this struct: MethodWrapper, for kinds that bind like
// a function (Python functions, method descriptors of C types, anything whose
// type has Py_TPFLAGS_METHOD_DESCRIPTOR), and FunctionWrapper for the rest.
// MethodWrapper carries Py_TPFLAGS_METHOD_DESCRIPTOR itself, so that
// `obj.method(...)` on a patched class takes CPython's LOAD_METHOD path: no
// bound object is created at all, the wrapper is called with self first.
// Other attribute accesses bind through BoundWrapper, a small object.
#include "compat.hpp"

#include <exception>

#include "errors.hpp"
#include "handler.hpp"
#include "plugin_state.hpp"

namespace agent_run::hook {

enum class Kind : uint8_t {
  Function,          // a Python function: binds; flavor from its code flags
  MethodDescriptor,  // binds like a function (method_descriptor, our MethodWrapper, ...)
  ClassMethod,       // a classmethod object: binds to the class; calls its __func__
  StaticMethod,      // a staticmethod object: never binds; calls its __func__
  Builtin,           // builtin_function_or_method: never binds
  BoundMethod,       // an already bound method: never rebinds; instance = __self__
  Descriptor,        // any other callable with __get__: binds through its own __get__
  Callable,          // any other callable object: never binds
};

enum class Flavor : uint8_t { Plain, Generator, Coroutine, AsyncGenerator };

struct WrapperObject {
  PyObject_HEAD
  vectorcallfunc vectorcall;   // chosen by kind at wrap time
  PyObject* wrapped;           // the original, exactly as given
  PyObject* target;            // what is called: __func__ for class/staticmethods, else wrapped
  PyObject* bound_self;        // BoundMethod: its __self__ (borrowed from wrapped)
  PyObject* plugin;            // PluginState (owned)
  PluginCore* core;            // plugin's core, cached
  OpStats* op;                 // owned by core
  PyObject* handler_obj;       // _hook.Handler (owned) or null
  Handler* handler;            // handler_obj's handler, cached
  PyObject* proxy_overrides;   // dict: results are wrapped in an ObjectProxy with these, or null
  PyObject* weaklist;
  Kind kind;
  Flavor flavor;
  bool timing;                 // measure durations
  bool on_class;               // installed on a class: a direct call has self in args[0]
  bool fast;                   // no handler, no timing, no proxying: count and forward
};

struct BoundWrapperObject {
  PyObject_HEAD
  vectorcallfunc vectorcall;
  WrapperObject* wrapper;      // owned
  PyObject* instance;          // self (or cls), prepended to the arguments unless `callable` is set
  PyObject* callable;          // Descriptor kind: what the wrapped descriptor's __get__ returned
  PyObject* via;               // the ObjectProxy this was bound through, or null
  PyObject* weaklist;
};

extern PyTypeObject FunctionWrapperType;  // base
extern PyTypeObject MethodWrapperType;    // subtype with Py_TPFLAGS_METHOD_DESCRIPTOR
extern PyTypeObject BoundWrapperType;

inline bool is_wrapper(PyObject* o) { return PyObject_TypeCheck(o, &FunctionWrapperType); }

// The common call path of wrappers and bound wrappers. `self_in_args`: args[0]
// is the instance (the handler sees it as ctx.instance, args after it).
// `via`: the proxy the call came through; a result that is the proxied object
// itself comes back as the proxy, so chained calls stay instrumented.
PyObject* invoke_slow(WrapperObject* w, PyObject* callable, PyObject* instance, bool self_in_args,
                      PyObject* const* args, size_t nargsf, PyObject* kwnames, PyObject* via);

// Plugin code running on this thread (wrapper.cpp): a wrapped function
// called from a plugin's own callback passes straight through instead of
// recursing.
extern thread_local int agent_depth AR_INITIAL_EXEC_TLS;

// Consumes the current error as the plugin's, with a SystemError when code
// failed (rc < 0) without setting one (wrapper.cpp).
void report_handler_failure(WrapperObject* w, const char* where, int rc);

// Runs f() (returning 0, or -1 with a Python error set) as plugin code of
// w's plugin: wrapped calls inside it pass through, and a C++ exception or
// a Python error it leaves is counted against the plugin and cleared,
// never raised. The caller keeps any error of its own aside.
template <typename F>
void run_contained(WrapperObject* w, const char* where, F&& f) {
  int rc;
  ++agent_depth;
  try {
    rc = f();
  } catch (const std::exception& e) {
    report_native_error(w->plugin, where, e.what());
    rc = 0;
  } catch (...) {
    report_native_error(w->plugin, where, nullptr);
    rc = 0;
  }
  --agent_depth;
  if (rc < 0 || PyErr_Occurred()) report_handler_failure(w, where, rc);
}

// For native code that does a wrapper's whole job itself, without a Handler
// (the traced sqlite3 statements, spans/sqlite_connection.cpp), under the
// wrapper's rules: counted as invoke() counts (while the plugin is active,
// calls from agent code too); false when the call is to be forwarded
// untraced (the plugin unplugged, or agent code running on this thread).
inline bool direct_call_traced(WrapperObject* w) {
  if (!w->core->is_active()) return false;
  ++w->op->calls;
  return agent_depth == 0;
}

inline PyObject* invoke(WrapperObject* w, PyObject* callable, PyObject* instance, bool self_in_args,
                        PyObject* const* args, size_t nargsf, PyObject* kwnames, PyObject* via) {
  if (!w->core->is_active()) return vectorcall(callable, args, nargsf, kwnames);
  ++w->op->calls;
  if (w->fast) return vectorcall(callable, args, nargsf, kwnames);
  return invoke_slow(w, callable, instance, self_in_args, args, nargsf, kwnames, via);
}

// The "after" half of a call: records the duration, runs handler->after()
// contained (or abandon() if the plugin was unplugged meanwhile), releases
// ctx.state. The error indicator (the original's exception, or a
// StopIteration carrying a generator's return value) is left exactly as it
// was. With Finish::Raised, ctx.exception is the exception in flight.
void complete_call(WrapperObject* w, CallContext& ctx, PyObject* result, Finish finish);

// Binds a wrapper to an instance (descriptor protocol); `via` as above.
PyObject* bind_wrapper(WrapperObject* w, PyObject* obj, PyObject* type, PyObject* via);

// flavor_proxy.cpp: the proxy returned for a generator/coroutine/async
// generator so that after() runs at its end. Takes over ctx (and ctx.state).
PyObject* make_flavor_proxy(WrapperObject* w, PyObject* inner, CallContext& ctx);
int add_flavor_proxy_types(PyObject* module);

// object_proxy.cpp
PyObject* make_object_proxy(PyObject* wrapped, PyObject* overrides);
int add_object_proxy_type(PyObject* module);

// bound_wrapper.cpp
int add_bound_wrapper_type(PyObject* module);

// forwarding: whether `name` is served by self's own type (not by `object`),
// i.e. must not be forwarded to the wrapped object.
inline bool is_own_attribute(PyObject* self, PyObject* name) {
  PyObject* d = _PyType_Lookup(Py_TYPE(self), name);
  return d != nullptr && d != _PyType_Lookup(&PyBaseObject_Type, name);
}

}  // namespace agent_run::hook
