#pragma once
// Each part of the hook module adds its types and functions to the module
// object through one of these; module.cpp calls them all at import.
// Each returns 0, or -1 with a Python exception set.
#include <Python.h>

namespace agent_run::hook {
int add_wrapper_types(PyObject* module);      // the wrapper and proxy types
int add_span_functions(PyObject* module);     // spans/
}  // namespace agent_run::hook
