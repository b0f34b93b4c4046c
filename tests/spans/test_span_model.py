"""The span model from Python: ids, parent links through the ContextVar
(threads and asyncio tasks each see their own current span), limits,
exception events, traceparent, WSGI helpers. Runs the span code compiled into
a test module over an in-memory sink (no collector needed)."""
import asyncio
import glob
import os
import sys
import threading
import time

import pytest

BUILD_DIR = os.environ.get("AGENT_RUN_BUILD_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", "build"))
_mods = glob.glob(os.path.join(BUILD_DIR, "tests", "spans", "pymod", "_spans_testmod*.so"))
if not _mods:
    pytest.skip("spans_testmod is not built in %s" % BUILD_DIR, allow_module_level=True)
sys.path.insert(0, os.path.dirname(_mods[0]))
import _spans_testmod as h  # noqa: E402


@pytest.fixture(autouse=True)
def drained():
    h.drain()
    yield


def by_name(spans):
    return {s["name"]: s for s in spans}


def test_root_and_child_ids():
    with h.start_span("root") as root:
        assert h.current_span() is root
        with h.start_span("child") as child:
            assert h.current_span() is child
        assert h.current_span() is root
    assert h.current_span() is None
    spans = by_name(h.drain())
    r, c = spans["root"], spans["child"]
    assert len(r["trace_id"]) == 32 and r["trace_id"] != "0" * 32
    assert r["parent_span_id"] == "0" * 16
    assert c["trace_id"] == r["trace_id"]
    assert c["parent_span_id"] == r["span_id"]
    assert c["span_id"] != r["span_id"]
    assert r["start"] <= c["start"] <= c["end"] <= r["end"]
    assert abs(r["start"] / 1e9 - time.time()) < 5
    assert r["kind"] == 1


def test_activation_in_a_fresh_context_leaves_no_span_behind():
    # The first activation in a context sets the current-span variable to
    # None before the span (so later ones replace a value instead of adding
    # and removing the key): what code sees must not change.
    import contextvars

    def run():
        with h.start_span("a") as a:
            copied = contextvars.copy_context()
        assert h.current_span() is None
        assert copied.run(h.current_span) is a  # a copy keeps what was current when it was made
        with h.start_span("b") as b:
            assert h.current_span() is b
            assert b.parent_span_id is None
        assert h.current_span() is None
        return a

    ctx = contextvars.Context()
    a = ctx.run(run)
    assert not any(isinstance(v, type(a)) for v in ctx.values())  # no ended span kept alive by the context
    assert h.current_span() is None


def test_traceparent_is_honoured_and_invalid_ignored():
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    s = h.start_span("in", h.SPAN_KIND_SERVER, traceparent=tp)
    assert s.trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert s.parent_span_id == "b7ad6b7169203331"
    assert s.traceparent == "00-0af7651916cd43dd8448eb211c80319c-%s-01" % s.span_id
    s.end()
    bad = h.start_span("in2", traceparent="00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01")
    assert bad.parent_span_id is None and bad.trace_id != "0af7651916cd43dd8448eb211c80319c"
    bad.end()
    assert h.parse_traceparent(tp) == ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", 1)
    assert h.parse_traceparent("garbage") is None


