// The traced sqlite3 connection's own methods, natively.
//
// sqlite3.connect() without a factory of the app's own makes a connection of
// a traced subclass of sqlite3.Connection (built by the sqlite3 plugin:
// bootstrap/_agent_run/plugins/sqlite3_hooks.py), whose cursors are of a
// traced subclass of sqlite3.Cursor: its execute, executemany and
// executescript are the hook core's wrappers with the span handler. No proxy
// object stands between the app and the connection or its cursors, and type
// checks in C (Connection.backup's target) pass. The traced classes also get
// their own descriptors of the methods they inherit (rebind_inherited_methods),
// so that CPython's specializing interpreter keeps every other call
// (fetchone, fetchall, close) on the fast paths it takes for sqlite3's own
// classes.
//
// What this file adds to the traced Connection class, as real method
// descriptors (PyDescr_NewMethod: LOAD_METHOD and CALL specialize on them):
// - cursor(factory=<the traced cursor>): the original Connection.cursor with
//   the traced cursor class as the default factory. A factory of the app's
//   own is passed through, and its cursor comes back in an ObjectProxy
//   serving the traced statements (as on a connection made by a factory of
//   the app's own).
// - execute, executemany, executescript: what CPython's own do (a cursor
//   from Connection.cursor, its method called, the cursor returned), with
//   the traced cursor. The span is the cursor method's: one per statement on
//   every version (CPython 3.8-3.10 call the cursor's method by name from
//   the connection's, 3.11+ call it directly; neither matters here).
// And to the traced Cursor class: its execute, executemany, executescript.
//
// A statement runs on a path of its own (run_statement), not through the
// statement wrapper's generic before/after: the wrapper's rules (forwarded
// untraced when the plugin is unplugged or agent code runs, counted, timed,
// the span's errors contained and counted against the plugin) with a fifth
// of its code, and the span made from a per-statement template
// (client_span.cpp). The wrappers themselves still serve the proxies of
// the app's own connection and cursor classes.
//
// One set per process: the sqlite3 plugin installs it once per import of
// sqlite3; a second install (the module imported again) replaces it.
#include "hook/compat.hpp"

#include <utility>

#include "hook/prepended_args.hpp"
#include "hook/spans/clock.hpp"
#include "hook/spans/span.hpp"
#include "hook/wrapper.hpp"

namespace agent_run::spans {
namespace {

enum Statement { kExecute, kExecuteMany, kExecuteScript, kStatements };
const char* const kStatementNames[kStatements] = {"execute", "executemany", "executescript"};

// The definition of a method descriptor of an instance method that takes
// only self and its arguments, or null: not a method descriptor, a class or
// static method, or one that also takes its defining class (METH_METHOD,
// 3.9+: sqlite3 finds its module state through it).
PyMethodDef* instance_method_def(PyObject* d) {
  if (Py_TYPE(d) != &PyMethodDescr_Type) return nullptr;
  PyMethodDef* m = reinterpret_cast<PyMethodDescrObject*>(d)->d_method;
  int excluded = METH_CLASS | METH_STATIC;
#ifdef METH_METHOD
  excluded |= METH_METHOD;
#endif
  return (m->ml_flags & excluded) ? nullptr : m;
}

// A method of sqlite3's Connection or Cursor, as the traced classes call it:
// its C function directly when it takes FASTCALL arguments (3.10+), with
// self (a traced connection or cursor: of the method's class) and the
// arguments as they came, so no copy of them with self in front and none of
// the method descriptor's checks; else (3.8, 3.9) through the descriptor.
struct Original {
  PyObject* descr = nullptr;      // the method descriptor (owned by TracedTypes)
  PyMethodDef* direct = nullptr;  // its definition, when called directly

  void set(PyObject* d, PyTypeObject* self_type) {
    descr = d;
    direct = nullptr;
    PyMethodDef* m = instance_method_def(d);
    if (m == nullptr) return;
    int convention = m->ml_flags & (METH_VARARGS | METH_FASTCALL | METH_NOARGS | METH_O | METH_KEYWORDS);
    if (convention != METH_FASTCALL && convention != (METH_FASTCALL | METH_KEYWORDS)) return;
    if (PyType_IsSubtype(self_type, PyDescr_TYPE(reinterpret_cast<PyMethodDescrObject*>(d)))) direct = m;
  }

