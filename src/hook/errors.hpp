#pragma once
// Containment of the agent's own errors. Whatever plugin code does wrong
// (a Python exception in a callback, a C++ exception in a native handler)
// ends here: it is counted against the plugin, handed to the plugin's
// on_error callback (which logs it, rate-limited), and cleared, so that it
// never reaches the app. When the count reaches the plugin's limit the
// plugin's flag flips to unplugged right here, natively, before any Python
// runs: from then on its wrappers are pass-through even if reverting the
// patches in Python fails.
#include "compat.hpp"

namespace agent_run::hook {

// Consumes the current Python error (which must be set) as an error of the
// plugin whose PluginState is `state`. `where` names the plugin code that
// failed ("before", "after", "extract", "post-import hook", ...).
// KeyboardInterrupt is not the plugin's fault: it is not counted, and is
// re-armed with PyErr_SetInterrupt so the app gets it at its next bytecode;
// inside a wrapper call (InterruptDeferral) only once the original has
// returned, so the original is never interrupted on the plugin's behalf.
// Returns with no error set.
void report_error(PyObject* state, const char* where);

// While one exists on this thread, KeyboardInterrupts swallowed from plugin
// code are re-armed only when the outermost one ends.
class InterruptDeferral {
 public:
  InterruptDeferral();
  ~InterruptDeferral();
  InterruptDeferral(const InterruptDeferral&) = delete;
  InterruptDeferral& operator=(const InterruptDeferral&) = delete;
};

// Same, for an error that is not a Python exception (a C++ exception).
void report_native_error(PyObject* state, const char* where, const char* what);

}  // namespace agent_run::hook
