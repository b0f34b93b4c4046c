"""The table of built-in plugins: one small module per library.

(name, module in this package, target modules, startup)

A plugin's module is imported only when the app imports one of its target
modules. `startup`, when not None, is fn(entry, settings, log) run at install
for the rare plugin that must act before any import (uWSGI's post-fork hook,
the span pipeline's configuration).
"""


def _wsgi_startup(entry, settings, log):
    from _agent_run.plugins import wsgi
    wsgi.install(settings, log)


BUILTIN = (
    ("sqlite3", "sqlite3_hooks", ("sqlite3",), None),
    ("wsgi", "wsgi", ("gunicorn.app.base", "flask.app"), _wsgi_startup),
)
