// Post-import hooks: see import_hooks.hpp.
#include "boot/import_hooks.hpp"

#include "boot/agent_log.hpp"
#include "hook/compat.hpp"

namespace agent_run::boot {

using hook::SavedError;
using hook::new_ref;
using hook::call1;
using hook::vectorcall;

namespace {

PyObject* g_hooks = nullptr;     // module name -> [hook(module)]
PyObject* g_busy = nullptr;      // names whose spec we are looking up (no recursion)
PyObject* g_finder = nullptr;    // the one PostImportFinder
PyObject* g_on_error = nullptr;  // handler(module_name, hook, exception) or null

struct HookLoaderObject {
  PyObject_HEAD
  PyObject* loader;  // the real loader
  PyObject* name;    // the module's name
};

PyTypeObject PostImportFinderType = {PyVarObject_HEAD_INIT(nullptr, 0)};
PyTypeObject HookLoaderType = {PyVarObject_HEAD_INIT(nullptr, 0)};

HookLoaderObject* loader_of(PyObject* o) { return reinterpret_cast<HookLoaderObject*>(o); }

// ---- running hooks ----

// 0, or -1 with KeyboardInterrupt set (the only error that leaves a hook).
int call_hook(PyObject* name, PyObject* hook, PyObject* module) {
  PyObject* r = call1(hook, module);
  if (r != nullptr) {
    Py_DECREF(r);
    return 0;
  }
  if (PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) return -1;
  if (g_on_error == nullptr) {
    const char* n = PyUnicode_AsUTF8(name);
    agent_log::write_exception(std::string("agent-run: post-import hook for ") + (n ? n : "?") + " failed");
    PyErr_Clear();
    return 0;
  }
  SavedError error;
  error.fetch();
  PyObject* handler = new_ref(g_on_error);
  PyObject* hr = PyObject_CallFunctionObjArgs(handler, name, hook, error.value(), nullptr);
  Py_DECREF(handler);
  Py_XDECREF(hr);
  PyErr_Clear();  // a failing handler must not fail the import either
  error.discard();
  return 0;
}

int run_hooks(PyObject* name, PyObject* module) {
  PyObject* hooks = PyDict_GetItemWithError(g_hooks, name);  // borrowed
  if (hooks == nullptr) {
    PyErr_Clear();
    return 0;
  }
  // A copy: hooks may add or remove hooks.
  PyObject* snapshot = PySequence_Tuple(hooks);
  if (snapshot == nullptr) {
    PyErr_Clear();
    return 0;
  }
  int rc = 0;
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(snapshot) && rc == 0; ++i)
    rc = call_hook(name, PyTuple_GET_ITEM(snapshot, i), module);
  Py_DECREF(snapshot);
  return rc;
}

// A module whose import is still running (a hook on it must wait for its end).
bool initializing(PyObject* module) {
  PyObject* spec = PyObject_GetAttrString(module, "__spec__");
  if (spec == nullptr) {
    PyErr_Clear();
    return false;
  }
  bool busy = false;
  if (spec != Py_None) {
    PyObject* flag = PyObject_GetAttrString(spec, "_initializing");
    if (flag == nullptr) {
      PyErr_Clear();
    } else {
      int t = PyObject_IsTrue(flag);
      if (t < 0) PyErr_Clear();
      busy = t > 0;
      Py_DECREF(flag);
    }
  }
  Py_DECREF(spec);
  return busy;
}

// ---- HookLoader: stands in for the real loader between find_spec and exec_module ----

PyObject* hl_new(PyObject* loader, PyObject* name) {
  auto* self = loader_of(HookLoaderType.tp_alloc(&HookLoaderType, 0));
  if (self == nullptr) return nullptr;
  self->loader = new_ref(loader);
  self->name = new_ref(name);
  return reinterpret_cast<PyObject*>(self);
}

void hl_dealloc(PyObject* o) {
  Py_CLEAR(loader_of(o)->loader);
  Py_CLEAR(loader_of(o)->name);
  Py_TYPE(o)->tp_free(o);
}

// Anything else asked of it is the real loader's.
PyObject* hl_getattro(PyObject* o, PyObject* attr) {
  PyObject* r = PyObject_GenericGetAttr(o, attr);
  if (r != nullptr || !PyErr_ExceptionMatches(PyExc_AttributeError)) return r;
  PyErr_Clear();
  return PyObject_GetAttr(loader_of(o)->loader, attr);
}

PyObject* hl_create_module(PyObject* o, PyObject* spec) {
  PyObject* create = PyObject_GetAttrString(loader_of(o)->loader, "create_module");
  if (create == nullptr) {
    if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return nullptr;
    PyErr_Clear();
    Py_RETURN_NONE;
  }
  PyObject* r = call1(create, spec);
  Py_DECREF(create);
  return r;
}

// The module keeps the real loader: importlib.resources, pkgutil, linecache
// and reload() all look at it.
void put_real_loader_back(PyObject* self, PyObject* module) {
  PyObject* loader = loader_of(self)->loader;
  PyObject* current = PyObject_GetAttrString(module, "__loader__");
  if (current == self) PyObject_SetAttrString(module, "__loader__", loader);
  Py_XDECREF(current);
  PyErr_Clear();
  PyObject* spec = PyObject_GetAttrString(module, "__spec__");
  if (spec != nullptr && spec != Py_None) {
    PyObject* spec_loader = PyObject_GetAttrString(spec, "loader");
    if (spec_loader == self) PyObject_SetAttrString(spec, "loader", loader);
    Py_XDECREF(spec_loader);
  }
  Py_XDECREF(spec);
  PyErr_Clear();
}

PyObject* hl_exec_module(PyObject* o, PyObject* module) {
  put_real_loader_back(o, module);
  PyObject* r = PyObject_CallMethod(loader_of(o)->loader, "exec_module", "O", module);
  if (r == nullptr) return nullptr;
  Py_DECREF(r);
  // The module that ends up in sys.modules is what importers get.
  PyObject* name = loader_of(o)->name;
  PyObject* in_modules = PyImport_GetModule(name);  // new reference or null
  if (in_modules == nullptr) PyErr_Clear();
  int rc = run_hooks(name, in_modules ? in_modules : module);
  Py_XDECREF(in_modules);
  if (rc < 0) return nullptr;
  Py_RETURN_NONE;
}

PyMethodDef hl_methods[] = {
    {"create_module", hl_create_module, METH_O, nullptr},
    {"exec_module", hl_exec_module, METH_O, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

// ---- PostImportFinder ----

// The spec that the rest of sys.meta_path finds, or None.
PyObject* real_spec(PyObject* self, PyObject* const* call_args) {
  PyObject* meta_path = PySys_GetObject("meta_path");  // borrowed
  PyObject* finders = meta_path ? PySequence_Tuple(meta_path) : nullptr;
  if (finders == nullptr) {
    PyErr_Clear();
    Py_RETURN_NONE;
  }
  PyObject* spec = nullptr;
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(finders); ++i) {
    PyObject* finder = PyTuple_GET_ITEM(finders, i);
    if (finder == self) continue;
    PyObject* find = PyObject_GetAttrString(finder, "find_spec");
    if (find == nullptr) {
      if (!PyErr_ExceptionMatches(PyExc_AttributeError)) break;
      PyErr_Clear();
      continue;
    }
    spec = vectorcall(find, call_args, 3, nullptr);
    Py_DECREF(find);
    if (spec == nullptr) break;
    if (spec != Py_None) break;
    Py_CLEAR(spec);
  }
  Py_DECREF(finders);
  if (spec == nullptr && !PyErr_Occurred()) Py_RETURN_NONE;
  return spec;
}

// find_spec(fullname, path=None, target=None)
PyObject* finder_find_spec(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  PyObject* call_args[3] = {nargs > 0 ? args[0] : nullptr, nargs > 1 ? args[1] : Py_None,
                            nargs > 2 ? args[2] : Py_None};
  Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  for (Py_ssize_t i = 0; i < nkw; ++i) {
    PyObject* key = PyTuple_GET_ITEM(kwnames, i);
    int which = PyUnicode_CompareWithASCIIString(key, "fullname") == 0 ? 0
                : PyUnicode_CompareWithASCIIString(key, "path") == 0   ? 1
                : PyUnicode_CompareWithASCIIString(key, "target") == 0 ? 2
                                                                      : -1;
    if (which < 0) {
      PyErr_Format(PyExc_TypeError, "find_spec() got an unexpected keyword argument '%U'", key);
      return nullptr;
    }
    call_args[which] = args[nargs + i];
  }
  if (nargs > 3 || call_args[0] == nullptr) {
    PyErr_SetString(PyExc_TypeError, "find_spec(fullname, path=None, target=None)");
    return nullptr;
  }
  PyObject* fullname = call_args[0];
  // Every import of the app passes here: one dict lookup for the others.
  int has = PyDict_Contains(g_hooks, fullname);
  if (has <= 0) {
    PyErr_Clear();
    Py_RETURN_NONE;
  }
  int busy = PySet_Contains(g_busy, fullname);
  if (busy != 0 || PySet_Add(g_busy, fullname) < 0) {
    PyErr_Clear();
    Py_RETURN_NONE;
  }
  PyObject* spec = real_spec(self, call_args);
  PySet_Discard(g_busy, fullname);
  if (spec == nullptr || spec == Py_None) return spec;

  PyObject* loader = PyObject_GetAttrString(spec, "loader");
  if (loader == nullptr) {
    PyErr_Clear();
    return spec;
  }
  bool wrap = loader != Py_None && Py_TYPE(loader) != &HookLoaderType;
  if (wrap) {
    int has_exec = PyObject_HasAttrString(loader, "exec_module");
    wrap = has_exec > 0;
  }
  if (wrap) {
    PyObject* hl = hl_new(loader, fullname);
    if (hl == nullptr || PyObject_SetAttrString(spec, "loader", hl) < 0) PyErr_Clear();
    Py_XDECREF(hl);
  }
  Py_DECREF(loader);
  return spec;
}

PyObject* finder_invalidate_caches(PyObject*, PyObject*) { Py_RETURN_NONE; }

PyMethodDef finder_methods[] = {
    {"find_spec", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(finder_find_spec)),
     METH_FASTCALL | METH_KEYWORDS, nullptr},
    {"invalidate_caches", finder_invalidate_caches, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

int install_finder() {
  PyObject* meta_path = PySys_GetObject("meta_path");  // borrowed
  if (meta_path == nullptr || !PyList_Check(meta_path)) {
    PyErr_SetString(PyExc_RuntimeError, "sys.meta_path is not a list");
    return -1;
  }
  if (PyList_GET_SIZE(meta_path) > 0 && PyList_GET_ITEM(meta_path, 0) == g_finder) return 0;
  for (Py_ssize_t i = PyList_GET_SIZE(meta_path) - 1; i >= 0; --i) {
    if (PyList_GET_ITEM(meta_path, i) == g_finder && PySequence_DelItem(meta_path, i) < 0) return -1;
  }
  return PyList_Insert(meta_path, 0, g_finder);
}

// ---- the functions of the Python side ----

PyObject* py_when_imported(PyObject*, PyObject* args) {
  PyObject* name;
  PyObject* hook;
  if (!PyArg_ParseTuple(args, "UO:when_imported", &name, &hook)) return nullptr;
  if (when_imported(name, hook) < 0) return nullptr;
  Py_RETURN_NONE;
}

PyObject* py_remove_import_hooks(PyObject*, PyObject* args) {
  PyObject* name;
  PyObject* hook = Py_None;
  if (!PyArg_ParseTuple(args, "U|O:remove_import_hooks", &name, &hook)) return nullptr;
  remove_import_hooks(name, hook == Py_None ? nullptr : hook);
  Py_RETURN_NONE;
}

PyObject* py_set_error_handler(PyObject*, PyObject* handler) {
  if (handler != Py_None && !PyCallable_Check(handler)) {
    PyErr_SetString(PyExc_TypeError, "set_import_hook_error_handler(handler): a callable or None");
    return nullptr;
  }
  Py_CLEAR(g_on_error);
  if (handler != Py_None) g_on_error = new_ref(handler);
  Py_RETURN_NONE;
}

PyObject* py_install_finder(PyObject*, PyObject*) {
  if (install_finder() < 0) return nullptr;
  Py_RETURN_NONE;
}

PyObject* py_uninstall_finder(PyObject*, PyObject*) {
  PyObject* meta_path = PySys_GetObject("meta_path");  // borrowed
  if (meta_path != nullptr && PyList_Check(meta_path)) {
    for (Py_ssize_t i = PyList_GET_SIZE(meta_path) - 1; i >= 0; --i) {
      if (PyList_GET_ITEM(meta_path, i) == g_finder && PySequence_DelItem(meta_path, i) < 0) return nullptr;
    }
  }
  Py_RETURN_NONE;
}

PyMethodDef functions[] = {
    {"when_imported", py_when_imported, METH_VARARGS,
     "when_imported(name, hook): hook(module) right after module `name` is imported, or now if it is."},
    {"remove_import_hooks", py_remove_import_hooks, METH_VARARGS,
     "remove_import_hooks(name, hook=None): removes one hook, or all of `name`'s."},
    {"set_import_hook_error_handler", py_set_error_handler, METH_O,
     "set_import_hook_error_handler(handler): handler(module_name, hook, exception) for failing hooks."},
    {"install_import_finder", py_install_finder, METH_NOARGS,
     "install_import_finder(): puts the post-import finder first on sys.meta_path."},
    {"uninstall_import_finder", py_uninstall_finder, METH_NOARGS,
     "uninstall_import_finder(): takes the post-import finder off sys.meta_path."},
    {nullptr, nullptr, 0, nullptr},
};

}  // namespace

int when_imported(PyObject* name, PyObject* hook) {
  if (!PyUnicode_Check(name) || !PyCallable_Check(hook)) {
    PyErr_SetString(PyExc_TypeError, "when_imported(name, hook): a module name and a callable");
    return -1;
  }
  PyObject* hooks = PyDict_GetItemWithError(g_hooks, name);  // borrowed
  if (hooks == nullptr) {
    if (PyErr_Occurred()) return -1;
    PyObject* fresh = PyList_New(0);
    if (fresh == nullptr) return -1;
    int rc = PyDict_SetItem(g_hooks, name, fresh);
    Py_DECREF(fresh);
    if (rc < 0) return -1;
    hooks = fresh;
  }
  if (PyList_Append(hooks, hook) < 0 || install_finder() < 0) return -1;
  PyObject* module = PyImport_GetModule(name);  // new reference or null
  if (module == nullptr) {
    PyErr_Clear();
    return 0;
  }
  int rc = initializing(module) ? 0 : call_hook(name, hook, module);
  Py_DECREF(module);
  return rc;
}

void remove_import_hooks(PyObject* name, PyObject* hook) {
  PyObject* hooks = PyDict_GetItemWithError(g_hooks, name);  // borrowed
  if (hooks == nullptr) {
    PyErr_Clear();
    return;
  }
  if (hook != nullptr) {
    for (Py_ssize_t i = PyList_GET_SIZE(hooks) - 1; i >= 0; --i) {
      if (PyList_GET_ITEM(hooks, i) == hook && PySequence_DelItem(hooks, i) < 0) PyErr_Clear();
    }
    if (PyList_GET_SIZE(hooks) > 0) return;
  }
  // No hook left: the finder lets this name pass again.
  if (PyDict_DelItem(g_hooks, name) < 0) PyErr_Clear();
}

int add_import_hook_functions(PyObject* module) {
  PostImportFinderType.tp_name = "_agent_run_boot.PostImportFinder";
  PostImportFinderType.tp_basicsize = sizeof(PyObject);
  PostImportFinderType.tp_flags = Py_TPFLAGS_DEFAULT;
  PostImportFinderType.tp_doc = "agent-run's post-import finder (first on sys.meta_path).";
  PostImportFinderType.tp_methods = finder_methods;
  PostImportFinderType.tp_new = nullptr;  // the one instance is made here

  HookLoaderType.tp_name = "_agent_run_boot.HookLoader";
  HookLoaderType.tp_basicsize = sizeof(HookLoaderObject);
  HookLoaderType.tp_flags = Py_TPFLAGS_DEFAULT;
  HookLoaderType.tp_doc = "Stands in for a module's loader until its post-import hooks have run.";
  HookLoaderType.tp_dealloc = hl_dealloc;
  HookLoaderType.tp_getattro = hl_getattro;
  HookLoaderType.tp_methods = hl_methods;

  if (PyType_Ready(&PostImportFinderType) < 0 || PyType_Ready(&HookLoaderType) < 0) return -1;
  if (g_hooks == nullptr) {
    g_hooks = PyDict_New();
    g_busy = g_hooks ? PySet_New(nullptr) : nullptr;
    g_finder = g_busy ? PyType_GenericAlloc(&PostImportFinderType, 0) : nullptr;
    if (g_finder == nullptr) return -1;
  }
  return PyModule_AddFunctions(module, functions);
}

}  // namespace agent_run::boot
