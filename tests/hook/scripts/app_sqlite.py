"""An app using sqlite3 in the usual ways. stdout is the app's; what the
tests check goes to APP_REPORT."""
import os
import sys

import sqlite3
from sqlite3 import connect

conn = connect(":memory:")
conn.execute("create table t (id integer primary key, name text)")
conn.executemany("insert into t (name) values (?)", [("a",), ("b",), ("c",)])
conn.commit()
cur = conn.cursor()
cur.execute("select id, name from t order by id")
print(cur.fetchall())
print(cur.execute("select count(*) from t").fetchone())
for row in cur.execute("select name from t where id > ?", (1,)):
    print(row)
cur.executemany("update t set name = ? where id = ?", [("x", 1), ("y", 2)])
cur.executescript("create table u (v); insert into u values (42);")
print(conn.execute("select * from u").fetchall())
with conn as c:
    c.execute("insert into t (name) values ('z')")
print(conn.execute("select name from t order by id").fetchall())
try:
    conn.execute("select * from missing_table")
except sqlite3.OperationalError as e:
    print("error:", e)
try:
    with conn:
        conn.execute("insert into t (name) values ('rolled back')")
        raise ValueError("abort")
except ValueError:
    pass
conn.rollback()
print(conn.execute("select count(*) from t").fetchone())
conn.row_factory = sqlite3.Row
row = conn.execute("select id, name from t where id = 1").fetchone()
print(dict(row))
print(isinstance(conn, sqlite3.Connection), isinstance(conn.cursor(), sqlite3.Cursor))
print(conn.total_changes)
conn2 = sqlite3.dbapi2.connect(":memory:")
print(conn2.execute("select 1 + 1").fetchone())
# C code that checks the connection's type (a proxy would fail here).
copy = connect(":memory:")
conn.backup(copy)
print(copy.execute("select count(*) from t").fetchone()[0])
copy.close()
# A method that takes its defining class on 3.11+ (sqlite3's module state is
# found through it): left to inheritance, and working.
conn.create_function("twice", 1, lambda x: 2 * x)
print(tuple(conn.execute("select twice(21)").fetchone()))


def spans_ended():
    hook = sys.modules.get("_agent_run._hook")
    return hook.span_stats()["ended"] if hook is not None else 0


def spans_of(run):
    """The spans one statement call records (0 without the agent)."""
    before = spans_ended()
    run()
    return spans_ended() - before


# One span per statement, whichever object runs it.
per_statement = [
    spans_of(lambda: conn.execute("select 1").fetchall()),
    spans_of(lambda: conn.executemany("insert into t (name) values (?)", [("m1",), ("m2",)])),
    spans_of(lambda: conn.executescript("select 1; select 2;")),
    spans_of(lambda: conn.cursor().execute("select 2").fetchall()),
    spans_of(lambda: conn.execute("select 3").execute("select 4").fetchall()),
]


def signature_of(method):
    import inspect
    try:
        return str(inspect.signature(method))
    except (TypeError, ValueError):
        return "none"


plain = sqlite3.Connection(":memory:")
same_signatures = [signature_of(getattr(conn, n)) == signature_of(getattr(plain, n))
                   for n in ("cursor", "execute", "executemany", "executescript")]
plain_cursor = sqlite3.Cursor(plain)
same_signatures += [signature_of(getattr(cur, n)) == signature_of(getattr(plain_cursor, n))
                    for n in ("execute", "executemany", "executescript")]
plain.close()


def own_descriptor(obj, name):
    """True when obj's class has a method descriptor of its own for `name`,
    of that class: the specializing interpreter's fast paths (3.11+) take
    only such calls."""
    d = type(obj).__dict__.get(name)
    return d is not None and getattr(d, "__objclass__", None) is type(obj)


# The methods the traced classes inherit, as descriptors of their own.
own_descriptors = [own_descriptor(cur, n) for n in ("fetchone", "fetchmany", "fetchall", "close")]
own_descriptors += [own_descriptor(conn, n) for n in ("close", "interrupt", "iterdump")]


# Classes of the app's own stay the app's own.
class MyConnection(sqlite3.Connection):
    pass


class MyCursor(sqlite3.Cursor):
    pass


traced = connect(":memory:")  # used again after an unplug (report below)
mine = sqlite3.connect(":memory:", factory=MyConnection)
my_cursor = conn.cursor(MyCursor)
print(isinstance(mine, MyConnection), isinstance(my_cursor, MyCursor), mine.__class__.__name__)
per_statement_own = [
    spans_of(lambda: mine.execute("select 1").fetchall()),
    spans_of(lambda: my_cursor.execute("select 1").fetchall()),
]
print(mine.execute("select 5").fetchone(), tuple(my_cursor.execute("select 6").fetchone()))
mine.close()
conn.close()
conn2.close()

report = os.environ.get("APP_REPORT")
if report:
    info = {"connect_is_original": sqlite3.connect is sys.modules["_sqlite3"].connect,
            "conn_type": type(conn).__name__,
            "conn_is_a_subclass": type(conn).__mro__[1] is sqlite3.Connection,
            "cursor_is_a_subclass": type(cur).__mro__[1] is sqlite3.Cursor,
            "own_types": [type(mine).__name__, type(my_cursor).__name__],
            "spans_per_statement": per_statement, "spans_per_statement_own": per_statement_own,
            "same_signatures": same_signatures, "own_descriptors": own_descriptors,
            "modules": sorted(m for m in sys.modules if m.startswith("_agent_run"))}
    inst = sys.modules.get("_agent_run.instrumentation")
    if inst is None and "_agent_run_boot" in sys.modules:
        # The plugin machinery never started (nothing it instruments was imported).
        sys.path.insert(0, os.environ["AGENT_RUN_TEST_PKG"])
        import _agent_run.instrumentation as inst
    if inst is not None:
        info["health"] = inst.health()
        if os.environ.get("UNPLUG_AT_END") and inst._manager is not None:
            inst._manager.unplug(inst._manager.entries["sqlite3"], "unplugged by the test")
            info["after_unplug_connect_is_original"] = sqlite3.connect is sys.modules["_sqlite3"].connect
            info["after_unplug_dbapi2_is_original"] = (sqlite3.dbapi2.connect
                                                       is sys.modules["_sqlite3"].connect)
            # references and proxies the app still holds keep working, uninstrumented
            c3 = connect(":memory:")
            info["held_connect_result"] = type(c3).__name__
            info["held_connect_is_plain"] = type(c3) is sqlite3.Connection
            before, spans_before = inst.health()["sqlite3"]["calls"], spans_ended()
            c3.execute("select 1").fetchall()
            # a traced connection made before the unplug, and its cursors
            info["traced_after_unplug"] = [traced.execute("select 7").fetchone()[0],
                                           traced.cursor().execute("select 8").fetchone()[0],
                                           traced.executescript("select 9;").rowcount]
            info["calls_after_unplug"] = inst.health()["sqlite3"]["calls"] - before
            info["spans_after_unplug"] = spans_ended() - spans_before
    with open(report, "w") as f:
        f.write(repr(info))
