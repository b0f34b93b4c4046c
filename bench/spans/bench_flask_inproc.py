"""µs per request of the benchmark's Flask app called in process through a
WSGI server's call sequence (app(environ, start_response), iterate, close),
one process: run it bare and under agent-run, compare.

    python3 bench/spans/bench_flask_inproc.py
    build/stage/bin/agent-run python3 bench/spans/bench_flask_inproc.py
"""
import json
import os
import sys
import time

# gunicorn's module first, as in a gunicorn worker (the app is loaded after it).
try:
    import gunicorn.app.base as base
    from _agent_run.plugins import wsgi as _w  # noqa: F401
    traced = True
except ImportError:
    traced = False

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from flask_app import app  # noqa: E402


def environ():
    return {"REQUEST_METHOD": "GET", "PATH_INFO": "/items/7", "SCRIPT_NAME": "", "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http", "wsgi.input": None, "wsgi.errors": sys.stderr, "wsgi.multithread": False,
            "wsgi.multiprocess": True, "wsgi.run_once": False, "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1:8000", "HTTP_USER_AGENT": "bench"}


def main():
    wsgi_app = app
    if traced:
        # what gunicorn's patched BaseApplication.wsgi() hands its workers
        class A(base.BaseApplication):
            def load_config(self):
                pass

            def load(self):
                return app
        wsgi_app = A().wsgi()

    def sr(status, headers, exc_info=None):
        return None

    n = int(os.environ.get("BENCH_N", "3000"))
    best = None
    for _ in range(7):
        t0 = time.process_time()
        for _ in range(n):
            r = wsgi_app(environ(), sr)
            for _chunk in r:
                pass
            if hasattr(r, "close"):
                r.close()
        dt = (time.process_time() - t0) / n * 1e6
        best = dt if best is None else min(best, dt)
    print(json.dumps({"traced": traced, "us_per_request": round(best, 1)}))


main()
