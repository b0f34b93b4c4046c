"""The WSGI plugin in process, over the span code compiled into a test module
with an in-memory sink: server spans for a plain WSGI app, the span ending at
close() of the response iterable, exceptions, traceparent, Flask's http.route,
gunicorn's BaseApplication.wsgi patch, and in-place instrumentation (the uWSGI
path) of functions and instances."""
import glob
import os
import shutil
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD_DIR = os.environ.get("AGENT_RUN_BUILD_DIR") or os.path.join(ROOT, "build")
_mods = glob.glob(os.path.join(BUILD_DIR, "tests", "spans", "pymod", "_spans_testmod*.so"))
if not _mods:
    pytest.skip("spans_testmod is not built in %s" % BUILD_DIR, allow_module_level=True)


@pytest.fixture(scope="module")
def pkg(tmp_path_factory):
    """A private _agent_run package: the bootstrap's Python files, with
    _agent_run._hook standing for the span test module."""
    d = tmp_path_factory.mktemp("pkg")
    dst = d / "_agent_run"
    shutil.copytree(os.path.join(ROOT, "bootstrap", "_agent_run"), str(dst),
                    ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    (dst / "plugins").mkdir(exist_ok=True)
    if not (dst / "plugins" / "__init__.py").exists():
        (dst / "plugins" / "__init__.py").write_text("")
    shutil.copy(_mods[0], str(d))
    # The boot module (log, settings, plugin table) the Python side imports.
    for so in glob.glob(os.path.join(BUILD_DIR, "stage", "share", "agent-run", "bootstrap", "_agent_run_boot*.so")):
        shutil.copy(so, str(d))
    (dst / "_hook.py").write_text("from _spans_testmod import *\n")
    sys.path.insert(0, str(d))
    for m in [m for m in sys.modules if m == "_agent_run" or m.startswith("_agent_run.")]:
        del sys.modules[m]
    import _agent_run.plugins.wsgi as wsgi
    import _spans_testmod as h
    yield wsgi, h
    sys.path.remove(str(d))


def call(app, path="/x", method="GET", headers=None, close=True):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "SCRIPT_NAME": "", "wsgi.url_scheme": "http",
               "SERVER_NAME": "localhost", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
               "REMOTE_ADDR": "127.0.0.1"}
    environ.update(headers or {})
    got = {}

    def start_response(status, headers, exc_info=None):
        got["status"] = status
        return lambda data: None

    result = app(environ, start_response)
    body = b"".join(result)
    if close and hasattr(result, "close"):
        result.close()
    return got.get("status"), body, result


def simple_app(environ, start_response):
    from _agent_run import _hook
    s = _hook.start_span("work")
    s.end()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def test_server_span_with_child_ends_at_close(pkg):
    wsgi, h = pkg
    h.drain()
    app = wsgi.wrap_wsgi_app(simple_app)
    assert wsgi.wrap_wsgi_app(app) is app
    status, body, result = call(app, close=False)
    assert status == "200 OK" and body == b"ok"
    spans = h.drain()
    assert [s["name"] for s in spans] == ["work"]  # the server span is still open
    result.close()
    (server,) = h.drain()
    work = spans[0]
    assert server["kind"] == 2 and server["name"] == "GET"
    assert work["parent_span_id"] == server["span_id"] and work["trace_id"] == server["trace_id"]
    assert server["attributes"]["http.response.status_code"] == 200
    assert server["attributes"]["url.path"] == "/x"
    assert server["status"] == 0
    assert h.current_span() is None


