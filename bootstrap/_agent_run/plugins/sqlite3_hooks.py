"""sqlite3: connect(), and the connection's and cursor's execute,
executemany, executescript, commit, rollback.

sqlite3.Connection and sqlite3.Cursor are immutable C types: their methods
cannot be replaced. So connect() is wrapped and returns an ObjectProxy of the
connection whose overrides serve the instrumented methods; cursor() and the
connection's execute*() return proxied cursors, and a cursor method returning
the cursor itself (execute does) returns the proxy. isinstance(conn,
sqlite3.Connection) stays True. For now the wrappers record call counts and
durations (health snapshot); the span pipeline attaches its native handler
through span_handler() below.
"""
import sys

from _agent_run.plugin import Plugin

plugin = Plugin("sqlite3", modules=("sqlite3",),
                description="sqlite3 connections and cursors (stdlib)")

CURSOR_STATEMENTS = ("execute", "executemany", "executescript")
CONNECTION_STATEMENTS = ("execute", "executemany", "executescript")
CONNECTION_TRANSACTIONS = ("commit", "rollback")


def span_handler():
    """The native handler for statement calls: a CLIENT span per call
    (db.system, db.operation, db.statement per spans.db_statement), child of
    the current span, recorded natively (src/hook/spans/db_handler.cpp)."""
    from _agent_run import _hook, spans_setup
    spans_setup.configure()
    return _hook.sql_span_handler("sqlite")


@plugin.on_import("sqlite3")
def instrument(sqlite3, patcher):
    handler = span_handler()
    statement_options = {"timing": True}
    if handler is not None:
        statement_options["handler"] = handler
    cursor = patcher.overrides(sqlite3.Cursor, CURSOR_STATEMENTS, **statement_options)
    connection = patcher.overrides(sqlite3.Connection, CONNECTION_STATEMENTS, proxy=cursor, **statement_options)
    connection.update(patcher.overrides(sqlite3.Connection, CONNECTION_TRANSACTIONS, timing=True))
    connection.update(patcher.overrides(sqlite3.Connection, ("cursor",), proxy=cursor))
    original = sqlite3.__dict__.get("connect")
    patcher.wrap(sqlite3, "connect", "sqlite3.connect", timing=True, proxy=connection)
    # `from sqlite3.dbapi2 import connect` must be instrumented too.
    dbapi2 = sys.modules.get("sqlite3.dbapi2")
    if dbapi2 is not None and dbapi2.__dict__.get("connect") is original:
        patcher.wrap(dbapi2, "connect", "sqlite3.connect", timing=True, proxy=connection)
