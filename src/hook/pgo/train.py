"""The training run of the hook module's profile-guided build
(cmake/HookPgo.cmake): what a traced request does, many times, in
an instrumented build of the module, so that the compiler lays out the code
a request runs contiguously and the rest (errors, set-up) apart.

    python3 -I -B train.py <dir holding the instrumented _agent_run/_hook*.so>
                           <the source bootstrap dir> <the staged bootstrap dir>

(the package's Python files come from the source tree, the boot module
from the staged bootstrap: the shipped hook module is built after this.)

The request is the benchmark's (bench/spans/flask_app.py) without Flask:
a WSGI app under the traced server wrapper, named after a route as Flask's
would be, running three sqlite3 statements on a connection of the sqlite3
plugin's traced classes, the spans buffered and sent by the sink's flusher
to a socket this script reads and discards (a sink without a collector
drops spans before buffering them, and the build would then lay out the
buffering as code no request runs). Never fails the build: a training that
cannot run leaves no profile, and the module is then built as without one.
"""
import os
import socket
import sys
import tempfile
import threading


class _Quiet:
    def warning(self, *args, **kwargs):
        pass


def discarding_collector(path):
    """A UNIX socket at path whose connections are read to their end."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)

    def drain(conn):
        with conn:
            while conn.recv(1 << 16):
                pass

    def accept():
        while True:
            conn, _ = server.accept()
            threading.Thread(target=drain, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()


def train(instrumented, source_bootstrap, staged_bootstrap):
    sys.path[:0] = [source_bootstrap, staged_bootstrap]
    with tempfile.TemporaryDirectory(prefix="agent-run-pgo-") as tmp:
        sock = os.path.join(tmp, "collector.sock")
        discarding_collector(sock)
        os.environ["AGENT_RUN_COLLECTOR_SOCKET"] = sock
        return requests(instrumented)


def requests(instrumented):
    import _agent_run
    # The instrumented _hook first; the rest of the package is the source tree's.
    _agent_run.__path__.insert(0, os.path.join(instrumented, "_agent_run"))
    from _agent_run import _hook, instrumentation, spans_setup
    if not os.path.dirname(_hook.__file__).startswith(os.path.abspath(instrumented)):
        raise RuntimeError("the instrumented module was not the one imported: %s" % _hook.__file__)
    spans_setup.configure({"service_name": "pgo-training"}, log=_Quiet())
    manager = instrumentation.start({"plugins.disabled": []})
    if manager is None:
        raise RuntimeError("the plugin machinery did not start")
    import sqlite3
    instrumentation.first_target_imported({}, sqlite3)

    conn = sqlite3.connect(":memory:", check_same_thread=False)
    conn.execute("create table items (id integer primary key, name text)")
    conn.executemany("insert into items (name) values (?)", [("n%d" % i,) for i in range(100)])

    class Rule:
        rule = "/items/<int:item_id>"

    class Request:
        url_rule = Rule()

    def app(environ, start_response):
        environ["werkzeug.request"] = Request()
        n = conn.execute("select count(*) from items").fetchone()[0]
        row = conn.execute("select name from items where id = ?", (7,)).fetchone()
        cur = conn.cursor()
        cur.execute("select 1").fetchone()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [('{"count": %d, "name": "%s"}' % (n, row[0])).encode()]

    plugin = _hook.PluginState("pgo-training")
    traced = _hook.traced_wsgi_app(app, plugin)

    def start_response(status, headers, exc_info=None):
        return None

    for i in range(20000):
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/items/7", "SCRIPT_NAME": "", "QUERY_STRING": "",
                   "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
                   "wsgi.url_scheme": "http", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8000",
                   "HTTP_USER_AGENT": "pgo"}
        if i % 4 == 0:
            environ["HTTP_TRACEPARENT"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        response = traced(environ, start_response)
        for _chunk in response:
            pass
        response.close()
    _hook.flush_spans(5000)
    stats = _hook.span_stats()
    if stats["ended"] < 20000 or stats.get("sent", 0) < stats["ended"] // 2:
        raise RuntimeError("the training recorded or sent too few spans: %r" % (stats,))
    return stats["ended"]


def main():
    if len(sys.argv) != 4:
        sys.stderr.write("usage: train.py <instrumented dir> <source bootstrap dir> <staged bootstrap dir>\n")
        return 2
    try:
        ended = train(*(os.path.abspath(a) for a in sys.argv[1:]))
        print("agent-run PGO training (Python %s): %d spans" % (sys.version.split()[0], ended))
    except Exception as e:  # the build goes on without a profile
        sys.stderr.write("agent-run PGO training (Python %s) failed, building without a profile: %r\n"
                         % (sys.version.split()[0], e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
