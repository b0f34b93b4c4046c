#pragma once
// A vectorcall's arguments with one more in front (self, or a cursor): what
// a bound call passes on. In the caller's spare slot when it lends one
// (PY_VECTORCALL_ARGUMENTS_OFFSET), put back afterwards; else copied onto
// the C stack (the heap past a few), with a spare slot of our own in front.
#include <cstring>
#include <memory>
#include <new>

#include "compat.hpp"

namespace agent_run::hook {

class PrependedArgs {
 public:
  PrependedArgs(PyObject* first, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargsf & PY_VECTORCALL_ARGUMENTS_OFFSET) {
      borrowed_ = const_cast<PyObject**>(args) - 1;
      saved_ = borrowed_[0];
      borrowed_[0] = first;
      args_ = borrowed_;
      nargsf_ = size_t(nargs + 1);
      return;
    }
    Py_ssize_t total = nargs + (kwnames != nullptr ? PyTuple_GET_SIZE(kwnames) : 0);
    PyObject** buf = small_;
    if (total + 2 > Py_ssize_t(sizeof(small_) / sizeof(small_[0]))) {
      big_.reset(new (std::nothrow) PyObject*[size_t(total) + 2]);
      if (!big_) {
        PyErr_NoMemory();
        return;
      }
      buf = big_.get();
    }
    buf[1] = first;
    if (total > 0) std::memcpy(buf + 2, args, size_t(total) * sizeof(PyObject*));
    args_ = buf + 1;
    nargsf_ = size_t(nargs + 1) | PY_VECTORCALL_ARGUMENTS_OFFSET;  // buf[0] is the callee's to use
  }
  ~PrependedArgs() {
    if (borrowed_ != nullptr) borrowed_[0] = saved_;
  }
  PrependedArgs(const PrependedArgs&) = delete;
  PrependedArgs& operator=(const PrependedArgs&) = delete;

  // False when the copy could not be allocated (MemoryError set).
  bool ok() const { return args_ != nullptr; }
  PyObject* const* args() const { return args_; }
  size_t nargsf() const { return nargsf_; }

 private:
  PyObject* small_[10];
  std::unique_ptr<PyObject*[]> big_;
  PyObject** borrowed_ = nullptr;
  PyObject* saved_ = nullptr;
  PyObject** args_ = nullptr;
  size_t nargsf_ = 0;
};

}  // namespace agent_run::hook
