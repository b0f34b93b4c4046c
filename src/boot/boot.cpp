// _hook.start(bootstrap_dir, version): the agent's start inside a Python
// process, called by the bootstrap's sitecustomize. Native, so that a process
// pays for no Python module of the agent's at startup (each costs a file
// lookup, a read and an unmarshal: a tenth of a millisecond or more).
//
// Order: the log (from the launcher's AGENT_RUN_LOG_* variables), the config
// (the launcher's C++ code and rules), the log again (the config's), the
// banner, then post-import hooks for the built-in plugins' target modules.
// The plugin machinery (_agent_run.instrumentation and what it imports)
// loads when the app imports one of those targets, or at once when it must
// act before any import (user plugin files, uWSGI).
//
// Any failure leaves the app running without the agent; a failure that would
// repeat in every child also takes the bootstrap off PYTHONPATH, so children
// do not try again.
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "agent_run/version.hpp"
#include "boot/agent_log.hpp"
#include "hook/compat.hpp"
#include "boot/import_hooks.hpp"
#include "boot/plugin_table.hpp"
#include "boot/registration.hpp"
#include "config/config.hpp"

namespace agent_run::boot {

using hook::new_ref;

namespace {

PyObject* g_settings = nullptr;      // the running agent's settings (dict), or null
PyObject* g_bootstrap_dir = nullptr;  // where the _agent_run package is (str), or null
PyObject* g_first_target = nullptr;  // the post-import hook that starts the plugin machinery
bool g_instrumentation_installed = false;

std::string utf8(PyObject* s) {
  Py_ssize_t n = 0;
  const char* p = s && PyUnicode_Check(s) ? PyUnicode_AsUTF8AndSize(s, &n) : nullptr;
  if (p == nullptr) {
    PyErr_Clear();
    return std::string();
  }
  return std::string(p, size_t(n));
}

// settings[key] as text ("" when missing or not text).
std::string setting_text(PyObject* settings, const char* key) {
  return utf8(PyDict_GetItemString(settings, key));  // borrowed
}

// settings[key] is true (missing: `fallback`).
bool setting_true(PyObject* settings, const char* key, bool fallback) {
  PyObject* v = PyDict_GetItemString(settings, key);  // borrowed
  if (v == nullptr) return fallback;
  int t = PyObject_IsTrue(v);
  if (t < 0) {
    PyErr_Clear();
    return fallback;
  }
  return t > 0;
}

bool plugin_disabled(PyObject* settings, const char* name) {
  PyObject* disabled = PyDict_GetItemString(settings, "plugins.disabled");  // borrowed
  if (disabled == nullptr || disabled == Py_None) return false;
  PyObject* n = PyUnicode_FromString(name);
  int in = n ? PySequence_Contains(disabled, n) : -1;
  Py_XDECREF(n);
  if (in < 0) PyErr_Clear();
  return in > 0;
}

// os.environ.pop(name, None): through os.environ, so that children see it.
void environ_pop(PyObject* environ, const char* name) {
  PyObject* r = PyObject_CallMethod(environ, "pop", "sO", name, Py_None);
  Py_XDECREF(r);
  PyErr_Clear();
}

// Children of this process get the environment the user had.
void restore_child_environment() {
  PyObject* os = PyImport_ImportModule("os");  // always loaded by site
  PyObject* environ = os ? PyObject_GetAttrString(os, "environ") : nullptr;
  Py_XDECREF(os);
  if (environ == nullptr) {
    PyErr_Clear();
    return;
  }
  if (const char* orig = std::getenv("AGENT_RUN_ORIG_PYTHONPATH")) {
    PyObject* v = PyUnicode_DecodeFSDefault(orig);
    if (v == nullptr || PyMapping_SetItemString(environ, "PYTHONPATH", v) < 0) PyErr_Clear();
    Py_XDECREF(v);
  } else {
    environ_pop(environ, "PYTHONPATH");
  }
  for (const auto& v : config::kLauncherVariables)
    if (v.hidden_from_children) environ_pop(environ, v.name);
  Py_DECREF(environ);
}

// Steps aside: the bootstrap leaves sys.path and the children's PYTHONPATH.
void deactivate(PyObject* bootstrap_dir) {
  PyObject* path = PySys_GetObject("path");  // borrowed
  if (path != nullptr && PyList_Check(path)) {
    for (Py_ssize_t i = PyList_GET_SIZE(path) - 1; i >= 0; --i) {
      int same = PyObject_RichCompareBool(PyList_GET_ITEM(path, i), bootstrap_dir, Py_EQ);
      if (same > 0 && PySequence_DelItem(path, i) < 0) PyErr_Clear();
      if (same < 0) PyErr_Clear();
    }
  }
  restore_child_environment();
}

// The configuration's errors or warnings, a line each. A warning that the
// launcher already showed on the stderr this log writes to (its id in
// AGENT_RUN_WARNINGS_SHOWN: config.hpp) is logged at info, not repeated.
void log_diagnostics(int level, PyObject* list) {
  if (list == nullptr || !PyList_Check(list)) return;
  const char* shown = level == agent_log::kWarning && agent_log::to_stderr() ? std::getenv(config::kWarningsShownVar)
                                                                              : nullptr;
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); ++i) {
    PyObject* item = PyList_GET_ITEM(list, i);
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) continue;
    config::Diagnostic d{utf8(PyTuple_GET_ITEM(item, 0)), utf8(PyTuple_GET_ITEM(item, 1))};
    if (shown != nullptr && config::warning_shown(shown, d))
      agent_log::writef(agent_log::kInfo, "%s: %s (shown by agent-run at launch)", d.where.c_str(),
                        d.message.c_str());
    else
      agent_log::writef(level, "%s: %s", d.where.c_str(), d.message.c_str());
  }
}

