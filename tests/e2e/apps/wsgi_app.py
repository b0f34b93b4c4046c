"""A WSGI app for gunicorn and uWSGI: /agent reports whether the hook module
is loaded in the worker that serves it; /slow holds the worker for a moment
so that concurrent requests spread over all workers."""
import json
import os
import sys
import time


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/slow":
        time.sleep(0.3)
    body = json.dumps({
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "hook": "_agent_run_boot" in sys.modules,
        "boot": "_agent_run_boot" in sys.modules and sys.modules["_agent_run_boot"].settings() is not None,
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


application = app
