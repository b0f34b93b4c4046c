#pragma once
// The table of built-in plugins: one row per library, one small Python
// module per plugin in bootstrap/_agent_run/plugins/. It lives here, in the
// hook module, because the agent reads it at every start: the post-import
// hooks for the target modules are set up natively, and no Python module of
// the agent is imported until the app imports one of those targets.
#include <Python.h>

#include <initializer_list>

namespace agent_run::boot {

// When the plugin machinery must start with the agent, before any import.
enum class StartAtBoot {
  kNever,
  kUnderUwsgi,  // uWSGI creates its module from C and forks from C: the hook must be set at once
};

struct BuiltinPlugin {
  const char* name;    // as in plugins.disabled and the health report
  const char* module;  // _agent_run.plugins.<module>
  std::initializer_list<const char*> targets;  // importing one of these loads the plugin
  const char* startup;  // a function of the plugin's module run when the machinery starts, or null
  StartAtBoot boot;
};

// The rows, in the order they are registered.
const BuiltinPlugin* builtin_plugins_begin();
const BuiltinPlugin* builtin_plugins_end();

// Whether this process is a uWSGI one (its executable, or its `uwsgi` module).
bool under_uwsgi();

// Whether the row must start the plugin machinery at once in this process.
bool starts_at_boot(const BuiltinPlugin& row);

// builtin_plugins() and under_uwsgi() for the Python side.
int add_plugin_table_functions(PyObject* module);

}  // namespace agent_run::boot
