#pragma once
// A plugin's native state: whether it is active, its error count against the
// limit, and the call statistics of its operations. Every wrapper a plugin
// creates points at this state, so unplugging is one flag that all of them
// (including the ones the app still holds references to) see on their next
// call. Exposed to Python as _agent_run._hook.PluginState.
#include "compat.hpp"

#include <atomic>
#include <deque>
#include <string>
#include <unordered_map>

namespace agent_run::hook {

// Statistics of one operation ("sqlite3.Cursor.execute"), shared by every
// wrapper created for it. Updated under the GIL.
struct OpStats {
  std::string name;
  uint64_t calls = 0;     // calls that went through the plugin's code
  uint64_t timed = 0;     // calls whose duration was measured
  uint64_t total_ns = 0;
  uint64_t max_ns = 0;
  void add_duration(uint64_t ns) {
    ++timed;
    total_ns += ns;
    if (ns > max_ns) max_ns = ns;
  }
};

struct PluginCore {
  std::atomic<bool> active{true};
  std::string name;
  int64_t error_limit = 3;   // unplug when errors reach this; <= 0: never
  uint64_t errors = 0;
  std::string last_error;    // "where: Type: message"
  std::string unplug_reason;
  std::deque<OpStats> ops;   // deque: stable addresses for the wrappers' pointers
  std::unordered_map<std::string, OpStats*> ops_by_name;

  bool is_active() const { return active.load(std::memory_order_relaxed); }
  OpStats* op(const std::string& op_name);
};

struct PluginStateObject {
  PyObject_HEAD
  PluginCore* core;
  PyObject* on_error;  // Python callable(state, where, exc, unplugged_now) or null
  PyObject* info;      // free slot for the Python side (a dict), never read natively
};

extern PyTypeObject PluginStateType;

inline bool is_plugin_state(PyObject* o) { return PyObject_TypeCheck(o, &PluginStateType); }
inline PluginCore* core_of(PyObject* state) { return reinterpret_cast<PluginStateObject*>(state)->core; }

int add_plugin_state_type(PyObject* module);

}  // namespace agent_run::hook
