"""A Flask app for the span tests: a parameterized route with two queries,
and a route that raises."""
import os
import sqlite3

from flask import Flask

app = Flask(__name__)


@app.route("/users/<int:uid>")
def user(uid):
    c = sqlite3.connect(":memory:")
    c.execute("select ?", (uid,)).fetchone()
    c.execute("select 'x' || 2").fetchone()
    return str(os.getpid())


@app.route("/boom")
def boom():
    raise ValueError("boom on purpose")
