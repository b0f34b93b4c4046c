// _hook.load_config(): the app reads agent-run's configuration with the same
// C++ code and the same rules as the launcher (file named by AGENT_RUN_CONFIG,
// then the AGENT_RUN_* / OTEL_* environment, which also carries the
// launcher's command-line options).
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstdlib>

#include "config/config.hpp"
#include "boot/registration.hpp"

namespace agent_run::boot {

namespace {

PyObject* to_python(const config::Value& v) {
  if (auto* b = std::get_if<bool>(&v)) return PyBool_FromLong(*b);
  if (auto* i = std::get_if<int64_t>(&v)) return PyLong_FromLongLong(*i);
  if (auto* s = std::get_if<std::string>(&v))
    return PyUnicode_DecodeUTF8(s->data(), static_cast<Py_ssize_t>(s->size()), "replace");
  const auto& list = std::get<std::vector<std::string>>(v);
  PyObject* out = PyList_New(static_cast<Py_ssize_t>(list.size()));
  if (out == nullptr) return nullptr;
  for (size_t i = 0; i < list.size(); ++i) {
    PyObject* item = PyUnicode_DecodeUTF8(list[i].data(), static_cast<Py_ssize_t>(list[i].size()), "replace");
    if (item == nullptr) {
      Py_DECREF(out);
      return nullptr;
    }
    PyList_SET_ITEM(out, static_cast<Py_ssize_t>(i), item);
  }
  return out;
}

PyObject* diagnostics(const std::vector<config::Diagnostic>& ds) {
  PyObject* out = PyList_New(0);
  if (out == nullptr) return nullptr;
  for (const auto& d : ds) {
    PyObject* t = Py_BuildValue("(s#s#)", d.where.data(), static_cast<Py_ssize_t>(d.where.size()),
                                d.message.data(), static_cast<Py_ssize_t>(d.message.size()));
    if (t == nullptr || PyList_Append(out, t) < 0) {
      Py_XDECREF(t);
      Py_DECREF(out);
      return nullptr;
    }
    Py_DECREF(t);
  }
  return out;
}

PyObject* load_config(PyObject*, PyObject*) { return load_settings(); }

PyMethodDef methods[] = {
    {"load_config", load_config, METH_NOARGS,
     "load_config() -> (settings, errors, warnings): agent-run's configuration for this process."},
    {nullptr, nullptr, 0, nullptr},
};

}  // namespace

PyObject* load_settings() {
  config::Sources sources;
  if (const char* f = std::getenv("AGENT_RUN_CONFIG")) sources.file = f;
  sources.env = config::process_environment();
  config::LoadResult r = config::load(sources);
  PyObject* settings = PyDict_New();
  if (settings == nullptr) return nullptr;
  size_t i = 0;
  for (const auto& key : config::keys()) {
    PyObject* name = PyUnicode_FromStringAndSize(key.name.data(), Py_ssize_t(key.name.size()));
    PyObject* v = name ? to_python(r.config.value_at(i++)) : nullptr;
    if (v == nullptr || PyDict_SetItem(settings, name, v) < 0) {
      Py_XDECREF(name);
      Py_XDECREF(v);
      Py_DECREF(settings);
      return nullptr;
    }
    Py_DECREF(name);
    Py_DECREF(v);
  }
  PyObject* errors = diagnostics(r.errors);
  PyObject* warnings = errors ? diagnostics(r.warnings) : nullptr;
  if (warnings == nullptr) {
    Py_DECREF(settings);
    Py_XDECREF(errors);
    return nullptr;
  }
  return Py_BuildValue("(NNN)", settings, errors, warnings);
}

int add_config_functions(PyObject* module) {
  return PyModule_AddFunctions(module, methods);
}

}  // namespace agent_run::boot