void banner(const std::string& version, PyObject* bootstrap_dir, PyObject* settings) {
  utsname u;
  const char* host = ::uname(&u) == 0 ? u.nodename : "?";
  std::string python = Py_GetVersion();
  python = python.substr(0, python.find(' '));
  const char* config = std::getenv("AGENT_RUN_CONFIG");
  std::string service = setting_text(settings, "service_name");
  agent_log::writef(agent_log::kInfo,
                    "agent-run %s started: host=%s pid=%d python=%s (%s) bootstrap=%s config=%s service=%s",
                    version.c_str(), host, int(::getpid()), python.c_str(),
                    utf8(PySys_GetObject("executable")).c_str(), utf8(bootstrap_dir).c_str(),
                    config && *config ? config : "(defaults)", service.empty() ? "?" : service.c_str());
}

// The agent's package, loaded from the bootstrap directory: the app may have
// taken that off sys.path since the start (0, or -1 with an error set).
int load_package() {
  PyObject* modules = PyImport_GetModuleDict();  // borrowed
  if (PyDict_GetItemString(modules, "_agent_run") != nullptr || g_bootstrap_dir == nullptr) return 0;
  PyObject* external = PyDict_GetItemString(modules, "_frozen_importlib_external");  // borrowed
  PyObject* bootstrap = PyDict_GetItemString(modules, "_frozen_importlib");          // borrowed
  if (external == nullptr || bootstrap == nullptr) return 0;
  PyObject* finder = PyObject_GetAttrString(external, "PathFinder");
  PyObject* spec = finder ? PyObject_CallMethod(finder, "find_spec", "s[O]", "_agent_run", g_bootstrap_dir) : nullptr;
  Py_XDECREF(finder);
  if (spec == nullptr) return -1;
  if (spec == Py_None) {  // the plain import below says what is missing
    Py_DECREF(spec);
    return 0;
  }
  PyObject* module = PyObject_CallMethod(bootstrap, "_load", "O", spec);
  Py_DECREF(spec);
  Py_XDECREF(module);
  return module ? 0 : -1;
}

