"""The boot module's post-import hooks, used directly (no plugin machinery).
Prints one JSON report line."""
import json
import os
import sys

import _agent_run_boot as boot

report = {}
seen = []


def hook(module):
    seen.append((module.__name__, type(module.__loader__).__name__, type(module.__spec__.loader).__name__))


# A module that is not imported yet: the hook runs right after it executed.
assert "colorsys" not in sys.modules
boot.when_imported("colorsys", hook)
finder = sys.meta_path[0]
report["finder_first"] = type(finder).__name__
# Names without hooks pass through: one dict lookup, then None.
report["other_name"] = repr(finder.find_spec("string", None))
report["keyword_call"] = repr(finder.find_spec(fullname="string", path=None, target=None))
import colorsys  # noqa: E402

report["after_import"] = list(seen)
report["works"] = colorsys.rgb_to_hsv(1, 0, 0)[2]

# Executed again (reload): the hooks run again.
import importlib  # noqa: E402

importlib.reload(colorsys)
report["after_reload"] = len(seen)

# Already imported: the hook runs at once.
boot.when_imported("json", hook)
report["already_imported"] = seen[-1][0]

# Removed: nothing more, and the name passes the finder again.
boot.remove_import_hooks("colorsys", hook)
importlib.reload(colorsys)
report["after_remove"] = len(seen)
report["removed_passes"] = repr(finder.find_spec("colorsys", None))


# A failing hook never fails the import: the error handler gets it.
errors = []
boot.set_import_hook_error_handler(lambda name, h, exc: errors.append((name, type(exc).__name__, str(exc))))


def failing(module):
    raise ValueError("hook failed on purpose")


boot.when_imported("wave", failing)
import wave  # noqa: E402,F401

report["failing_import_ok"] = "wave" in sys.modules
report["errors"] = errors

# The finder can be taken off and put back.
boot.uninstall_import_finder()
report["uninstalled"] = finder not in sys.meta_path
boot.install_import_finder()
report["reinstalled"] = sys.meta_path[0] is finder
print(json.dumps(report))
sys.stdout.flush()
os._exit(0)
