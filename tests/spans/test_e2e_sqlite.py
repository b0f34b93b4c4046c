"""End to end through agent-run on every CPython 3.8-3.13 present: each
sqlite3 statement, on a connection or on its cursor, is one CLIENT span,
child of the current span, with its sanitized statement; a failing one
reaches the app unchanged (type, message, traceback) and its span carries
the error and the exception event."""
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

STATEMENTS = [
    ("CREATE", "create table t (id integer primary key, name text);"),
    ("INSERT", "insert into t (name) values (?)"),
    ("SELECT", "select count(*) from t where name != ?"),
    ("UPDATE", "update t set name = ? where id = ?"),
    ("DELETE", "delete from t where id = ?;"),
    ("SELECT", "select * from missing_table where id = ?"),
    ("SELECT", "select name from t"),
]


@pytest.mark.parametrize("python", python_params())
def test_statement_spans_and_a_failing_statement(python, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    app = os.path.join(APPS, "spans_sqlite_statements.py")
    r = run([AGENT_RUN, python, app], env=clean_env(home))
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    out = json.loads(r.stdout.decode().strip().splitlines()[-1])
    # what the app sees is what it would see bare
    assert out["total"] == 2 and out["left"] == [["x"]], out
    failure = out["failure"]
    assert failure["type"] == "OperationalError" and failure["message"] == "no such table: missing_table", out
    with open(app) as f:
        line = next(i for i, text in enumerate(f, 1) if "missing_table" in text)
    assert failure["line"] == line and failure["context"], out  # raised at the app's line, no agent error chained

    deadline = time.monotonic() + 15
    kids = []
    while len(kids) < len(STATEMENTS) and time.monotonic() < deadline:
        time.sleep(0.2)
        spans = [s for doc in store_documents(home) for _, s in flatten(doc)]
        kids = sorted((s for s in spans if s.get("parentSpanId") == out["span_id"]),
                      key=lambda s: int(s["startTimeUnixNano"]))
    assert [(k["name"], attrs(k)["db.statement"]) for k in kids] == STATEMENTS, kids
    for k in kids:
        a = attrs(k)
        assert k["kind"] == 3 and k["traceId"] == out["trace_id"], k
        assert a["db.system"] == "sqlite" and a["db.operation"] == k["name"], k
        assert int(k["endTimeUnixNano"]) >= int(k["startTimeUnixNano"]), k
    failed = [k for k in kids if k.get("status", {}).get("code") == 2]
    assert failed == [kids[5]], kids
    (event,) = failed[0]["events"]
    e = attrs(event)
    assert event["name"] == "exception" and e["exception.type"].endswith("OperationalError"), event
    assert e["exception.message"] == "no such table: missing_table", event
    assert all(not k.get("events") for k in kids if k is not failed[0]), kids
