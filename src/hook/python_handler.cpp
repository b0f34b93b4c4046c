// The generic handler: calls a plugin's Python callables with a _hook.Call.
//
// This is the one place where a call costs Python objects: the Call carries
// the arguments as a tuple and a dict, because Python code is going to look at
// them. Plugins with nothing to do in Python pass no callables and never get here.
#include "errors.hpp"
#include "handler.hpp"

#include <structmember.h>  // after Python.h (via compat.hpp); T_OBJECT etc. on 3.8-3.11

namespace agent_run::hook {

namespace {

PyTypeObject CallType = {PyVarObject_HEAD_INIT(nullptr, 0)};

struct CallObject {
  PyObject_HEAD
  PyObject* op;          // str
  PyObject* instance;
  PyObject* args;        // tuple, self excluded
  PyObject* kwargs;      // dict
  PyObject* attributes;  // what extract() returned
  PyObject* state;       // free for before() to set, read by after()
  PyObject* result;
  PyObject* exception;
  PyObject* finish;      // "returned" / "raised" / "closed", None before the end
  long long duration_ns; // -1 before the end
};

CallObject* call_of(PyObject* o) { return reinterpret_cast<CallObject*>(o); }

int call_traverse(PyObject* o, visitproc visit, void* arg) {
  CallObject* c = call_of(o);
  Py_VISIT(c->op);
  Py_VISIT(c->instance);
  Py_VISIT(c->args);
  Py_VISIT(c->kwargs);
  Py_VISIT(c->attributes);
  Py_VISIT(c->state);
  Py_VISIT(c->result);
  Py_VISIT(c->exception);
  Py_VISIT(c->finish);
  return 0;
}

int call_clear(PyObject* o) {
  CallObject* c = call_of(o);
  Py_CLEAR(c->op);
  Py_CLEAR(c->instance);
  Py_CLEAR(c->args);
  Py_CLEAR(c->kwargs);
  Py_CLEAR(c->attributes);
  Py_CLEAR(c->state);
  Py_CLEAR(c->result);
  Py_CLEAR(c->exception);
  Py_CLEAR(c->finish);
  return 0;
}

void call_dealloc(PyObject* o) {
  PyObject_GC_UnTrack(o);
  call_clear(o);
  Py_TYPE(o)->tp_free(o);
}

PyMemberDef call_members[] = {
    {const_cast<char*>("op"), T_OBJECT, offsetof(CallObject, op), READONLY, const_cast<char*>("the operation's name")},
    {const_cast<char*>("instance"), T_OBJECT, offsetof(CallObject, instance), READONLY,
     const_cast<char*>("self (cls for a classmethod), or None")},
    {const_cast<char*>("args"), T_OBJECT, offsetof(CallObject, args), READONLY,
     const_cast<char*>("positional arguments, self excluded")},
    {const_cast<char*>("kwargs"), T_OBJECT, offsetof(CallObject, kwargs), READONLY,
     const_cast<char*>("keyword arguments")},
    {const_cast<char*>("attributes"), T_OBJECT, offsetof(CallObject, attributes), 0,
     const_cast<char*>("what extract(call) returned")},
    {const_cast<char*>("state"), T_OBJECT, offsetof(CallObject, state), 0,
     const_cast<char*>("free for before(call) to set, for after(call) to read")},
    {const_cast<char*>("result"), T_OBJECT, offsetof(CallObject, result), READONLY,
     const_cast<char*>("what the original returned (in after), or None")},
    {const_cast<char*>("exception"), T_OBJECT, offsetof(CallObject, exception), READONLY,
     const_cast<char*>("what the original raised (in after), or None")},
    {const_cast<char*>("finish"), T_OBJECT, offsetof(CallObject, finish), READONLY,
     const_cast<char*>("'returned', 'raised' or 'closed' (in after), or None")},
    {const_cast<char*>("duration_ns"), T_LONGLONG, offsetof(CallObject, duration_ns), READONLY,
     const_cast<char*>("duration of the call in ns (in after), or -1")},
    {nullptr, 0, 0, 0, nullptr},
};

PyObject* make_call(const CallContext& ctx) {
  CallObject* c = PyObject_GC_New(CallObject, &CallType);
  if (c == nullptr) return nullptr;
  c->op = nullptr;
  c->instance = xnew_ref(ctx.instance);
  c->args = nullptr;
  c->kwargs = nullptr;
  c->attributes = nullptr;
  c->state = nullptr;
  c->result = nullptr;
  c->exception = nullptr;
  c->finish = nullptr;
  c->duration_ns = -1;
  PyObject* self = reinterpret_cast<PyObject*>(c);
  PyObject_GC_Track(self);
  c->op = ctx.op != nullptr ? PyUnicode_FromStringAndSize(ctx.op->name.data(), Py_ssize_t(ctx.op->name.size()))
                            : PyUnicode_FromString("");
  c->args = PyTuple_New(ctx.nargs);
  c->kwargs = PyDict_New();
  if (c->op == nullptr || c->args == nullptr || c->kwargs == nullptr) {
    Py_DECREF(self);
    return nullptr;
  }
  for (Py_ssize_t i = 0; i < ctx.nargs; ++i) PyTuple_SET_ITEM(c->args, i, new_ref(ctx.args[i]));
  if (ctx.kwnames != nullptr) {
    Py_ssize_t n = PyTuple_GET_SIZE(ctx.kwnames);
    for (Py_ssize_t i = 0; i < n; ++i) {
      if (PyDict_SetItem(c->kwargs, PyTuple_GET_ITEM(ctx.kwnames, i), ctx.args[ctx.nargs + i]) < 0) {
        Py_DECREF(self);
        return nullptr;
      }
    }
  }
  return self;
}

class PythonHandler final : public Handler {
 public:
  PythonHandler(PyObject* extract, PyObject* before, PyObject* after)
      : extract_(xnew_ref(extract)), before_(xnew_ref(before)), after_(xnew_ref(after)) {}
  ~PythonHandler() override { clear(); }

