#pragma once
// Each part of the boot module adds its functions to the module object
// through one of these; module.cpp calls them all at import.
// Each returns 0, or -1 with a Python exception set.
#include <Python.h>

namespace agent_run::boot {
int add_config_functions(PyObject* module);  // config_binding.cpp: load_config()
int add_boot_functions(PyObject* module);    // boot.cpp: start(), settings(), ...

// (settings: dict, errors: [(where, message)], warnings: [(where, message)]):
// the configuration of this process, read with the launcher's rules
// (config_binding.cpp). Null with an error set on failure.
PyObject* load_settings();
}  // namespace agent_run::boot
