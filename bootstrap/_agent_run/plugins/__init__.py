"""The table of built-in plugins: one small module per library.

(name, module in this package, target modules, startup)

A plugin's module is imported only when the app imports one of its target
modules. `startup`, when not None, is fn(entry, settings, log) run when the
plugin machinery starts; its `needed(settings)` says whether the machinery
must start with the agent, before any import (uWSGI's post-fork hook).
"""
import sys


def under_uwsgi(settings=None):
    """uWSGI embeds Python and calls the app from C: the wsgi plugin must set
    its post-fork hook before any import."""
    exe = (sys.executable or "").rsplit("/", 1)[-1]
    return exe.startswith("uwsgi") or "uwsgi" in sys.modules


def _wsgi_startup(entry, settings, log):
    from _agent_run.plugins import wsgi
    wsgi.install(settings, log)


_wsgi_startup.needed = under_uwsgi


BUILTIN = (
    ("sqlite3", "sqlite3_hooks", ("sqlite3",), None),
    ("wsgi", "wsgi", ("gunicorn.app.base", "flask.app"), _wsgi_startup),
)