// Calls _agent_run.instrumentation.<function>(*args): the plugin machinery.
// Its errors are logged here and never reach the app (but KeyboardInterrupt).
PyObject* call_instrumentation(const char* function, PyObject* args) {
  PyObject* inst = load_package() == 0 ? PyImport_ImportModule("_agent_run.instrumentation") : nullptr;
  PyObject* fn = inst ? PyObject_GetAttrString(inst, function) : nullptr;
  PyObject* r = fn ? PyObject_Call(fn, args, nullptr) : nullptr;
  Py_XDECREF(fn);
  Py_XDECREF(inst);
  if (r == nullptr) {
    if (PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) return nullptr;
    agent_log::write_exception("agent-run: instrumentation failed to start; the program runs without it");
  }
  Py_XDECREF(r);
  Py_RETURN_NONE;
}

// The post-import hook on every built-in target until the first of them is
// imported: then the plugin machinery starts and takes over.
PyObject* first_target_imported(PyObject*, PyObject* module) {
  for (auto* row = builtin_plugins_begin(); row != builtin_plugins_end(); ++row) {
    for (const char* target : row->targets) {
      PyObject* name = PyUnicode_FromString(target);
      if (name == nullptr) return nullptr;
      remove_import_hooks(name, g_first_target);
      Py_DECREF(name);
    }
  }
  PyObject* settings = g_settings ? g_settings : Py_None;
  PyObject* args = PyTuple_Pack(2, settings, module);
  if (args == nullptr) return nullptr;
  PyObject* r = call_instrumentation("first_target_imported", args);
  Py_DECREF(args);
  return r;
}

PyObject* health_at_exit(PyObject*, PyObject*) {
  PyObject* args = PyTuple_New(0);
  PyObject* r = args ? call_instrumentation("log_health_at_exit", args) : nullptr;
  Py_XDECREF(args);
  return r;
}

PyMethodDef first_target_def = {"_first_target_imported", first_target_imported, METH_O, nullptr};
PyMethodDef health_at_exit_def = {"_log_health_at_exit", health_at_exit, METH_NOARGS, nullptr};

// Registers the built-in plugins (less plugins.disabled) and the user's
// (plugins.paths) to be applied when their libraries are imported.
// 0, or -1 with KeyboardInterrupt set.
int install_instrumentation(PyObject* settings) {
  if (g_instrumentation_installed) return 0;
  g_instrumentation_installed = true;
  if (g_settings == nullptr) g_settings = new_ref(settings);
  bool now = setting_true(settings, "plugins.paths", false);
  for (auto* row = builtin_plugins_begin(); row != builtin_plugins_end() && !now; ++row)
    now = !plugin_disabled(settings, row->name) && starts_at_boot(*row);
  if (now) {
    PyObject* args = PyTuple_Pack(1, settings);
    PyObject* r = args ? call_instrumentation("start", args) : nullptr;
    Py_XDECREF(args);
    Py_XDECREF(r);
    return r ? 0 : -1;
  }
  // Most processes never import an instrumented library (a CLI tool, a
  // script): for them, this is all the agent does.
  if (g_first_target == nullptr) {
    g_first_target = PyCFunction_New(&first_target_def, nullptr);
    if (g_first_target == nullptr) return -1;
  }
  for (auto* row = builtin_plugins_begin(); row != builtin_plugins_end(); ++row) {
    if (plugin_disabled(settings, row->name)) continue;
    for (const char* target : row->targets) {
      PyObject* name = PyUnicode_FromString(target);
      int rc = name ? when_imported(name, g_first_target) : -1;
      Py_XDECREF(name);
      if (rc < 0) return -1;
    }
  }
  // Without the machinery nothing can go wrong: the plugins' health at exit
  // (all waiting) is only worth a line at info.
  if (agent_log::enabled(agent_log::kInfo)) {
    PyObject* atexit = PyImport_ImportModule("atexit");
    PyObject* fn = atexit ? PyCFunction_New(&health_at_exit_def, nullptr) : nullptr;
    PyObject* r = fn ? PyObject_CallMethod(atexit, "register", "O", fn) : nullptr;
    Py_XDECREF(r);
    Py_XDECREF(fn);
    Py_XDECREF(atexit);
    PyErr_Clear();
  }
  return 0;
}

