// The hook module (_agent_run._hook): the native wrappers, proxies and span
// recording. Loaded by the plugin machinery when the app imports an
// instrumented library (the agent's start is the boot module's, src/boot).
//
// Importing it must stay cheap (well under 1 ms) and import nothing: module
// init only creates the module object and registers the types; everything
// else happens when the plugins ask for it.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "agent_run/version.hpp"
#include "hook/registration.hpp"

namespace {

#ifndef AGENT_RUN_BUILD_PYTHON
#define AGENT_RUN_BUILD_PYTHON PY_VERSION
#endif

PyObject* build_info(PyObject*, PyObject*) {
  return Py_BuildValue("{s:s,s:s,s:s,s:s}",
                       "version", agent_run::kVersion,
                       "python", AGENT_RUN_BUILD_PYTHON,
                       "compiler", __VERSION__,
                       "built", __DATE__ " " __TIME__);
}

PyMethodDef module_methods[] = {
    {"build_info", build_info, METH_NOARGS,
     "build_info() -> dict: agent version, the Python it was built for, compiler."},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "_agent_run._hook",
    "agent-run's hook module: native wrappers, span recording and export.",
    -1,
    module_methods,
    nullptr, nullptr, nullptr, nullptr,
};

}  // namespace

// 3.8's PyMODINIT_FUNC does not mark the init function visible, and the
// module is built with -fvisibility=hidden (3.9+ add Py_EXPORTED_SYMBOL).
#if PY_VERSION_HEX < 0x03090000
extern "C" __attribute__((visibility("default"))) PyObject* PyInit__hook(void);
#endif
PyMODINIT_FUNC PyInit__hook(void) {
  PyObject* m = PyModule_Create(&module_def);
  if (m == nullptr) return nullptr;
  // Any failure here fails the import of _hook; the bootstrap catches that
  // and the app runs without the agent.
  if (PyModule_AddStringConstant(m, "__version__", agent_run::kVersion) < 0 ||
      agent_run::hook::add_wrapper_types(m) < 0 ||
      agent_run::hook::add_span_functions(m) < 0) {
    Py_DECREF(m);
    return nullptr;
  }
  return m;
}