  PyObject* call(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) const;
};

struct TracedTypes {
  PyObject* cursor_type = nullptr;      // the traced cursor class
  Original original_cursor;             // sqlite3.Connection.cursor
  PyObject* overrides = nullptr;        // the cursor proxies' {name: wrapper}, or null
  PyObject* statements[kStatements] = {};  // the statement wrappers: execute, executemany, executescript
  // Each wrapper's handler when it is the sql span handler, and its db.system
  // (owned by the handler, which the wrapper holds); else null.
  const hook::Handler* sql_handler[kStatements] = {};
  const std::string* db_system[kStatements] = {};
  Original originals[kStatements];  // the wrappers' originals: sqlite3.Cursor.execute...
};

TracedTypes g_types;

// callable(first, *args, **kwargs), the arguments as vectorcall gives them.
PyObject* call_with_first(PyObject* callable, PyObject* first, PyObject* const* args, Py_ssize_t nargs,
                          PyObject* kwnames) {
  hook::PrependedArgs full(first, args, size_t(nargs), kwnames);
  if (!full.ok()) return nullptr;
  return hook::vectorcall(callable, full.args(), full.nargsf(), kwnames);
}

PyObject* Original::call(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) const {
  if (direct == nullptr || (!(direct->ml_flags & METH_KEYWORDS) && kwnames != nullptr && PyTuple_GET_SIZE(kwnames)))
    return call_with_first(descr, self, args, nargs, kwnames);  // keywords to a positional-only one: its TypeError
  void (*f)(void) = reinterpret_cast<void (*)(void)>(direct->ml_meth);
  if (direct->ml_flags & METH_KEYWORDS)
    return reinterpret_cast<PyObject* (*)(PyObject*, PyObject* const*, Py_ssize_t, PyObject*)>(f)(self, args, nargs,
                                                                                                   kwnames);
  return reinterpret_cast<PyObject* (*)(PyObject*, PyObject* const*, Py_ssize_t)>(f)(self, args, nargs);
}

// Connection.cursor(self, <the traced cursor class>).
PyObject* traced_cursor(PyObject* self) { return g_types.original_cursor.call(self, &g_types.cursor_type, 1, nullptr); }

PyObject* conn_cursor(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  if (nargs == 0 && kwnames == nullptr) return traced_cursor(self);
  PyObject* cursor = g_types.original_cursor.call(self, args, nargs, kwnames);
  if (cursor == nullptr || g_types.overrides == nullptr ||
      Py_TYPE(cursor) == reinterpret_cast<PyTypeObject*>(g_types.cursor_type))
    return cursor;
  PyObject* proxy = hook::make_object_proxy(cursor, g_types.overrides);
  if (proxy == nullptr) {
    PyErr_Clear();  // the cursor untraced, never lost: a proxy is only the agent's
    return cursor;
  }
  Py_DECREF(cursor);
  return proxy;
}

// cursor.<statement>(...) on a traced cursor, traced as its wrapper would.
PyObject* run_statement(Statement which, PyObject* cursor, PyObject* const* args, Py_ssize_t nargs,
                        PyObject* kwnames) {
  PyObject* wrapper = g_types.statements[which];
  auto* w = reinterpret_cast<hook::WrapperObject*>(wrapper);
  if (w->handler != g_types.sql_handler[which] || g_types.db_system[which] == nullptr)
    return call_with_first(wrapper, cursor, args, nargs, kwnames);  // another handler: the wrapper's own path
  const Original& original = g_types.originals[which];
  if (!hook::direct_call_traced(w)) return original.call(cursor, args, nargs, kwnames);
  PyObject* sql = sql_statement_argument(args, nargs, kwnames);  // alive until the caller's call returns
  ClientSpan span;
  span.begin();
  PyObject* result = original.call(cursor, args, nargs, kwnames);
  uint64_t end = monotonic_ns();
  if (!w->core->is_active()) return result;  // unplugged meanwhile: a plain pass-through
  w->op->add_duration(end - span.start_mono);
  hook::SavedError in_flight;  // the statement's error, kept aside and put back untouched
  PyObject* exc = nullptr;
  if (result == nullptr && in_flight.fetch()) {
    exc = in_flight.value();
    if (exc != nullptr && !PyExceptionInstance_Check(exc)) exc = nullptr;
  }
  const char* system = g_types.db_system[which]->c_str();
  hook::run_contained(w, "after", [&] {
    span.finish_db(system, sql, exc, end);
    return 0;
  });
  return result;
}

template <Statement which>
PyObject* cursor_statement(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return run_statement(which, self, args, nargs, kwnames);
}

// conn.<statement>(...): a traced cursor runs it and is returned.
template <Statement which>
PyObject* conn_statement(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  PyObject* cursor = traced_cursor(self);
  if (cursor == nullptr) return nullptr;
  PyObject* result = run_statement(which, cursor, args, nargs, kwnames);
  if (result == nullptr) {
    Py_DECREF(cursor);
    return nullptr;
  }
  Py_DECREF(result);  // the cursor itself, from every statement method
  return cursor;
}

template <typename F>
PyCFunction as_cfunction(F f) {
  return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(f));
}

// The originals' text signatures (3.10+; 3.8 and 3.9 have none), so that
// inspect.signature() reads what it reads on a bare connection.
#if PY_VERSION_HEX >= 0x030A0000
#define AR_TEXT_SIGNATURE(sig) sig "\n--\n\n"
#else
#define AR_TEXT_SIGNATURE(sig) ""
#endif

// One of the traced classes' methods: FASTCALL, the original's text
// signature after its name, then its doc.
#define AR_TRACED_METHOD(name, function, signature, doc) \
  {name, as_cfunction(function), METH_FASTCALL | METH_KEYWORDS, AR_TEXT_SIGNATURE(name signature) doc}

// Static: a method descriptor keeps a pointer to its PyMethodDef.
PyMethodDef g_connection_methods[] = {
    AR_TRACED_METHOD("cursor", conn_cursor, "($self, /, factory=<unrepresentable>)",
                     "Return a cursor for the connection (agent-run: its statements are traced)."),
    AR_TRACED_METHOD("execute", conn_statement<kExecute>, "($self, sql, parameters=<unrepresentable>, /)",
                     "Executes an SQL statement on a new cursor, and returns the cursor (agent-run: traced)."),
    AR_TRACED_METHOD("executemany", conn_statement<kExecuteMany>, "($self, sql, parameters, /)",
                     "Repeatedly executes an SQL statement on a new cursor, and returns the cursor (agent-run: traced)."),
    AR_TRACED_METHOD("executescript", conn_statement<kExecuteScript>, "($self, sql_script, /)",
                     "Executes multiple SQL statements at once on a new cursor, and returns the cursor (agent-run: "
                     "traced)."),
};

PyMethodDef g_cursor_methods[] = {
    AR_TRACED_METHOD("execute", cursor_statement<kExecute>, "($self, sql, parameters=(), /)",
                     "Executes an SQL statement (agent-run: traced)."),
    AR_TRACED_METHOD("executemany", cursor_statement<kExecuteMany>, "($self, sql, seq_of_parameters, /)",
                     "Repeatedly executes an SQL statement (agent-run: traced)."),
    AR_TRACED_METHOD("executescript", cursor_statement<kExecuteScript>, "($self, sql_script, /)",
                     "Executes multiple SQL statements at once (agent-run: traced)."),
};

#undef AR_TRACED_METHOD

// Puts `defs` into `type`'s dict as method descriptors.
template <size_t N>
int add_methods(PyObject* type, PyMethodDef (&defs)[N]) {
  for (PyMethodDef& def : defs) {
    PyObject* descr = PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(type), &def);
    if (descr == nullptr) return -1;
    int rc = PyObject_SetAttrString(type, def.ml_name, descr);
    Py_DECREF(descr);
    if (rc < 0) return -1;
  }
  return 0;
}

