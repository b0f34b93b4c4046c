"""An app that imports none of the instrumented libraries: the agent must not
have imported them either (nor anything heavy)."""
import os
import sys

# Libraries with plugins, and what the agent must not import at startup.
LIBRARIES = ["sqlite3", "_sqlite3", "json", "gunicorn", "flask", "_agent_run.plugins.sqlite3_hooks"]
HEAVY = LIBRARIES + ["inspect", "asyncio", "typing", "importlib.metadata", "wrapt", "traceback"]
after_install = set(getattr(sys, "_agent_run_test_modules_after_install", ()))
print("hello")
report = os.environ.get("APP_REPORT")
if report:
    with open(report, "w") as f:
        f.write(repr({"loaded": [m for m in LIBRARIES if m in sys.modules],
                      "heavy_now": [m for m in HEAVY if m in sys.modules],
                      "loaded_by_agent": [m for m in HEAVY if m in after_install],
                      "agent_loaded": "_agent_run_boot" in sys.modules and
                      sys.modules["_agent_run_boot"].settings() is not None,
                      "machinery_loaded": [m for m in sys.modules if m.startswith("_agent_run.")]}))
