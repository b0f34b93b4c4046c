#pragma once
// One place for the CPython API differences between 3.8 and 3.13 that the
// hook module meets, so the rest of the code reads the same on every version.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstdint>
#include <ctime>
#include <string_view>

#if PY_VERSION_HEX < 0x03080000
#error "agent-run's hook module needs CPython 3.8 or newer"
#endif

// Static type objects are declared with only their header initialized and
// filled in field by field at module init (readable, and immune to slot
// order changes between versions): the rest is zero, on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

// Thread-locals of the hook module are read on every wrapped call: the
// initial-exec model makes each a fixed offset from the thread pointer instead
// of a __tls_get_addr call (they take a few bytes of glibc's static TLS
// reserve, which is there for dlopen'ed modules like this one).
#define AR_INITIAL_EXEC_TLS __attribute__((tls_model("initial-exec")))

namespace agent_run::hook {

// Vectorcall was provisional in 3.8 (underscored names); public from 3.9.
#if PY_VERSION_HEX < 0x03090000
#define AR_TPFLAGS_HAVE_VECTORCALL _Py_TPFLAGS_HAVE_VECTORCALL
inline PyObject* vectorcall(PyObject* callable, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
  return _PyObject_Vectorcall(callable, args, nargsf, kwnames);
}
#else
#define AR_TPFLAGS_HAVE_VECTORCALL Py_TPFLAGS_HAVE_VECTORCALL
inline PyObject* vectorcall(PyObject* callable, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
  return PyObject_Vectorcall(callable, args, nargsf, kwnames);
}
#endif

inline PyObject* new_ref(PyObject* o) {
  Py_INCREF(o);
  return o;
}
inline PyObject* xnew_ref(PyObject* o) {
  Py_XINCREF(o);
  return o;
}

inline PyObject* call0(PyObject* callable) { return vectorcall(callable, nullptr, 0, nullptr); }
inline PyObject* call1(PyObject* callable, PyObject* a) {
  PyObject* args[2] = {nullptr, a};
  return vectorcall(callable, args + 1, 1 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
}

// Monotonic nanoseconds: CLOCK_MONOTONIC is served by the vDSO (~20 ns), and
// is what durations must be measured with (wall clock jumps).
inline uint64_t monotonic_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

// The error indicator, taken out and put back untouched. 3.12 keeps a single
// exception object; before that a (type, value, traceback) triple that may be
// unnormalized. Keeping the very same objects is what preserves identity,
// traceback and __context__ of an exception passing through a wrapper.
class SavedError {
 public:
  SavedError() = default;
  SavedError(const SavedError&) = delete;
  SavedError& operator=(const SavedError&) = delete;
  ~SavedError() { restore(); }

  // Takes the current error, if any. Returns whether there was one.
  bool fetch() {
#if PY_VERSION_HEX >= 0x030C0000
    value_ = PyErr_GetRaisedException();
    return value_ != nullptr;
#else
    PyErr_Fetch(&type_, &value_, &tb_);
    return type_ != nullptr;
#endif
  }
  bool empty() const {
#if PY_VERSION_HEX >= 0x030C0000
    return value_ == nullptr;
#else
    return type_ == nullptr;
#endif
  }
  // The exception object (normalized on first use; borrowed). Before 3.12 the
  // traceback is also attached to it, as it would be once caught.
  PyObject* value() {
#if PY_VERSION_HEX < 0x030C0000
    if (type_ != nullptr && !normalized_) {
      PyErr_NormalizeException(&type_, &value_, &tb_);
      if (value_ != nullptr && tb_ != nullptr && PyExceptionInstance_Check(value_)) {
        PyException_SetTraceback(value_, tb_);
      }
      normalized_ = true;
    }
#endif
    return value_;
  }
  bool matches(PyObject* exc_type) {
#if PY_VERSION_HEX >= 0x030C0000
    return value_ != nullptr && PyErr_GivenExceptionMatches(value_, exc_type);
#else
    return type_ != nullptr && PyErr_GivenExceptionMatches(type_, exc_type);
#endif
  }
  // Puts the error back as the current one (any current error is dropped).
  void restore() {
    if (empty()) return;
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(value_);
    value_ = nullptr;
#else
    PyErr_Restore(type_, value_, tb_);
    type_ = value_ = tb_ = nullptr;
#endif
  }
  void discard() {
#if PY_VERSION_HEX >= 0x030C0000
    Py_CLEAR(value_);
#else
    Py_CLEAR(type_);
    Py_CLEAR(value_);
    Py_CLEAR(tb_);
#endif
  }

 private:
  PyObject* value_ = nullptr;
#if PY_VERSION_HEX < 0x030C0000
  PyObject* type_ = nullptr;
  PyObject* tb_ = nullptr;
  bool normalized_ = false;
#endif
};

// PyType_Ready puts __doc__ = tp_doc (None when null) in the type's dict, so a
// __doc__ getset in tp_getset never wins; types that forward __doc__ to the
// wrapped object put their descriptor back over it after PyType_Ready.
inline int override_doc_getset(PyTypeObject* type, PyGetSetDef* defs) {
  for (PyGetSetDef* d = defs; d->name != nullptr; ++d) {
    if (std::string_view(d->name) != "__doc__") continue;
    PyObject* descr = PyDescr_NewGetSet(type, d);
    if (descr == nullptr) return -1;
    int rc = PyDict_SetItemString(type->tp_dict, "__doc__", descr);
    Py_DECREF(descr);
    PyType_Modified(type);
    return rc;
  }
  return 0;
}

}  // namespace agent_run::hook
