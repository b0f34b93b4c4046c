#pragma once
// Post-import hooks: run code right after a module has executed.
//
// A finder placed first on sys.meta_path answers only for module names that
// have hooks (one dict lookup, in C, for every other import). For those it
// asks the rest of sys.meta_path for the real spec and replaces the spec's
// loader with a thin HookLoader whose exec_module() puts the real loader
// back in place (module.__loader__, module.__spec__.loader), runs the real
// exec_module() and then the hooks. Hooks registered for a module that is
// already imported run at once. Nothing is ever imported on the app's behalf.
//
// A hook that raises never fails the import: the error goes to the error
// handler (the plugin manager counts it against its plugin and logs it), or
// to the agent log when there is none. KeyboardInterrupt is not contained.
#include <Python.h>

namespace agent_run::boot {

// Calls hook(module) right after module `name` (a str) is executed, each
// time it is, or now if it is already imported. -1 with an error set when
// the arguments are wrong or the immediate call was interrupted.
int when_imported(PyObject* name, PyObject* hook);

// Removes `hook` (every hook of `name` when null) from `name`'s hooks.
void remove_import_hooks(PyObject* name, PyObject* hook);

// The PostImportFinder and HookLoader types, and when_imported(),
// remove_import_hooks(), set_import_hook_error_handler(),
// install_import_finder(), uninstall_import_finder() for the Python side.
int add_import_hook_functions(PyObject* module);

}  // namespace agent_run::boot