// Gives `type` (a traced class) its own descriptor of every method it
// inherits from sqlite3's class (the same PyMethodDef: the same C function,
// signature and doc), so that its instances' calls stay on the specializing
// interpreter's fast paths: CPython 3.11+ specializes a call of a method
// descriptor only for instances of exactly the descriptor's class, and
// sends an instance of a subclass down the generic call path (fetchone() on
// a traced cursor took half as long again as on a bare one). Methods that
// take their defining class (METH_METHOD: sqlite3's module state is found
// through it), class and static methods, and names the traced class defines
// itself are left to inheritance (instance_method_def).
int rebind_inherited_methods(PyTypeObject* type) {
  if (type->tp_base == &PyBaseObject_Type) return 0;  // nothing of sqlite3's to rebind
  PyObject* base_dict = type->tp_base->tp_dict;
  PyObject *name, *value;
  Py_ssize_t pos = 0;
  while (PyDict_Next(base_dict, &pos, &name, &value)) {
    PyMethodDef* def = instance_method_def(value);
    if (def == nullptr) continue;
    int own = PyDict_Contains(type->tp_dict, name);
    if (own != 0) {
      if (own < 0) return -1;
      continue;
    }
    PyObject* descr = PyDescr_NewMethod(type, def);
    if (descr == nullptr) return -1;
    // Not PyObject_SetAttr while iterating: it could run code that changes
    // the base's dict. The type's own dict, then PyType_Modified below.
    int rc = PyDict_SetItem(type->tp_dict, name, descr);
    Py_DECREF(descr);
    if (rc < 0) return -1;
  }
  PyType_Modified(type);
  return 0;
}

