"""A Flask app for the span tests: a parameterized route with two queries,
a route that raises, and one that says whether Flask.wsgi_app was replaced."""
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


@app.route("/wsgi_app")
def wsgi_app_state():
    # Under gunicorn the server wrapper names the span: Flask.wsgi_app stays Flask's.
    return "replaced" if getattr(Flask.wsgi_app, "__agent_run_wsgi__", False) else "flask's own"
