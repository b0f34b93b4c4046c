// The agent log: see agent_log.hpp.
#include "boot/agent_log.hpp"

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "common/write_all.hpp"
#include "hook/compat.hpp"

namespace agent_run::boot::agent_log {

using hook::SavedError;

namespace {

int g_level = kWarning;
int g_fd = 2;
std::string g_path;

const char* level_label(int level) {
  switch (level) {
    case kDebug: return "DEBUG";
    case kInfo: return "INFO";
    case kWarning: return "WARNING";
    case kError: return "ERROR";
    default: return "LOG";
  }
}

}  // namespace

int level_from_name(std::string_view name) {
  if (name == "debug") return kDebug;
  if (name == "info") return kInfo;
  if (name == "error") return kError;
  if (name == "off") return kOff;
  return kWarning;
}

void configure(std::string_view level_name, const std::string& path) {
  g_level = level_from_name(level_name);
  if (path.empty() || path == g_path) return;
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    int err = errno;
    if (g_fd != 2) ::close(g_fd);
    g_fd = 2;
    g_path.clear();
    writef(kWarning, "cannot open log file %s (%s); logging to stderr", path.c_str(), std::strerror(err));
    return;
  }
  if (g_fd != 2) ::close(g_fd);
  g_fd = fd;
  g_path = path;
}

bool enabled(int level) { return level >= g_level; }

bool to_stderr() { return g_fd == 2; }

void write(int level, std::string_view message) {
  if (level < g_level) return;
  timespec now;
  ::clock_gettime(CLOCK_REALTIME, &now);
  tm utc;
  ::gmtime_r(&now.tv_sec, &utc);
  char head[96];
  int n = std::snprintf(head, sizeof head, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ agent-run[%d] %s: ",
                        utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                        long(now.tv_nsec / 1000000), int(::getpid()), level_label(level));
  std::string line(head, n > 0 ? size_t(n) : 0);
  line.append(message);
  line.push_back('\n');
  write_all(g_fd, line.data(), line.size());  // a log that cannot be written is dropped
}

void writef(int level, const char* format, ...) {
  if (level < g_level) return;
  char small[512];
  va_list args;
  va_start(args, format);
  va_list again;
  va_copy(again, args);
  int n = std::vsnprintf(small, sizeof small, format, args);
  va_end(args);
  if (n < 0) {
    va_end(again);
    return;
  }
  if (size_t(n) < sizeof small) {
    va_end(again);
    write(level, std::string_view(small, size_t(n)));
    return;
  }
  std::string big(size_t(n) + 1, '\0');
  std::vsnprintf(big.data(), big.size(), format, again);
  va_end(again);
  big.resize(size_t(n));
  write(level, big);
}

void write_exception(std::string_view message) {
  SavedError error;
  if (!error.fetch() || !enabled(kError)) {
    error.discard();
    if (enabled(kError)) write(kError, message);
    return;
  }
  std::string text(message);
  text += "\n";
  PyObject* value = error.value();
  PyObject* traceback = PyImport_ImportModule("traceback");
  PyObject* tb = value ? PyException_GetTraceback(value) : nullptr;
  PyObject* lines = traceback && value ? PyObject_CallMethod(traceback, "format_exception", "OOO",
                                                             reinterpret_cast<PyObject*>(Py_TYPE(value)), value,
                                                             tb ? tb : Py_None)
                                       : nullptr;
  PyObject* empty = lines ? PyUnicode_FromString("") : nullptr;
  PyObject* joined = empty ? PyUnicode_Join(empty, lines) : nullptr;
  const char* utf8 = joined ? PyUnicode_AsUTF8(joined) : nullptr;
  if (utf8 != nullptr) {
    std::string_view tb_text(utf8);
    while (!tb_text.empty() && (tb_text.back() == '\n' || tb_text.back() == ' ')) tb_text.remove_suffix(1);
    text += tb_text;
  } else {
    text += "(traceback unavailable)";
  }
  Py_XDECREF(joined);
  Py_XDECREF(empty);
  Py_XDECREF(lines);
  Py_XDECREF(tb);
  Py_XDECREF(traceback);
  PyErr_Clear();
  error.discard();
  write(kError, text);
}

namespace {

PyObject* py_configure_log(PyObject*, PyObject* args) {
  const char* level = "warning";
  const char* path = "";
  if (!PyArg_ParseTuple(args, "|ss:configure_log", &level, &path)) return nullptr;
  configure(level, path);
  Py_RETURN_NONE;
}

PyObject* py_log_enabled(PyObject*, PyObject* arg) {
  long level = PyLong_AsLong(arg);
  if (level == -1 && PyErr_Occurred()) return nullptr;
  return PyBool_FromLong(enabled(int(level)));
}

PyObject* py_log(PyObject*, PyObject* args) {
  int level;
  PyObject* text;
  if (!PyArg_ParseTuple(args, "iU:log", &level, &text)) return nullptr;
  if (!enabled(level)) Py_RETURN_NONE;
  // Text with lone surrogates has no UTF-8: it is written backslash-escaped.
  Py_ssize_t size;
  const char* message = PyUnicode_AsUTF8AndSize(text, &size);
  if (message != nullptr) {
    write(level, std::string_view(message, size_t(size)));
    Py_RETURN_NONE;
  }
  PyErr_Clear();
  PyObject* bytes = PyUnicode_AsEncodedString(text, "utf-8", "backslashreplace");
  if (bytes == nullptr) return nullptr;
  write(level, std::string_view(PyBytes_AS_STRING(bytes), size_t(PyBytes_GET_SIZE(bytes))));
  Py_DECREF(bytes);
  Py_RETURN_NONE;
}

PyMethodDef log_functions[] = {
    {"configure_log", py_configure_log, METH_VARARGS,
     "configure_log(level='warning', path=''): the agent log's level and file (stderr when empty)."},
    {"log_enabled", py_log_enabled, METH_O, "log_enabled(level) -> bool"},
    {"log", py_log, METH_VARARGS, "log(level, message): one line in the agent log."},
    {nullptr, nullptr, 0, nullptr},
};

}  // namespace

int add_log_functions(PyObject* module) {
  if (PyModule_AddFunctions(module, log_functions) < 0) return -1;
  return (PyModule_AddIntConstant(module, "LOG_DEBUG", kDebug) < 0 ||
          PyModule_AddIntConstant(module, "LOG_INFO", kInfo) < 0 ||
          PyModule_AddIntConstant(module, "LOG_WARNING", kWarning) < 0 ||
          PyModule_AddIntConstant(module, "LOG_ERROR", kError) < 0 ||
          PyModule_AddIntConstant(module, "LOG_OFF", kOff) < 0)
             ? -1
             : 0;
}

}  // namespace agent_run::boot::agent_log
