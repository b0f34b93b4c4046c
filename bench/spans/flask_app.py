"""The benchmark's app: Flask, one route, three sqlite3 queries per request."""
import os
import sqlite3

from flask import Flask

app = Flask(__name__)
_conn = {}


def db():
    c = _conn.get(os.getpid())
    if c is None:
        c = _conn[os.getpid()] = sqlite3.connect(":memory:", check_same_thread=False)
        c.execute("create table items (id integer primary key, name text)")
        c.executemany("insert into items (name) values (?)", [("n%d" % i,) for i in range(100)])
    return c


@app.route("/items/<int:item_id>")
def item(item_id):
    c = db()
    n = c.execute("select count(*) from items").fetchone()[0]
    name = c.execute("select name from items where id = ?", (item_id,)).fetchone()
    c.execute("select 1").fetchone()
    return {"count": n, "name": name[0] if name else None}


# An experiment, not the app: BENCH_IDLE_PTHREAD=1 (bench_flask_wrk.py
# --bare-variant) starts one idle pthread in every worker, bare. glibc then
# takes its multi-threaded paths (malloc's arena locks, cancellation checks):
# what a pthread flusher would cost the app, and why the agent's is not one.
if os.environ.get("BENCH_IDLE_PTHREAD"):
    import ctypes

    _libc = ctypes.CDLL(None)
    _libc.pthread_create(ctypes.byref(ctypes.c_ulong()), None, ctypes.cast(_libc.pause, ctypes.c_void_p), None)