def test_threads_see_their_own_current_span():
    seen = {}
    barrier = threading.Barrier(2)

    def work(name):
        with h.start_span(name) as s:
            barrier.wait()
            seen[name] = (h.current_span() is s, s.parent_span_id)
            barrier.wait()

    with h.start_span("main"):
        ts = [threading.Thread(target=work, args=("t%d" % i,)) for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    # new threads start with an empty context: their spans are roots
    assert seen == {"t0": (True, None), "t1": (True, None)}


def test_asyncio_tasks_each_get_their_own_parent():
    async def handler(name):
        with h.start_span(name) as parent:
            await asyncio.sleep(0.01)  # both tasks are inside their span here
            assert h.current_span() is parent
            with h.start_span(name + ".child"):
                await asyncio.sleep(0.01)
            assert h.current_span() is parent

    async def main():
        await asyncio.gather(handler("a"), handler("b"))

    asyncio.run(main())
    spans = by_name(h.drain())
    assert spans["a.child"]["parent_span_id"] == spans["a"]["span_id"]
    assert spans["b.child"]["parent_span_id"] == spans["b"]["span_id"]
    assert spans["a"]["trace_id"] != spans["b"]["trace_id"]
    # they really overlapped
    assert spans["a"]["start"] < spans["b"]["end"] and spans["b"]["start"] < spans["a"]["end"]


def test_attributes_types_and_limits():
    h.configure_spans({"spans.max_attributes": 3, "spans.max_attribute_length": 5}, force=True)
    try:
        s = h.start_span("x", attributes={"a": "abcdefghij", "b": 7})
        s.set_attribute("c", 1.5)
        s.set_attribute("d", True)  # over the limit: dropped, counted
        s.set_attribute("a", "é" * 4)  # replacing does not count; cut on a character boundary
        s.set_attribute("n", None)
        s.end()
    finally:
        h.configure_spans({}, force=True)
    (sp,) = h.drain()
    assert sp["attributes"] == {"a": "éé", "b": 7, "c": 1.5}
    assert sp["dropped_attributes"] == 1


def test_exception_event_and_status():
    def boom():
        raise ValueError("bad thing")

    with pytest.raises(ValueError):
        with h.start_span("failing"):
            boom()
    (sp,) = h.drain()
    assert sp["status"] == 2
    assert sp["status_message"] == "ValueError: bad thing"
    (ev,) = sp["events"]
    assert ev["name"] == "exception"
    a = ev["attributes"]
    assert a["exception.type"] == "ValueError"
    assert a["exception.message"] == "bad thing"
    assert "in boom" in a["exception.stacktrace"] and a["exception.stacktrace"].endswith("ValueError: bad thing")


def test_end_is_idempotent_and_name_settable():
    s = h.start_span("GET")
    s.name = "GET /users/<id>"
    s.set_status(h.STATUS_OK)
    s.end()
    s.end()
    s.set_attribute("late", 1)
    spans = h.drain()
    assert len(spans) == 1 and spans[0]["name"] == "GET /users/<id>" and spans[0]["status"] == 1


def test_db_span_sanitized_raw_off():
    with h.start_span("req") as parent:
        t = h.monotonic_ns()
        h.db_span(t, "sqlite", "SELECT * FROM t WHERE name = 'bob'")
        h.configure_spans({"spans.db_statement": "raw"}, force=True)
        h.db_span(h.monotonic_ns(), "sqlite", "SELECT * FROM t WHERE name = 'bob'")
        h.configure_spans({"spans.db_statement": "off"}, force=True)
        h.db_span(h.monotonic_ns(), "sqlite", "insert into t values (1)", ValueError("x"))
        h.configure_spans({}, force=True)
    spans = h.drain()
    a, b, c, req = spans
    assert req["name"] == "req"
    for s in (a, b, c):
        assert s["parent_span_id"] == parent.span_id and s["kind"] == 3
        assert s["trace_id"] == req["trace_id"] and s["flags"] == 1
        assert s["attributes"]["db.system"] == "sqlite"
        assert req["start"] <= s["start"] <= s["end"] <= req["end"]
    assert len({a["span_id"], b["span_id"], c["span_id"], req["span_id"]}) == 4
    # A statement that returned is encoded natively, field by field (the fast path).
    assert a["name"] == "SELECT" and a["attributes"]["db.statement"] == "SELECT * FROM t WHERE name = ?"
    assert a["attributes"]["db.operation"] == "SELECT" and len(a["attributes"]) == 3
    assert a["status"] == 0 and a["status_message"] == "" and a["events"] == []
    assert b["attributes"]["db.statement"] == "SELECT * FROM t WHERE name = 'bob'"
    assert "db.statement" not in c["attributes"] and c["name"] == "INSERT" and c["status"] == 2


def test_db_span_without_a_current_span_is_a_root():
    h.db_span(h.monotonic_ns(), "sqlite", "select 1")
    h.db_span(h.monotonic_ns(), "sqlite", "select 1")
    a, b = h.drain()
    for s in (a, b):
        assert s["parent_span_id"] == "0" * 16 and s["trace_id"] != "0" * 32 and s["name"] == "SELECT"
    assert a["trace_id"] != b["trace_id"]


def test_configure_reads_settings_and_socket(monkeypatch):
    monkeypatch.setenv("AGENT_RUN_COLLECTOR_SOCKET", "/tmp/x.sock")
    assert h.configure_spans({"service_name": "svc", "spans.buffer_bytes": 4096,
                              "collector.flush_interval_ms": 50}, force=True) is True
    assert h.sink_options() == {"socket_path": "/tmp/x.sock", "service_name": "svc",
                                "buffer_bytes": 4096, "flush_interval_ms": 50}
    monkeypatch.delenv("AGENT_RUN_COLLECTOR_SOCKET")
    assert h.configure_spans({}, force=True) is False


def test_wsgi_start_finish():
    environ = {"REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": "/items", "wsgi.url_scheme": "http",
               "HTTP_HOST": "example.com:8080", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
               "HTTP_TRACEPARENT": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    s = h.wsgi_start(environ)
    assert h.current_span() is s
    h.wsgi_finish(s, "503 Service Unavailable")
    assert h.current_span() is None
    (sp,) = h.drain()
    assert sp["kind"] == 2 and sp["name"] == "POST" and sp["status"] == 2
    assert sp["trace_id"] == "0af7651916cd43dd8448eb211c80319c" and sp["parent_span_id"] == "b7ad6b7169203331"
    assert sp["attributes"] == {
        "http.request.method": "POST", "url.path": "/items", "url.scheme": "http",
        "server.address": "example.com", "server.port": 8080, "network.protocol.version": "1.1",
        "client.address": "127.0.0.1", "http.response.status_code": 503, "error.type": "503"}


def test_wsgi_server_span_attributes_seen_and_replaced_from_python():
    # The server span writes its attributes in wire form at the start; from
    # Python they are read, replaced and added to like any span's.
    environ = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/app", "PATH_INFO": "/items", "wsgi.url_scheme": "https",
               "HTTP_HOST": "example.com", "SERVER_PORT": "443", "SERVER_PROTOCOL": "HTTP/2",
               "HTTP_USER_AGENT": "curl/8"}
    s = h.wsgi_start(environ)
    assert s.attributes == {"http.request.method": "GET", "url.path": "/app/items", "url.scheme": "https",
                            "server.address": "example.com", "server.port": 443,
                            "network.protocol.version": "2", "user_agent.original": "curl/8"}
    s.set_attribute("url.path", "/changed")
    s.set_attribute("app.user", "u1")
    h.wsgi_finish(s, "200 OK")
    (sp,) = h.drain()
    assert sp["attribute_keys"] == ["http.request.method", "url.path", "url.scheme", "server.address", "server.port",
                                    "network.protocol.version", "user_agent.original", "app.user",
                                    "http.response.status_code"]
    assert sp["attributes"]["url.path"] == "/changed" and sp["attributes"]["http.response.status_code"] == 200


def test_wsgi_server_span_untouched_from_python_arrives_whole():
    environ = {"REQUEST_METHOD": "DELETE", "PATH_INFO": "/x", "wsgi.url_scheme": "http", "SERVER_NAME": "srv",
               "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.0", "REMOTE_ADDR": "10.0.0.1"}
    s = h.wsgi_start(environ)
    h.wsgi_finish(s, "500 Internal Server Error")
    (sp,) = h.drain()
    assert sp["attribute_keys"] == ["http.request.method", "url.path", "url.scheme", "server.address", "server.port",
                                    "network.protocol.version", "client.address", "http.response.status_code",
                                    "error.type"]
    assert sp["attributes"]["server.address"] == "srv" and sp["attributes"]["server.port"] == 8000
    assert sp["attributes"]["error.type"] == "500" and sp["status"] == 2 and sp["dropped_attributes"] == 0


def test_wsgi_server_span_limits():
    h.configure_spans({"spans.max_attributes": 3, "spans.max_attribute_length": 5}, force=True)
    try:
        s = h.wsgi_start({"REQUEST_METHOD": "POST", "PATH_INFO": "/items/long", "wsgi.url_scheme": "http",
                          "HTTP_HOST": "example.com:8080", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1"})
        h.wsgi_finish(s, "503 Service Unavailable")
    finally:
        h.configure_spans({}, force=True)
    (sp,) = h.drain()
    # The first three kept (values cut at 5 bytes), the other seven counted.
    assert sp["attributes"] == {"http.request.method": "POST", "url.path": "/item", "url.scheme": "http"}
    assert sp["dropped_attributes"] == 4 + 2


def test_fork_child_gets_fresh_ids():
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        s = h.start_span("child")
        os.write(w, s.trace_id.encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(r, 64).decode()
    mine = h.start_span("parent").trace_id
    assert child != mine
