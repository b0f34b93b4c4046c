"""sqlite3 statements of every kind inside one span, on a connection and on
its cursor, one of them failing; prints the span's ids and what the app saw
of the failure as JSON."""
import json
import sqlite3
import sys
import traceback

from _agent_run import _hook

conn = sqlite3.connect(":memory:")
with _hook.start_span("work", _hook.SPAN_KIND_INTERNAL) as span:
    conn.executescript("create table t (id integer primary key, name text);")
    conn.executemany("insert into t (name) values (?)", [("a",), ("b",)])
    cur = conn.cursor()
    total = cur.execute("select count(*) from t where name != 'z'").fetchone()[0]
    cur.executemany("update t set name = ? where id = ?", [("x", 1)])
    cur.executescript("delete from t where id = 2;")
    try:
        cur.execute("select * from missing_table where id = 5")
    except sqlite3.OperationalError as e:
        failure = {"type": type(e).__name__, "message": str(e),
                   "line": traceback.extract_tb(e.__traceback__)[-1].lineno,
                   "context": e.__context__ is None}
    left = conn.execute("select name from t").fetchall()
sys.stdout.write(json.dumps({"trace_id": span.trace_id, "span_id": span.span_id, "total": total,
                             "left": left, "failure": failure}) + "\n")
