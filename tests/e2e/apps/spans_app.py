"""A plain WSGI app (no framework) for the span tests: each request runs
three sqlite3 queries and answers with the worker's PID."""
import os
import sqlite3
import time

_conn = None


def _db():
    global _conn
    if _conn is None or _conn[0] != os.getpid():
        c = sqlite3.connect(":memory:")
        c.execute("create table items (id integer primary key, name text)")
        c.execute("insert into items (name) values ('alpha'), ('beta')")
        _conn = (os.getpid(), c)
    return _conn[1]


def application(environ, start_response):
    db = _db()
    db.execute("select count(*) from items").fetchone()
    db.execute("select name from items where name = 'alpha'").fetchall()
    db.execute("select 1").fetchone()
    delay = environ.get("QUERY_STRING", "")
    if delay.startswith("sleep="):
        time.sleep(float(delay[6:]))
    if environ.get("PATH_INFO") == "/fail":
        raise RuntimeError("failing on purpose")
    if environ.get("PATH_INFO") == "/threads":
        body = _threads()
    else:
        body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def _threads():
    """This worker's threads by name, and whether glibc still takes its
    single-threaded paths (the agent's flusher must leave them so)."""
    import ctypes
    import json
    flag = ctypes.c_char.in_dll(ctypes.CDLL(None), "__libc_single_threaded").value
    names = []
    for tid in os.listdir("/proc/self/task"):
        with open("/proc/self/task/%s/comm" % tid) as f:
            names.append(f.read().strip())
    return json.dumps({"pid": os.getpid(), "libc_single_threaded": flag == b"\x01", "threads": sorted(names)}).encode()
