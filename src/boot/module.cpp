// The boot module (_agent_run_boot): the agent's start inside every Python
// process of the app, called by the bootstrap's sitecustomize.
//
// It is a top-level module next to sitecustomize, not part of the
// _agent_run package: a process that never imports an instrumented library
// loads this one small extension and no Python module of the agent's. It
// holds what every process needs: the config (the launcher's C++ code), the
// agent log, the table of built-in plugins and the post-import hooks on their
// targets. The wrappers and the span recording are in the hook module
// (_agent_run._hook), loaded with the plugin machinery.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "agent_run/version.hpp"
#include "boot/agent_log.hpp"
#include "boot/import_hooks.hpp"
#include "boot/plugin_table.hpp"
#include "boot/registration.hpp"

namespace {

PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "_agent_run_boot",
    "agent-run's boot module: the agent's start, config, log and post-import hooks.",
    -1,
    nullptr,
    nullptr, nullptr, nullptr, nullptr,
};

}  // namespace

// 3.8's PyMODINIT_FUNC does not mark the init function visible, and the
// module is built with -fvisibility=hidden (3.9+ add Py_EXPORTED_SYMBOL).
#if PY_VERSION_HEX < 0x03090000
extern "C" __attribute__((visibility("default"))) PyObject* PyInit__agent_run_boot(void);
#endif
PyMODINIT_FUNC PyInit__agent_run_boot(void) {
  PyObject* m = PyModule_Create(&module_def);
  if (m == nullptr) return nullptr;
  // Any failure here fails the import; the sitecustomize catches that and
  // the app runs without the agent.
  if (PyModule_AddStringConstant(m, "__version__", agent_run::kVersion) < 0 ||
      agent_run::boot::add_config_functions(m) < 0 ||
      agent_run::boot::agent_log::add_log_functions(m) < 0 ||
      agent_run::boot::add_import_hook_functions(m) < 0 ||
      agent_run::boot::add_plugin_table_functions(m) < 0 ||
      agent_run::boot::add_boot_functions(m) < 0) {
    Py_DECREF(m);
    return nullptr;
  }
  return m;
}
