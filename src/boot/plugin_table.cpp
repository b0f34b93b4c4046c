// The table of built-in plugins: see plugin_table.hpp. docs/plugins.md
// describes each row.
#include "boot/plugin_table.hpp"

#include <cstring>
#include <iterator>

namespace agent_run::boot {

namespace {

const BuiltinPlugin kBuiltinPlugins[] = {
    {"sqlite3", "sqlite3_hooks", {"sqlite3"}, nullptr, StartAtBoot::kNever},
    {"wsgi", "wsgi", {"gunicorn.app.base", "flask.app"}, "install", StartAtBoot::kUnderUwsgi},
};

PyObject* to_tuple(std::initializer_list<const char*> names) {
  PyObject* t = PyTuple_New(Py_ssize_t(names.size()));
  if (t == nullptr) return nullptr;
  Py_ssize_t i = 0;
  for (const char* n : names) {
    PyObject* s = PyUnicode_FromString(n);
    if (s == nullptr) {
      Py_DECREF(t);
      return nullptr;
    }
    PyTuple_SET_ITEM(t, i++, s);
  }
  return t;
}

// builtin_plugins() -> ((name, module, targets, startup or None), ...)
PyObject* py_builtin_plugins(PyObject*, PyObject*) {
  PyObject* out = PyTuple_New(std::size(kBuiltinPlugins));
  if (out == nullptr) return nullptr;
  Py_ssize_t i = 0;
  for (const auto& row : kBuiltinPlugins) {
    PyObject* targets = to_tuple(row.targets);
    PyObject* r = targets ? Py_BuildValue("(ssNz)", row.name, row.module, targets, row.startup) : nullptr;
    if (r == nullptr) {
      Py_DECREF(out);
      return nullptr;
    }
    PyTuple_SET_ITEM(out, i++, r);
  }
  return out;
}

PyObject* py_under_uwsgi(PyObject*, PyObject*) { return PyBool_FromLong(under_uwsgi()); }

PyMethodDef table_functions[] = {
    {"builtin_plugins", py_builtin_plugins, METH_NOARGS,
     "builtin_plugins() -> ((name, module, targets, startup), ...): the table of built-in plugins."},
    {"under_uwsgi", py_under_uwsgi, METH_NOARGS, "under_uwsgi() -> bool: this process is a uWSGI one."},
    {nullptr, nullptr, 0, nullptr},
};

}  // namespace

const BuiltinPlugin* builtin_plugins_begin() { return std::begin(kBuiltinPlugins); }
const BuiltinPlugin* builtin_plugins_end() { return std::end(kBuiltinPlugins); }

bool under_uwsgi() {
  // uWSGI embeds Python and calls the app from C: sys.executable is the
  // uwsgi binary (or its module is already there).
  PyObject* exe = PySys_GetObject("executable");  // borrowed
  if (exe != nullptr && PyUnicode_Check(exe)) {
    const char* s = PyUnicode_AsUTF8(exe);
    if (s == nullptr) {
      PyErr_Clear();
    } else {
      const char* base = std::strrchr(s, '/');
      base = base ? base + 1 : s;
      if (std::strncmp(base, "uwsgi", 5) == 0) return true;
    }
  }
  PyObject* modules = PyImport_GetModuleDict();  // borrowed
  return modules != nullptr && PyDict_GetItemString(modules, "uwsgi") != nullptr;
}

bool starts_at_boot(const BuiltinPlugin& row) {
  switch (row.boot) {
    case StartAtBoot::kUnderUwsgi: return under_uwsgi();
    case StartAtBoot::kNever: break;
  }
  return false;
}

int add_plugin_table_functions(PyObject* module) { return PyModule_AddFunctions(module, table_functions); }

}  // namespace agent_run::boot
