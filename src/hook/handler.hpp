#pragma once
// The extension point of every wrapper: what a plugin does around a call.
//
// A wrapper (wrapper.hpp) owns at most one Handler. Per call it does, natively:
//
//   if the plugin is unplugged:        forward the call, nothing else
//   count the call (OpStats)
//   no handler, no timing:             forward the call
//   ctx.start_ns = now                  (timing on, or handler->wants_timing())
//   handler->before(ctx)                contained: errors are counted, never raised
//   call the original exactly once
//   ctx.end_ns = now; record duration
//   handler->after(ctx)                 contained; the original's result or
//                                       exception reaches the caller unchanged
//
// For generator, coroutine and async-generator functions the "after" half runs
// when the generator is exhausted or closed, or the coroutine returns, raises
// or is cancelled: ctx then lives in the generator proxy until that moment.
//
// Writing a native handler (e.g. the span pipeline, src/hook/spans/):
//
//   class SqlSpanHandler final : public agent_run::hook::Handler {
//     int before(CallContext& ctx) override {
//       PyObject* sql = ctx.arg(0);          // first argument after self
//       ...copy what you need into ctx.data / ctx.state: args die after before()
//       return 0;                             // -1 with a Python error set: a plugin error
//     }
//     int after(CallContext& ctx) override {
//       ...ctx.start_ns, ctx.end_ns, ctx.exception (null if it returned)
//       return 0;
//     }
//   };
//   PyObject* h = agent_run::hook::make_handler_object(std::make_shared<SqlSpanHandler>(...));
//
// and hand `h` to Python; a plugin then passes it as handler= to Patcher.wrap()
// (or _hook.wrap()). Rules for a handler:
//  - runs with the GIL held; must not release it between before() and after();
//  - returns -1 with a Python exception set, or throws a C++ exception, on
//    failure: the core counts it against the plugin, logs it, and clears it.
//    Never let an error escape in any other way;
//  - must not touch the result or the exception beyond reading them;
//  - after() may not run at all (the plugin was unplugged in between, or
//    before() failed): per-call resources go in ctx.state (released by the
//    core in every case) or are freed in abandon().
#include "compat.hpp"

#include <memory>

#include "plugin_state.hpp"

namespace agent_run::hook {

enum class Finish : uint8_t {
  Returned = 0,  // the call returned (for generators: exhausted)
  Raised = 1,    // the call raised ctx.exception (for coroutines: also cancellation)
  Closed = 2,    // a generator/coroutine closed, or dropped, before its end
};

// The keyword argument `name` of a vectorcall's arguments (borrowed), or null.
PyObject* keyword_argument(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames, const char* name);

struct CallContext {
  // Valid during before() only: borrowed from the caller.
  PyObject* const* args = nullptr;  // positional arguments, self excluded
  Py_ssize_t nargs = 0;
  PyObject* kwnames = nullptr;      // tuple of keyword names; values follow args[nargs-1]
  // Valid in before() and after() (borrowed; kept alive by the wrapper/proxy):
  PyObject* instance = nullptr;     // self (cls for a classmethod), or null
  PyObject* callable = nullptr;     // what is called
  OpStats* op = nullptr;
  PyObject* plugin = nullptr;       // the PluginState
  // Set for after():
  PyObject* result = nullptr;       // borrowed; null unless Finish::Returned
  PyObject* exception = nullptr;    // borrowed; the exception in flight, or null
  Finish finish = Finish::Returned;
  uint64_t start_ns = 0;            // monotonic; 0 if not timed
  uint64_t end_ns = 0;
  // Handler-owned per-call storage:
  PyObject* state = nullptr;        // owned reference, released by the core after the call
  uintptr_t data[4] = {0, 0, 0, 0};

  PyObject* arg(Py_ssize_t i) const { return i < nargs ? args[i] : nullptr; }
  PyObject* kwarg(const char* name) const { return keyword_argument(args, nargs, kwnames, name); }  // only in before()
};

class Handler {
 public:
  virtual ~Handler() = default;
  virtual int before(CallContext&) { return 0; }
  virtual int after(CallContext&) { return 0; }
  // The call will not reach after(): free what before() kept outside ctx.state.
  virtual void abandon(CallContext&) {}
  // Whether the core should take start/end times for this handler.
  virtual bool wants_timing() const { return true; }
  // Whether generator/coroutine results need a proxy so after() runs at their end.
  virtual bool wants_after() const { return true; }
  // Python references the handler itself holds, for the cyclic GC.
  virtual int traverse(visitproc, void*) { return 0; }
  virtual void clear() {}
};

// _hook.Handler: a Python object owning a native handler, passed to wrap().
struct HandlerObject {
  PyObject_HEAD
  std::shared_ptr<Handler>* handler;  // heap-held so the PyObject stays a POD
};
extern PyTypeObject HandlerType;

// Wraps a native handler in a new _hook.Handler object (new reference, or null with an error).
PyObject* make_handler_object(std::shared_ptr<Handler> handler);
// The handler of a _hook.Handler object, or null if `o` is not one.
std::shared_ptr<Handler> handler_of(PyObject* o);
// A handler calling Python callables extract(call), before(call), after(call)
// with a _hook.Call object; any of them may be None.
std::shared_ptr<Handler> make_python_handler(PyObject* extract, PyObject* before, PyObject* after);

int add_handler_types(PyObject* module);

}  // namespace agent_run::hook