def test_incoming_traceparent(pkg):
    wsgi, h = pkg
    h.drain()
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    call(wsgi.wrap_wsgi_app(simple_app), headers={"HTTP_TRACEPARENT": tp})
    work, server = h.drain()
    assert server["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert server["parent_span_id"] == "00f067aa0ba902b7"
    assert work["parent_span_id"] == server["span_id"]


def test_exception_in_app_and_in_iteration(pkg):
    wsgi, h = pkg
    h.drain()

    def failing(environ, start_response):
        raise KeyError("nope")

    with pytest.raises(KeyError):
        call(wsgi.wrap_wsgi_app(failing))
    (s,) = h.drain()
    assert s["status"] == 2 and s["events"][0]["attributes"]["exception.type"] == "KeyError"
    assert s["attributes"]["error.type"] == "KeyError"
    assert h.current_span() is None

    def gen_app(environ, start_response):
        start_response("200 OK", [])
        yield b"a"
        raise RuntimeError("mid-stream")

    app = wsgi.wrap_wsgi_app(gen_app)
    result = app({"REQUEST_METHOD": "GET", "PATH_INFO": "/g"}, lambda *a: None)
    with pytest.raises(RuntimeError):
        list(result)
    result.close()
    (s,) = h.drain()
    assert s["status"] == 2 and s["events"][0]["attributes"]["exception.message"] == "mid-stream"


def test_a_failed_stream_does_not_leak_the_servers_frame(pkg):
    """A server frame that holds the response and the exception raised while
    iterating it (as gunicorn's handle_request does) makes a cycle through the
    response object: once closed, the response lets go of the exception."""
    import gc
    import weakref
    wsgi, h = pkg

    class Marker(object):
        pass

    def gen_app(environ, start_response):
        start_response("200 OK", [])
        yield b"a"
        raise RuntimeError("mid-stream")

    app = wsgi.wrap_wsgi_app(gen_app)

    def serve():
        marker = Marker()
        respiter = app({"REQUEST_METHOD": "GET", "PATH_INFO": "/g"}, lambda *a: None)
        try:
            for _ in respiter:
                pass
        except RuntimeError as e:
            caught = e  # the traceback holds this frame: marker, respiter
        finally:
            respiter.close()
        return weakref.ref(marker), caught

    ref, caught = serve()
    del caught
    gc.collect()
    h.drain()
    assert ref() is None, "the server's frame was kept alive by the response's exception"


def test_5xx_is_an_error(pkg):
    wsgi, h = pkg
    h.drain()

    def app(environ, start_response):
        start_response("502 Bad Gateway", [])
        return [b""]

    call(wsgi.wrap_wsgi_app(app))
    (s,) = h.drain()
    assert s["status"] == 2 and s["attributes"]["http.response.status_code"] == 502


def test_flask_route(pkg):
    wsgi, h = pkg
    flask = pytest.importorskip("flask")
    import flask.app
    assert wsgi.patch_flask(flask.app)
    assert not wsgi.patch_flask(flask.app)  # idempotent
    app = flask.Flask("t")

    @app.route("/users/<int:uid>")
    def user(uid):
        return "u%d" % uid

    h.drain()
    # Flask alone (no server wrapper): Flask.wsgi_app makes the server span.
    client = app.test_client()
    resp = client.get("/users/7")
    assert resp.data == b"u7"
    assert h.drain() == []  # open until the server closes the response
    resp.close()
    (s,) = h.drain()
    assert s["name"] == "GET /users/<int:uid>" and s["attributes"]["http.route"] == "/users/<int:uid>"
    assert s["attributes"]["url.path"] == "/users/7"
    # Under a server wrapper: one span only.
    status, body, _ = call(wsgi.wrap_wsgi_app(app), path="/users/8")
    assert body == b"u8"
    (s,) = h.drain()
    assert s["name"] == "GET /users/<int:uid>"
    # No route matched: the span keeps the method as its name.
    status, body, _ = call(wsgi.wrap_wsgi_app(app), path="/nowhere")
    assert status.startswith("404")
    (s,) = h.drain()
    assert s["name"] == "GET" and "http.route" not in s["attributes"] and not s["events"]
    # Middleware over the bound method (app.wsgi_app = Middleware(app.wsgi_app)).
    inner = app.wsgi_app
    app.wsgi_app = lambda environ, start_response: inner(environ, start_response)
    try:
        assert call(wsgi.wrap_wsgi_app(app), path="/users/9")[1] == b"u9"
    finally:
        del app.wsgi_app
    (s,) = h.drain()
    assert s["name"] == "GET /users/<int:uid>"
    # Middleware that hands Flask a start_response of its own: Flask's wrapper
    # names the route, then the server's start_response does again; the span
    # keeps one http.route.
    app.wsgi_app = lambda environ, start_response: inner(
        environ, lambda status, headers, exc_info=None: start_response(status, headers, exc_info))
    try:
        assert call(wsgi.wrap_wsgi_app(app), path="/users/10")[1] == b"u10"
    finally:
        del app.wsgi_app
    (s,) = h.drain()
    assert s["name"] == "GET /users/<int:uid>" and s["attributes"]["http.route"] == "/users/<int:uid>"
    assert s["attribute_keys"].count("http.route") == 1
    assert s["attribute_keys"].count("http.response.status_code") == 1


def test_flask_route_names_a_renamed_span_after_its_method(pkg):
    """The route names the span "<method> <route>" from the method it started
    with; a span the app renamed meanwhile is named from the environ's method
    (not from the first letters of its new name)."""
    wsgi, h = pkg
    flask = pytest.importorskip("flask")
    import flask.app
    wsgi.patch_flask(flask.app)
    app = flask.Flask("t2")

    @app.route("/orders/<int:oid>", methods=["PATCH"])
    def order(oid):
        h.current_span().name = "renamed-by-the-app"
        return "o%d" % oid

    @app.route("/fail", methods=["DELETE"])
    def fail():
        return "no", 503

    h.drain()
    assert call(wsgi.wrap_wsgi_app(app), path="/orders/3", method="PATCH")[1] == b"o3"
    (s,) = h.drain()
    assert s["name"] == "PATCH /orders/<int:oid>" and s["attributes"]["http.route"] == "/orders/<int:oid>"
    call(wsgi.wrap_wsgi_app(app), path="/fail", method="DELETE")
    (s,) = h.drain()
    assert s["name"] == "DELETE /fail" and s["status"] == 2
    assert s["attributes"]["http.response.status_code"] == 503 and s["attributes"]["error.type"] == "503"
    for key in ("http.route", "http.response.status_code", "error.type", "http.request.method"):
        assert s["attribute_keys"].count(key) == 1, key


def test_flask_exceptions_of_views_and_before_request(pkg):
    wsgi, h = pkg
    flask = pytest.importorskip("flask")
    import flask.app
    wsgi.patch_flask(flask.app)
    app = flask.Flask("t2")
    state = {"fail": False}

    @app.before_request
    def check():
        if state["fail"]:
            raise LookupError("before_request failed")

    @app.route("/boom/<name>")
    def boom(name):
        raise ValueError("view failed " + name)

    @app.route("/missing")
    def missing():
        flask.abort(404)

    h.drain()
    status, _, _ = call(wsgi.wrap_wsgi_app(app), path="/boom/x")
    assert status.startswith("500")
    (s,) = h.drain()
    assert s["name"] == "GET /boom/<name>" and s["status"] == 2
    (ev,) = s["events"]
    assert ev["attributes"]["exception.type"] == "ValueError"
    assert ev["attributes"]["exception.message"] == "view failed x"
    # An exception in a before_request function is recorded too.
    state["fail"] = True
    status, _, _ = call(wsgi.wrap_wsgi_app(app), path="/boom/y")
    assert status.startswith("500")
    (s,) = h.drain()
    assert s["name"] == "GET /boom/<name>" and s["status"] == 2
    assert [e["attributes"]["exception.type"] for e in s["events"]] == ["LookupError"]
    state["fail"] = False
    # HTTP errors are responses, not exceptions of the app.
    status, _, _ = call(wsgi.wrap_wsgi_app(app), path="/missing")
    assert status.startswith("404")
    (s,) = h.drain()
    assert s["status"] == 0 and not s["events"] and s["attributes"]["http.response.status_code"] == 404


def test_native_callables_contain_their_errors_and_unplug(pkg):
    """An error of the agent inside a native traced call (here: the Flask
    request's url_rule raising) is counted against the plugin, never reaches
    the app; at the plugin's error limit every native callable forwards."""
    wsgi, h = pkg
    errors = []
    state = h.PluginState("wsgi-test", 2, lambda st, where, exc, unplugged: errors.append((where, unplugged)))

    class BadRequest(object):
        @property
        def url_rule(self):
            raise RuntimeError("agent-side failure")

    def orig_wsgi_app(self, environ, start_response):
        environ["werkzeug.request"] = BadRequest()
        start_response("200 OK", [])
        return [b"fine"]

    fw = h.traced_flask_wsgi_app(orig_wsgi_app, state)
    traced = h.traced_wsgi_app(simple_app, state)
    h.drain()
    assert call(lambda e, s: fw(object(), e, s))[1] == b"fine"
    (server,) = h.drain()
    assert server["kind"] == 2 and server["name"] == "GET"
    assert errors == [("flask route", False)]
    assert call(lambda e, s: fw(object(), e, s))[1] == b"fine"
    assert errors[-1] == ("flask route", True) and not state.active
    h.drain()
    # Unplugged: both callables are plain calls of the originals.
    assert call(lambda e, s: fw(object(), e, s))[1] == b"fine"
    assert call(traced)[1] == b"ok"
    assert [s["name"] for s in h.drain()] == ["work"]
    assert state.errors == 2
    # The plugin's health counts the calls its native callables traced (two
    # before the unplug; none after it).
    assert state.snapshot()["ops"]["flask.Flask.wsgi_app"]["calls"] == 2
    assert state.snapshot()["ops"]["wsgi.app"]["calls"] == 0
    live = h.PluginState("wsgi-count", 3, None)
    counted = h.traced_wsgi_app(simple_app, live)
    call(counted)
    call(counted)
    h.drain()
    assert live.calls == 2 and live.snapshot()["ops"]["wsgi.app"]["calls"] == 2


def test_native_app_forwards_attributes(pkg):
    wsgi, h = pkg

    def app(environ, start_response):
        """doc of app"""
        return simple_app(environ, start_response)
    app.custom = 5
    t = h.traced_wsgi_app(app)
    assert t.__wrapped__ is app and t.__agent_run_wsgi__ is True
    assert t.__name__ == "app" and t.__doc__ == "doc of app" and t.custom == 5
    # Not a WSGI call (keywords): forwarded untouched.
    assert t(environ={"REQUEST_METHOD": "GET"}, start_response=lambda *a: None) == [b"ok"]


def test_gunicorn_patch(pkg):
    wsgi, h = pkg
    base = pytest.importorskip("gunicorn.app.base")

    class App(base.BaseApplication):
        def load_config(self):
            pass

        def load(self):
            return simple_app

    assert wsgi.patch_gunicorn(base)
    assert not wsgi.patch_gunicorn(base)
    a = App()
    app = a.wsgi()
    assert getattr(app, "__agent_run_wsgi__", False) and a.wsgi() is app
    h.drain()
    call(app)
    assert [s["name"] for s in h.drain()] == ["work", "GET"]


def test_a_leaked_current_span_is_not_the_parent(pkg):
    wsgi, h = pkg
    h.drain()
    leaked = h.start_span("leaked").activate()
    try:
        call(wsgi.wrap_wsgi_app(simple_app))
        work, server = h.drain()
        assert server["parent_span_id"] == "0" * 16 and server["trace_id"] != leaked.trace_id
        assert h.current_span() is leaked
    finally:
        leaked.end()


def test_in_place_function_and_instance(pkg):
    wsgi, h = pkg
    import types
    mod = types.ModuleType("uwsgi_file_fake")
    exec("def application(environ, start_response):\n"
         "    start_response('200 OK', [])\n"
         "    return [b'hi']\n", mod.__dict__)
    held = mod.application  # what uWSGI's C code holds
    assert wsgi.instrument_in_place(mod, "application")
    assert not wsgi.instrument_in_place(mod, "application")
    h.drain()
    status, body, _ = call(held)
    assert body == b"hi" and status == "200 OK"
    (s,) = h.drain()
    assert s["kind"] == 2 and s["attributes"]["http.response.status_code"] == 200

    def make_closure():
        greeting = b"closure"

        def application(environ, start_response):
            start_response("200 OK", [])
            return [greeting]
        return application
    mod.application = held2 = make_closure()
    assert wsgi.instrument_in_place(mod, "application")
    assert call(held2)[1] == b"closure"
    assert len(h.drain()) == 1

    class App(object):
        def __call__(self, environ, start_response):
            start_response("201 Created", [])
            return [b"inst"]
    mod.app = inst = App()
    other = App()
    assert wsgi.instrument_in_place(mod, "app")
    assert call(inst)[1] == b"inst"
    assert call(other)[1] == b"inst"
    (s,) = h.drain()  # only the instrumented instance
    assert s["attributes"]["http.response.status_code"] == 201


def test_uwsgi_targets_from_options(pkg):
    wsgi, h = pkg
    import types
    fake_uwsgi = types.SimpleNamespace(opt={"wsgi-file": b"app.py", "callable": b"app"})
    m = types.ModuleType("uwsgi_file_app")
    sys.modules["uwsgi_file_app"] = m
    try:
        assert (m, "app") in wsgi._uwsgi_app_targets(fake_uwsgi)
        fake_uwsgi = types.SimpleNamespace(opt={"module": b"uwsgi_file_app:application"})
        assert wsgi._uwsgi_app_targets(fake_uwsgi) == [(m, "application")]
    finally:
        del sys.modules["uwsgi_file_app"]


def test_when_module_appears(pkg):
    wsgi, h = pkg
    seen = []
    h.when_module_appears("agent_run_test_late_module", seen.append)
    assert seen == []
    import types
    sys.modules["agent_run_test_late_module"] = m = types.ModuleType("agent_run_test_late_module")
    try:
        open(os.devnull).close()  # any audited event
        assert seen == [m]
    finally:
        del sys.modules["agent_run_test_late_module"]


def test_python_fallback_path(pkg):
    """The Python _traced_call (used if the hook module has no wsgi_call) behaves the same."""
    wsgi, h = pkg
    native, native_app = wsgi._traced_call, wsgi._native_app
    wsgi._traced_call, wsgi._native_app = wsgi._py_traced_call, None
    try:
        test_server_span_with_child_ends_at_close(pkg)
        test_exception_in_app_and_in_iteration(pkg)
        test_5xx_is_an_error(pkg)
    finally:
        wsgi._traced_call, wsgi._native_app = native, native_app
    assert native is h.wsgi_call and native_app is h.traced_wsgi_app