// The body of start(); false when the agent stepped aside.
bool start_agent(PyObject* bootstrap_dir, const std::string& version) {
  const char* level = std::getenv("AGENT_RUN_LOG_LEVEL");
  const char* file = std::getenv("AGENT_RUN_LOG_FILE");
  agent_log::configure(level ? level : "warning", file ? file : "");
  if (version != agent_run::kVersion) {
    agent_log::writef(agent_log::kWarning,
                      "stale agent-run bootstrap in %s: sitecustomize is %s, hook module %s; running without "
                      "the agent (launch with agent-run again to regenerate it)",
                      utf8(bootstrap_dir).c_str(), version.c_str(), agent_run::kVersion);
    return false;
  }
  PyObject* loaded = load_settings();
  if (loaded == nullptr) {
    agent_log::write_exception("agent-run: cannot read the configuration; the program runs without the agent");
    return false;
  }
  PyObject* settings = PyTuple_GET_ITEM(loaded, 0);
  agent_log::configure(setting_text(settings, "log_level"), setting_text(settings, "log_file"));
  log_diagnostics(agent_log::kWarning, PyTuple_GET_ITEM(loaded, 2));
  PyObject* errors = PyTuple_GET_ITEM(loaded, 1);
  if (PyList_Check(errors) && PyList_GET_SIZE(errors) > 0) {
    log_diagnostics(agent_log::kError, errors);
    agent_log::write(agent_log::kError, "bad agent-run configuration; running without the agent");
    Py_DECREF(loaded);
    return false;
  }
  if (!setting_true(settings, "enabled", true)) {
    agent_log::write(agent_log::kInfo, "agent-run is disabled by the configuration");
    Py_DECREF(loaded);
    return false;
  }
  if (!setting_true(settings, "inherit_subprocesses", true)) restore_child_environment();
  Py_XSETREF(g_settings, new_ref(settings));
  Py_DECREF(loaded);
  if (agent_log::enabled(agent_log::kInfo)) banner(version, bootstrap_dir, g_settings);
  return true;
}

PyObject* py_start(PyObject*, PyObject* args) {
  PyObject* bootstrap_dir;
  const char* version;
  if (!PyArg_ParseTuple(args, "Us:start", &bootstrap_dir, &version)) return nullptr;
  Py_XSETREF(g_bootstrap_dir, new_ref(bootstrap_dir));
  if (!start_agent(bootstrap_dir, version)) {
    deactivate(bootstrap_dir);
    Py_RETURN_NONE;
  }
  if (install_instrumentation(g_settings) < 0) return nullptr;  // KeyboardInterrupt
  Py_RETURN_NONE;
}

PyObject* py_install_instrumentation(PyObject*, PyObject* args) {
  PyObject* settings;
  PyObject* bootstrap_dir = nullptr;
  if (!PyArg_ParseTuple(args, "O!|U:install_instrumentation", &PyDict_Type, &settings, &bootstrap_dir))
    return nullptr;
  if (bootstrap_dir != nullptr) Py_XSETREF(g_bootstrap_dir, new_ref(bootstrap_dir));
  if (install_instrumentation(settings) < 0) return nullptr;
  Py_RETURN_NONE;
}

PyObject* py_settings(PyObject*, PyObject*) { return new_ref(g_settings ? g_settings : Py_None); }

PyObject* py_deactivate(PyObject*, PyObject* bootstrap_dir) {
  deactivate(bootstrap_dir);
  Py_RETURN_NONE;
}

PyMethodDef boot_functions[] = {
    {"start", py_start, METH_VARARGS,
     "start(bootstrap_dir, version): starts the agent in this process (the bootstrap's sitecustomize calls it)."},
    {"install_instrumentation", py_install_instrumentation, METH_VARARGS,
     "install_instrumentation(settings, bootstrap_dir=None): post-import hooks for the plugins (start() calls "
     "it); the _agent_run package is loaded from bootstrap_dir when the app has taken it off sys.path."},
    {"settings", py_settings, METH_NOARGS, "settings() -> dict of the running agent's settings, or None."},
    {"deactivate", py_deactivate, METH_O,
     "deactivate(bootstrap_dir): the bootstrap leaves sys.path and the children's environment."},
    {nullptr, nullptr, 0, nullptr},
};

}  // namespace

int add_boot_functions(PyObject* module) { return PyModule_AddFunctions(module, boot_functions); }

}  // namespace agent_run::boot
