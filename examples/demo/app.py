"""The demo: a small Flask shop with a SQLite database, run under agent-run.

Nothing here knows about agent-run: it is instrumented from outside.
"""
import os
import sqlite3

from flask import Flask, abort, jsonify

DB = os.environ.get("DEMO_DB", "/tmp/agent-run-demo.sqlite3")
app = Flask(__name__)


def db():
    conn = sqlite3.connect(DB)
    conn.execute("create table if not exists items (id integer primary key, name text, price real)")
    return conn


@app.route("/items")
def items():
    with db() as conn:
        rows = conn.execute("select id, name, price from items order by id").fetchall()
    return jsonify([{"id": r[0], "name": r[1], "price": r[2]} for r in rows])


@app.route("/items/<int:item_id>")
def item(item_id):
    with db() as conn:
        row = conn.execute("select id, name, price from items where id = ?", (item_id,)).fetchone()
        conn.execute("select count(*) from items where price > 10")
    if row is None:
        abort(404)
    return jsonify({"id": row[0], "name": row[1], "price": row[2]})


@app.route("/buy/<int:item_id>")
def buy(item_id):
    if item_id == 13:
        raise RuntimeError("item 13 is cursed")
    with db() as conn:
        conn.execute("update items set price = price + 0.5 where id = %d" % item_id)
    return jsonify({"bought": item_id})


def seed():
    with db() as conn:
        conn.execute("delete from items")
        conn.executemany("insert into items (name, price) values (?, ?)",
                         [("apple", 1.5), ("book", 12.0), ("lamp", 30.0), ("pen", 2.25)])


if __name__ == "__main__":
    seed()