// The class attribute `name` found along type's MRO (borrowed), or null with
// a TypeError naming what is missing.
PyObject* class_attribute(PyTypeObject* type, const char* name) {
  PyObject* key = PyUnicode_InternFromString(name);
  if (key == nullptr) return nullptr;
  PyObject* found = _PyType_Lookup(type, key);
  Py_DECREF(key);
  if (found == nullptr)
    PyErr_Format(PyExc_TypeError, "install_sqlite_connection_methods: %s has no %s", type->tp_name, name);
  return found;
}

// install_sqlite_connection_methods(connection_type, cursor_type, cursor_overrides)
PyObject* py_install(PyObject*, PyObject* args) {
  PyObject *connection_type, *cursor_type, *overrides;
  if (!PyArg_ParseTuple(args, "O!O!O:install_sqlite_connection_methods", &PyType_Type, &connection_type,
                        &PyType_Type, &cursor_type, &overrides))
    return nullptr;
  auto* conn_t = reinterpret_cast<PyTypeObject*>(connection_type);
  auto* cur_t = reinterpret_cast<PyTypeObject*>(cursor_type);
  // Only classes of our own making: the methods go into the class's dict.
  if (!PyType_HasFeature(conn_t, Py_TPFLAGS_HEAPTYPE) || conn_t->tp_base == nullptr ||
      !PyType_HasFeature(cur_t, Py_TPFLAGS_HEAPTYPE)) {
    PyErr_SetString(PyExc_TypeError, "install_sqlite_connection_methods: the traced classes are subclasses made "
                                     "by the sqlite3 plugin");
    return nullptr;
  }
  if (overrides != Py_None && !PyDict_Check(overrides)) {
    PyErr_SetString(PyExc_TypeError, "install_sqlite_connection_methods: cursor_overrides must be a dict or None");
    return nullptr;
  }
  TracedTypes t;
  PyObject* original_cursor = class_attribute(conn_t->tp_base, "cursor");
  if (original_cursor == nullptr) return nullptr;
  t.original_cursor.set(original_cursor, conn_t);
  for (int i = 0; i < kStatements; ++i) {
    t.statements[i] = class_attribute(cur_t, kStatementNames[i]);
    if (t.statements[i] == nullptr) return nullptr;
    if (!hook::is_wrapper(t.statements[i])) {
      PyErr_Format(PyExc_TypeError, "install_sqlite_connection_methods: %s.%s is not a wrapper", cur_t->tp_name,
                   kStatementNames[i]);
      return nullptr;
    }
    const hook::Handler* h = reinterpret_cast<hook::WrapperObject*>(t.statements[i])->handler;
    t.sql_handler[i] = h;
    t.db_system[i] = h != nullptr ? sql_handler_db_system(h) : nullptr;
    t.originals[i].set(reinterpret_cast<hook::WrapperObject*>(t.statements[i])->target, cur_t);
  }
  // Owned for the rest of the process, and in place before any method is
  // (connections made before a second install use the new set: the same
  // original cursor, an equivalent traced cursor class).
  Py_INCREF(cursor_type);
  Py_INCREF(original_cursor);
  for (PyObject* s : t.statements) Py_INCREF(s);
  t.cursor_type = cursor_type;
  t.overrides = overrides == Py_None ? nullptr : hook::new_ref(overrides);
  std::swap(t, g_types);
  Py_XDECREF(t.cursor_type);
  Py_XDECREF(t.original_cursor.descr);
  Py_XDECREF(t.overrides);
  for (PyObject* s : t.statements) Py_XDECREF(s);
  if (add_methods(connection_type, g_connection_methods) < 0 || add_methods(cursor_type, g_cursor_methods) < 0 ||
      rebind_inherited_methods(conn_t) < 0 || rebind_inherited_methods(cur_t) < 0)
    return nullptr;
  Py_RETURN_NONE;
}

PyMethodDef sqlite_functions[] = {
    {"install_sqlite_connection_methods", py_install, METH_VARARGS,
     "install_sqlite_connection_methods(connection_type, cursor_type, cursor_overrides): gives the traced\n"
     "sqlite3.Connection subclass its cursor, execute, executemany and executescript (traced cursors of\n"
     "cursor_type; a cursor from a factory of the app's own is proxied with cursor_overrides), and\n"
     "cursor_type its execute, executemany and executescript, traced by the rules of the statement\n"
     "wrappers cursor_type holds when called."},
    {nullptr, nullptr, 0, nullptr},
};

}  // namespace

int add_sqlite_connection_functions(PyObject* module) { return PyModule_AddFunctions(module, sqlite_functions); }

}  // namespace agent_run::spans
