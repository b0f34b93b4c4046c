"""Imports fakelib (from FAKELIB_DIR) and reports the versioned plugins' fate."""
import os
import sys

sys.path.insert(0, os.environ["FAKELIB_DIR"])
import fakelib  # noqa: E402

print(fakelib.answer())
report = os.environ.get("APP_REPORT")
if report:
    plug = sys.modules.get("_agent_run_user_plugin_0")
    inst = sys.modules.get("_agent_run.instrumentation")
    with open(report, "w") as f:
        f.write(repr({"applied": plug.APPLIED, "health": inst.health(),
                      "metadata_imported": "importlib.metadata" in sys.modules}))
