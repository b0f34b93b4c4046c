"""sqlite3: connect(), and the connection's and cursor's execute,
executemany, executescript (a CLIENT span each), commit, rollback.

sqlite3.Connection and sqlite3.Cursor are immutable C types: their methods
cannot be replaced. But connect() takes a factory, and Connection.cursor()
too. So connect() is wrapped, and without a factory of the app's own it
makes a connection of a traced subclass: its cursors are of a traced
subclass of sqlite3.Cursor. The statement methods of both (native:
src/hook/spans/sqlite_connection.cpp) trace as the hook core's statement
wrappers made here would, by their rules, on a path of their own. The app gets real
connections and cursors: isinstance() and C type checks pass, and every call
the agent does not trace (fetchone, iteration, ...) runs exactly as bare, on
the interpreter's specialized paths.

A connection or cursor class of the app's own (connect(factory=...),
cursor(factory=...)) is not subclassed behind its back: the object comes
back in an ObjectProxy serving the traced methods, as long as the class does
not override them.
"""
import sys

from _agent_run.plugin import Plugin, looks_like

plugin = Plugin("sqlite3", modules=("sqlite3",),
                description="sqlite3 connections and cursors (stdlib)")

CURSOR_STATEMENTS = ("execute", "executemany", "executescript")
CONNECTION_STATEMENTS = ("execute", "executemany", "executescript")
CONNECTION_TRANSACTIONS = ("commit", "rollback")
# connect(database, timeout, detect_types, isolation_level, check_same_thread, factory, ...)
_FACTORY_POSITION = 5


def span_handler():
    """The native handler for statement calls: a CLIENT span per call
    (db.system, db.operation, db.statement per spans.db_statement), child of
    the current span, recorded natively (src/hook/spans/db_handler.cpp)."""
    from _agent_run import _hook, spans_setup
    spans_setup.configure()
    return _hook.sql_span_handler("sqlite")


def traced_class(base, methods):
    """A subclass of `base` that adds only `methods`: same name, module and
    doc, and no instance __dict__ (so its instances are laid out as base's)."""
    namespace = dict(methods)
    namespace.update(__slots__=(), __module__=base.__module__, __qualname__=base.__qualname__,
                     __doc__=base.__doc__)
    return type(base.__name__, (base,), namespace)


def connect_function(original, base, traced, proxy_overrides, state):
    """What sqlite3.connect becomes (inside the plugin's wrapper, which
    counts and times it): the traced connection class as the default factory."""
    from _agent_run._hook import ObjectProxy

    def connect(*args, **kwargs):
        if not state.active:
            return original(*args, **kwargs)
        if len(args) <= _FACTORY_POSITION and kwargs.get("factory", base) is base:
            kwargs["factory"] = traced
            return original(*args, **kwargs)
        # The app's own connection class: proxied, not subclassed.
        return ObjectProxy(original(*args, **kwargs), proxy_overrides)

    return looks_like(connect, original)


@plugin.on_import("sqlite3")
def instrument(sqlite3, patcher):
    from _agent_run import _hook
    handler = span_handler()
    statement_options = {"timing": True, "on_class": True}
    if handler is not None:
        statement_options["handler"] = handler
    # The wrappers serve both the traced classes and the proxies.
    cursor = patcher.overrides(sqlite3.Cursor, CURSOR_STATEMENTS, **statement_options)
    connection = patcher.overrides(sqlite3.Connection, CONNECTION_STATEMENTS, proxy=cursor, **statement_options)
    transactions = patcher.overrides(sqlite3.Connection, CONNECTION_TRANSACTIONS, timing=True, on_class=True)
    connection.update(transactions)
    connection.update(patcher.overrides(sqlite3.Connection, ("cursor",), proxy=cursor))

    traced_cursor = traced_class(sqlite3.Cursor, cursor)
    traced_connection = traced_class(sqlite3.Connection, transactions)
    _hook.install_sqlite_connection_methods(traced_connection, traced_cursor, cursor)

    original = sqlite3.__dict__.get("connect")
    connect = patcher.wrap_function(
        connect_function(original, sqlite3.Connection, traced_connection, connection, patcher.state),
        "sqlite3.connect", timing=True)
    patcher.replace(sqlite3, "connect", connect)
    # `from sqlite3.dbapi2 import connect` must be instrumented too.
    dbapi2 = sys.modules.get("sqlite3.dbapi2")
    if dbapi2 is not None and dbapi2.__dict__.get("connect") is original:
        patcher.replace(dbapi2, "connect", connect)
