#pragma once
// A few freed objects of one GC type kept for reuse. The bound wrapper of
// conn.execute and the proxy of the cursor it returns are made on every
// statement and freed right after: from this list they cost neither an
// allocation nor a count in the cyclic GC's allocation counter (which also
// schedules its collections). Used under the GIL only. Objects in the list
// are untracked and hold no references.
#include "compat.hpp"

namespace agent_run::hook {

template <typename T, int N = 16>
class FreeList {
 public:
  // A new object of `type` (refcount 1, not yet tracked), or null with an error.
  T* take(PyTypeObject* type) {
    if (n_ > 0) return reinterpret_cast<T*>(PyObject_Init(items_[--n_], type));
    return PyObject_GC_New(T, type);
  }
  // Keeps `o` (untracked, its references released) or frees it.
  void give(PyObject* o) {
    if (n_ < N) items_[n_++] = o;
    else PyObject_GC_Del(o);
  }

 private:
  PyObject* items_[N];
  int n_ = 0;
};

}  // namespace agent_run::hook
