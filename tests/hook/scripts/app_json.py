"""An app using json; APP_REPORT (a file) gets what the tests check, so
stdout stays the app's own."""
import os
import sys

import json
from json import dumps  # a reference held from before any unplug

for i in range(10):
    print(dumps({"i": i}))
    print(json.dumps({"b": [i, 2]}, sort_keys=True))
    print(json.JSONEncoder(sort_keys=True).encode({"x": i}))
    try:
        json.loads("{bad")
    except ValueError as e:
        print("error:", type(e).__name__, e, type(e.__context__).__name__)
    print(json.loads('{"k": %d}' % i))

report = os.environ.get("APP_REPORT")
if report:
    info = {"loader": type(json.__loader__).__name__, "spec_loader": type(json.__spec__.loader).__name__}
    plug = sys.modules.get("_agent_run_user_plugin_0")
    if plug is not None and getattr(plug, "ORIGINALS", None):
        o = plug.ORIGINALS
        info["restored"] = {
            "dumps": json.__dict__["dumps"] is o["dumps"],
            "loads": json.__dict__["loads"] is o["loads"],
            "encode": json.JSONEncoder.__dict__["encode"] is o["encode"],
        }
    if plug is not None and hasattr(plug, "HOOK_RAN"):
        info["hook_ran"] = plug.HOOK_RAN
    inst = sys.modules.get("_agent_run.instrumentation")
    if inst is not None:
        info["health"] = inst.health()
    with open(report, "w") as f:
        f.write(repr(info))
