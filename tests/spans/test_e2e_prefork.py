"""End to end: a plain WSGI app with sqlite3 queries under gunicorn -w 4 and
uWSGI --master --processes 4 (without --enable-threads), launched by
agent-run, driven by a real HTTP client. The trace of every request must
reach the collector: exactly N server spans, each with its three sqlite
children, every worker's PID present. Then the same with OTLP/HTTP export to
the collector's node test receiver, which decodes the protobuf with
@opentelemetry/otlp-transformer's code (not ours)."""
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from conftest import AGENT_RUN, APPS, clean_env, free_port, stop_process, store_documents, wait_for_port  # noqa: E402

RECEIVER_DIR = os.path.join(HERE, "..", "collector", "otlp_receiver")
WORKERS = 4
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

if not os.path.exists(AGENT_RUN):
    pytest.skip("agent-run is not built (%s)" % AGENT_RUN, allow_module_level=True)


def have(module):
    return subprocess.run(["/usr/bin/python3", "-c", "import " + module], capture_output=True).returncode == 0


def server_cmd(server, port):
    if server == "gunicorn":
        if not have("gunicorn"):
            pytest.skip("gunicorn is not installed for /usr/bin/python3")
        return ["/usr/bin/python3", "-m", "gunicorn", "-w", str(WORKERS), "-b", "127.0.0.1:%d" % port,
                "--chdir", APPS, "spans_app:application"]
    if shutil.which("uwsgi") is None:
        pytest.skip("uwsgi is not installed")
    base = ["uwsgi", "--plugin", "python3", "--master", "--processes", str(WORKERS),
            "--http-socket", "127.0.0.1:%d" % port, "--die-on-term", "--need-app", "--disable-logging",
            "--chdir", APPS]
    if server == "uwsgi-file":
        return base + ["--wsgi-file", os.path.join(APPS, "spans_app.py")]
    return base + ["--module", "spans_app:application"]


def get(port, path, headers=None):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def drive(port):
    """Requests, 8 at a time, until every worker answered; returns [(status, pid)]."""
    out = [get(port, "/first", {"traceparent": TRACEPARENT})]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for _ in range(20):
            out += list(pool.map(lambda i: get(port, "/items/%d?sleep=0.03" % i), range(16)))
            if len({body for status, body in out}) >= WORKERS and len(out) >= 40:
                break
    return [(status, int(body)) for status, body in out]


def run(server, tmp_path, spans_fn, extra_env=None):
    """Starts the server under agent-run, drives it, waits until the spans
    of every request arrived (or 20 s), stops it; returns (results, spans)."""
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    env = clean_env(home, AGENT_RUN_SERVICE_NAME="spans-e2e", AGENT_RUN_LOG_LEVEL="info", **(extra_env or {}))
    log = open(str(tmp_path / "server.log"), "wb")
    proc = subprocess.Popen([AGENT_RUN] + server_cmd(server, port), env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc, timeout=60)
        results = drive(port)
        # Waiting while the workers live: the flusher ships without
        # --enable-threads, and no request is still being closed at the stop.
        wait_for(lambda: spans_fn(home), len(results))
    finally:
        stop_process(proc, timeout=30)
        log.close()
    time.sleep(0.5)  # anything extra (duplicates) sent at exit shows now
    return results, spans_fn(home)


def store_spans(home):
    return [x for doc in store_documents(home) for x in flatten(doc)]


def flatten(request):
    """[(resource attributes, span)] of one OTLP request (JSON store line or decoded protobuf)."""
    out = []
    for rs in request.get("resourceSpans", []):
        res = attrs(rs.get("resource", {}))
        for ss in rs.get("scopeSpans", []):
            for sp in ss.get("spans", []):
                out.append((res, sp))
    return out


def attrs(obj):
    d = {}
    for a in obj.get("attributes", []) or []:
        v = a.get("value", {})
        for k in ("stringValue", "intValue", "doubleValue", "boolValue"):
            if k in v:
                d[a["key"]] = int(v[k]) if k == "intValue" else v[k]
    return d


def server_span_count(spans):
    return sum(1 for _, s in spans if s.get("kind") == 2)


def wait_for(fn, n, timeout=20.0, count=server_span_count):
    """fn()'s spans once count() of them reaches n (or whatever is there at the deadline)."""
    deadline = time.monotonic() + timeout
    spans = fn()
    while time.monotonic() < deadline:
        if count(spans) >= n:
            return fn()
        time.sleep(0.2)
        spans = fn()
    return spans


