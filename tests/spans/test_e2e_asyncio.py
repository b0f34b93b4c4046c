"""End to end through agent-run on every CPython 3.8-3.13 present: two asyncio
tasks running concurrently each get their own parent span; the sqlite3 spans
made inside each task are children of that task's span."""
import json
import os
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from conftest import AGENT_RUN, APPS, clean_env, python_params, run, store_documents  # noqa: E402
from test_e2e_prefork import attrs, flatten  # noqa: E402

if not os.path.exists(AGENT_RUN):
    pytest.skip("agent-run is not built (%s)" % AGENT_RUN, allow_module_level=True)


def store(home):
    return [s for doc in store_documents(home) for _, s in flatten(doc)]


@pytest.mark.parametrize("python", python_params())
def test_two_tasks_two_parents(python, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    r = run([AGENT_RUN, python, os.path.join(APPS, "spans_asyncio.py")], env=clean_env(home))
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    tasks = json.loads(r.stdout.decode().strip().splitlines()[-1])
    deadline = time.monotonic() + 15
    spans = store(home)
    while len(spans) < 8 and time.monotonic() < deadline:
        time.sleep(0.2)
        spans = store(home)
    by_id = {s["spanId"]: s for s in spans}
    assert tasks[0]["trace_id"] != tasks[1]["trace_id"]
    for t in tasks:
        parent = by_id[t["span_id"]]
        assert parent["name"] == t["name"] and parent["traceId"] == t["trace_id"]
        kids = [s for s in spans if s.get("parentSpanId") == t["span_id"]]
        assert len(kids) == 3 and all(k["traceId"] == t["trace_id"] for k in kids)
        assert all(attrs(k)["db.statement"] == "select ?" for k in kids)
        assert all(int(parent["startTimeUnixNano"]) <= int(k["startTimeUnixNano"]) for k in kids)
    # the two parents overlapped in time
    a, b = (by_id[t["span_id"]] for t in tasks)
    assert int(a["startTimeUnixNano"]) < int(b["endTimeUnixNano"])
    assert int(b["startTimeUnixNano"]) < int(a["endTimeUnixNano"])
