"""A tiny check runner for the scripts: every check_* function of the
caller's module runs; the last stdout line is a JSON report
{"passed": [...], "failed": {name: traceback}}."""
import json
import os
import sys
import traceback


def setup_path():
    pkg = os.environ.get("AGENT_RUN_TEST_PKG")
    if pkg and pkg not in sys.path:
        sys.path.insert(0, pkg)


def run(namespace):
    passed, failed = [], {}
    for name in sorted(n for n in namespace if n.startswith("check_")):
        try:
            namespace[name]()
            passed.append(name)
        except BaseException:
            failed[name] = traceback.format_exc()
    sys.stdout.write(json.dumps({"passed": passed, "failed": failed}) + "\n")
    sys.stdout.flush()