def wait_for_span_names(home, n, timeout=15.0):
    """The names of the spans in home's local store, once there are n of them."""
    return [s["name"] for _, s in wait_for(lambda: store_spans(home), n, timeout, count=len)]


def check(spans, results, log_path):
    n = len(results)
    assert all(status == 200 for status, _ in results)
    pids = {pid for _, pid in results}
    assert len(pids) == WORKERS, "the client did not reach every worker: %r" % pids
    servers = [(res, s) for res, s in spans if s.get("kind") == 2]
    assert len(servers) == n, "%d server spans for %d requests; server log:\n%s" % (
        len(servers), n, open(log_path, errors="replace").read()[-3000:])
    children = {}
    for res, s in spans:
        if s.get("kind") == 3:
            children.setdefault(s.get("parentSpanId"), []).append((res, s))
    ids = set()
    for res, s in servers:
        assert len(s["traceId"]) == 32 and len(s["spanId"]) == 16
        ids.add(s["spanId"])
        a = attrs(s)
        assert a["http.request.method"] == "GET" and s["name"] == "GET"
        assert a["http.response.status_code"] == 200
        assert a["url.path"].startswith(("/items/", "/first"))
        assert a["server.address"] == "127.0.0.1"
        assert res["service.name"] == "spans-e2e"
        kids = children.get(s["spanId"], [])
        selects = [k for _, k in kids if k["name"] == "SELECT"]
        assert len(selects) == 3, "server span %s has %d SELECT children" % (s["spanId"], len(selects))
        for cres, k in kids:
            assert k["traceId"] == s["traceId"]
            assert cres["process.pid"] == res["process.pid"]
            assert attrs(k)["db.system"] == "sqlite"
            assert int(k["startTimeUnixNano"]) >= int(s["startTimeUnixNano"])
            assert int(k["endTimeUnixNano"]) <= int(s["endTimeUnixNano"])
        stmts = sorted(attrs(k)["db.statement"] for k in selects)
        assert stmts == ["select ?", "select count(*) from items", "select name from items where name = ?"]
    assert len(ids) == n
    assert {res["process.pid"] for res, _ in servers} == pids
    first = [s for _, s in servers if attrs(s)["url.path"] == "/first"]
    assert len(first) == 1
    assert first[0]["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert first[0]["parentSpanId"] == "00f067aa0ba902b7"


SERVERS = ["gunicorn", "uwsgi-file", "uwsgi-module"]


@pytest.mark.parametrize("server", SERVERS)
def test_local_store(server, tmp_path):
    results, spans = run(server, tmp_path, store_spans)
    check(spans, results, str(tmp_path / "server.log"))


class Receiver(object):
    def __init__(self, tmp):
        if shutil.which("node") is None:
            pytest.skip("node is not installed")
        if not os.path.isdir(os.path.join(RECEIVER_DIR, "node_modules", "@opentelemetry", "otlp-transformer")):
            pytest.skip("the OTLP test receiver's node modules are missing (npm ci in tests/collector/otlp_receiver)")
        self.out = os.path.join(str(tmp), "received.jsonl")
        port_file = os.path.join(str(tmp), "receiver.port")
        self.proc = subprocess.Popen(["node", os.path.join(RECEIVER_DIR, "receiver.js"), "--out=" + self.out,
                                      "--port-file=" + port_file], stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not os.path.exists(port_file):
            assert time.monotonic() < deadline and self.proc.poll() is None, "receiver did not start"
            time.sleep(0.05)
        self.port = int(open(port_file).read())

    def spans(self):
        out = []
        if os.path.exists(self.out):
            with open(self.out) as f:
                for line in f:
                    if not line.endswith("\n"):
                        break  # the receiver is still writing it: read it on the next poll
                    d = json.loads(line)
                    assert d.get("status") == 200, d
                    out += flatten(d)
        return out

    def stop(self):
        stop_process(self.proc)


@pytest.mark.parametrize("server", ["gunicorn", "uwsgi-file"])
def test_otlp_export(server, tmp_path):
    rec = Receiver(tmp_path)
    try:
        results, spans = run(server, tmp_path, lambda home: rec.spans(), {
            "AGENT_RUN_EXPORTER_TYPE": "otlp",
            "AGENT_RUN_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d/v1/traces" % rec.port})
        time.sleep(1.0)
        spans = rec.spans()
    finally:
        rec.stop()
    check(spans, results, str(tmp_path / "server.log"))


@pytest.mark.parametrize("server", ["gunicorn", "uwsgi"])
def test_flask_route_and_exception(server, tmp_path):
    if not have("flask"):
        pytest.skip("flask is not installed for /usr/bin/python3")
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    if server == "gunicorn":
        cmd = ["/usr/bin/python3", "-m", "gunicorn", "-w", "2", "-b", "127.0.0.1:%d" % port, "--chdir", APPS,
               "spans_flask:app"]
    else:
        if shutil.which("uwsgi") is None:
            pytest.skip("uwsgi is not installed")
        cmd = ["uwsgi", "--plugin", "python3", "--master", "--processes", "2", "--http-socket",
               "127.0.0.1:%d" % port, "--die-on-term", "--need-app", "--disable-logging", "--chdir", APPS,
               "--wsgi-file", os.path.join(APPS, "spans_flask.py"), "--callable", "app"]
    log = open(str(tmp_path / "server.log"), "wb")
    proc = subprocess.Popen([AGENT_RUN] + cmd, env=clean_env(home, AGENT_RUN_LOG_LEVEL="info"), stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc, timeout=60)
        assert get(port, "/users/42")[0] == 200
        assert get(port, "/boom")[0] == 500
        # gunicorn: the server wrapper names the route; uWSGI keeps Flask's
        # own wrapper (an app mounted some other way would go untraced).
        assert get(port, "/wsgi_app") == (200, b"flask's own" if server == "gunicorn" else b"replaced")
        # The flusher ships them while the workers live (no --enable-threads
        # needed). Stopping right away could kill a worker between sending the
        # response and closing it, before its server span ends (uWSGI's
        # --die-on-term stop does not wait for requests in flight).
        spans = wait_for(lambda: store_spans(home), 2)
    finally:
        stop_process(proc, timeout=30)
        log.close()
    servers = {attrs(s)["url.path"]: s for _, s in spans if s.get("kind") == 2}
    assert set(servers) == {"/users/42", "/boom", "/wsgi_app"}
    assert servers["/wsgi_app"]["name"] == "GET /wsgi_app"
    ok, bad = servers["/users/42"], servers["/boom"]
    assert ok["name"] == "GET /users/<int:uid>" and attrs(ok)["http.route"] == "/users/<int:uid>"
    kids = [s for _, s in spans if s.get("parentSpanId") == ok["spanId"]]
    assert sorted(attrs(k)["db.statement"] for k in kids) == ["select ?", "select ? || ?"]
    # Flask turns the exception into a 500 response: an error span with the exception event
    assert bad["name"] == "GET /boom" and attrs(bad)["http.response.status_code"] == 500
    assert bad["status"].get("code") == 2
    events = bad.get("events", [])
    assert any(e["name"] == "exception" and attrs(e)["exception.type"] == "ValueError" for e in events), bad


@pytest.mark.parametrize("server", ["gunicorn", "uwsgi-file"])
def test_flusher_keeps_glibc_single_threaded(server, tmp_path):
    """The flusher runs in every worker that records (a thread the kernel
    knows of), yet glibc in the worker still takes its single-threaded paths
    (malloc without arena locks): it is not a pthread."""
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    log = open(str(tmp_path / "server.log"), "wb")
    proc = subprocess.Popen([AGENT_RUN] + server_cmd(server, port), env=clean_env(home), stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc, timeout=60)
        seen = {}
        # Its sqlite3 queries run before the app answers: the worker's
        # flusher has started by then. Concurrent slow requests reach
        # several workers (sequential ones may all go to one).
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for _ in range(20):
                for status, body in pool.map(lambda i: get(port, "/threads?sleep=0.03"), range(16)):
                    assert status == 200
                    d = json.loads(body)
                    seen[d["pid"]] = d
                if len(seen) >= 2:
                    break
        wait_for(lambda: store_spans(home), 2)
    finally:
        stop_process(proc, timeout=30)
        log.close()
    assert len(seen) >= 2, "the client reached one worker only"
    for pid, d in seen.items():
        assert "agent-run-flush" in d["threads"], d
        assert d["libc_single_threaded"], d
    paths = [attrs(s)["url.path"] for _, s in store_spans(home) if s.get("kind") == 2]
    assert "/threads" in paths, "the flusher sent nothing: %r" % paths