  int before(CallContext& ctx) override {
    PyObject* call = make_call(ctx);
    if (call == nullptr) return -1;
    ctx.state = call;  // owned by ctx from here: the core releases it
    if (extract_ != nullptr) {
      PyObject* attrs = call1(extract_, call);
      if (attrs == nullptr) {
        report_error(ctx.plugin, "extract");
      } else {
        Py_XSETREF(call_of(call)->attributes, attrs);
      }
    }
    // extract() may have been the error that unplugged the plugin: from then
    // on this call is a plain pass-through.
    if (before_ != nullptr && core_of(ctx.plugin)->is_active()) {
      PyObject* r = call1(before_, call);
      if (r == nullptr) {
        report_error(ctx.plugin, "before");
      } else {
        Py_DECREF(r);
      }
    }
    return 0;
  }

  int after(CallContext& ctx) override {
    if (after_ == nullptr || ctx.state == nullptr) return 0;
    CallObject* c = call_of(ctx.state);
    Py_XSETREF(c->result, xnew_ref(ctx.result));
    Py_XSETREF(c->exception, xnew_ref(ctx.exception));
    static const char* names[] = {"returned", "raised", "closed"};
    Py_XSETREF(c->finish, PyUnicode_InternFromString(names[int(ctx.finish)]));
    c->duration_ns = ctx.end_ns >= ctx.start_ns && ctx.start_ns != 0 ? (long long)(ctx.end_ns - ctx.start_ns) : -1;
    PyObject* r = call1(after_, ctx.state);
    if (r == nullptr) return -1;
    Py_DECREF(r);
    return 0;
  }

  bool wants_after() const override { return after_ != nullptr; }

  int traverse(visitproc visit, void* arg) override {
    Py_VISIT(extract_);
    Py_VISIT(before_);
    Py_VISIT(after_);
    return 0;
  }
  void clear() override {
    Py_CLEAR(extract_);
    Py_CLEAR(before_);
    Py_CLEAR(after_);
  }

 private:
  PyObject* extract_;
  PyObject* before_;
  PyObject* after_;
};

PyObject* none_to_null(PyObject* o) { return o == Py_None ? nullptr : o; }

}  // namespace

std::shared_ptr<Handler> make_python_handler(PyObject* extract, PyObject* before, PyObject* after) {
  return std::make_shared<PythonHandler>(none_to_null(extract), none_to_null(before), none_to_null(after));
}

int add_call_type(PyObject* module) {
  PyTypeObject& t = CallType;
  t.tp_name = "_agent_run._hook.Call";
  t.tp_basicsize = sizeof(CallObject);
  t.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;
  t.tp_doc = "One call through a wrapper, as Python plugin callbacks see it.";
  t.tp_dealloc = call_dealloc;
  t.tp_traverse = call_traverse;
  t.tp_clear = call_clear;
  t.tp_members = call_members;
  if (PyType_Ready(&t) < 0) return -1;
  Py_INCREF(&t);
  if (PyModule_AddObject(module, "Call", reinterpret_cast<PyObject*>(&t)) < 0) {
    Py_DECREF(&t);
    return -1;
  }
  return 0;
}

}  // namespace agent_run::hook
