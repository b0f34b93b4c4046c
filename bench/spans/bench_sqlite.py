"""Added cost of a traced sqlite3 execute of `select 1` over the bare call.

Run under agent-run so that spans go to the collector and the local store:
    build/stage/bin/agent-run /usr/bin/python3 bench/spans/bench_sqlite.py
(without agent-run it puts the staged bootstrap on sys.path itself and the
spans are dropped at the sink, which measures recording without export).

The traced call is the traced cursor class's own native execute
(src/hook/spans/sqlite_connection.cpp), which traces by the rules of the
sqlite3 plugin's statement wrapper: the span is made, sanitized (cached),
encoded and buffered natively; the flusher thread ships it.
Prints one JSON line: ns per call bare and traced, the difference, the ratio;
under agent-run also ns per `conn.execute(sql).fetchone()` (the lookups an
app does) bare, on a traced connection, and on a proxied one (a connection
class of the app's own), and ns per `cursor.fetchone()` (an inherited
method) on a bare and a traced cursor.
"""
import json
import os
import sqlite3
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("AGENT_RUN_BUILD_DIR") or os.path.join(HERE, "..", "..", "build")
try:
    from _agent_run import _hook
except ImportError:
    sys.path.insert(0, os.path.join(BUILD, "stage", "share", "agent-run", "bootstrap"))
    from _agent_run import _hook

N = int(os.environ.get("BENCH_N", "200000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))


def best_ns(loop):
    """The best of ROUNDS runs of loop() (which makes N calls), in ns per call."""
    best = None
    for _ in range(ROUNDS):
        t0 = time.perf_counter_ns()
        loop()
        dt = (time.perf_counter_ns() - t0) / N
        best = dt if best is None else min(best, dt)
    return best


def per_call_ns(fn):
    def loop():
        for _ in range(N):
            fn("select 1")
    return best_ns(loop)


def per_statement_ns(conn):
    """ns per `conn.execute(sql).fetchone()`, looked up as an app does."""
    def loop():
        for _ in range(N):
            conn.execute("select 1").fetchone()
    return best_ns(loop)


def interleaved_best(measure, objects):
    """measure(obj) for each of objects ({label: obj}, "bare" among them),
    interleaved twice: the best ns of each, and each one's added ns over bare."""
    best = {}
    for _ in range(2):
        for k, o in objects.items():
            ns = measure(o)
            best[k] = min(best.get(k, ns), ns)
    out = {k: round(v, 1) for k, v in best.items()}
    for k in objects:
        if k != "bare":
            out["added_ns_" + k] = round(best[k] - best["bare"], 1)
    return out


def fetchone_ns(cursor):
    """ns per `cursor.fetchone()` on an exhausted cursor: a method call and
    nothing else, as the interpreter makes it."""
    cursor.execute("select 1").fetchall()

    def loop():
        for _ in range(N):
            cursor.fetchone()
    return best_ns(loop)


def method_call_pattern():
    """An inherited method (fetchone) of a bare cursor and of a traced one,
    interleaved: the traced cursor class has its own descriptors of the
    methods it inherits, so that 3.11+ specializes the calls as on a bare
    cursor (without them: 13-17 ns more per call, half as much again)."""
    return interleaved_best(fetchone_ns, {"bare": sqlite3.Connection(":memory:").cursor(),
                                          "traced": sqlite3.connect(":memory:").cursor()})


class AppConnection(sqlite3.Connection):
    """A connection class of the app's own: the plugin proxies it."""


def app_pattern():
    """conn.execute(sql).fetchone() on a bare connection, on what connect()
    gives under agent-run (a traced subclass), and on a connection of a class
    of the app's own (proxied), interleaved."""
    return interleaved_best(per_statement_ns, {
        "bare": sqlite3.Connection(":memory:"), "traced": sqlite3.connect(":memory:"),
        "traced_proxied": sqlite3.connect(":memory:", factory=AppConnection)})


def main():
    has_collector = _hook.configure_spans({"service_name": "bench-sqlite"})
    # Bare: a connection made by the class itself (sqlite3.connect is what
    # the agent instruments), its real cursor's C method.
    bare = sqlite3.Connection(":memory:").cursor().execute
    if isinstance(sqlite3.connect, _hook.FunctionWrapper):
        # Under agent-run: exactly what the app gets (the sqlite3 plugin's
        # traced cursor, its native wrapper, the native SQL span handler).
        traced = sqlite3.connect(":memory:").cursor().execute
        how = "agent-run sqlite3 plugin"
    else:
        plugin = _hook.PluginState("bench_sqlite3")
        traced = _hook.wrap(sqlite3.Connection(":memory:").cursor().execute, plugin, "execute",
                            handler=_hook.sql_span_handler("sqlite"))
        how = "_hook.wrap + sql_span_handler (no agent-run: spans dropped at the sink)"
    with _hook.start_span("bench", _hook.SPAN_KIND_SERVER):
        traced("select 1")
    # interleave to share the machine's noise
    b1 = per_call_ns(bare)
    t1 = per_call_ns(traced)
    b2 = per_call_ns(bare)
    t2 = per_call_ns(traced)
    b, t = min(b1, b2), min(t1, t2)
    under_agent = isinstance(sqlite3.connect, _hook.FunctionWrapper)
    pattern = app_pattern() if under_agent else None
    method_call = method_call_pattern() if under_agent else None
    _hook.flush_spans(5000)
    stats = _hook.span_stats()
    print(json.dumps({
        "bench": "sqlite3 cursor.execute('select 1')", "traced_by": how, "python": sys.version.split()[0],
        "bare_ns": round(b, 1), "traced_ns": round(t, 1), "added_ns": round(t - b, 1),
        "ratio": round(t / b, 3), "goal_added_ns": 1000, "collector": has_collector,
        "execute_fetchone_ns": pattern, "fetchone_ns": method_call, "stats": stats}))


if __name__ == "__main__":
    main()
