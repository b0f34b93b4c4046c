"""agent-run's Python side: the plugin machinery and the plugins.

Nothing here is imported at startup: the agent's start is the native boot
module's (_agent_run_boot, src/boot). This package loads when the app
imports an instrumented library, and imports nothing the interpreter has not
already loaded but what it needs.
"""
