"""WSGI server spans for any WSGI app under gunicorn and uWSGI (and Flask's
route as http.route).

Where the app is wrapped (zero code, docs/spans.md):
- gunicorn: `gunicorn.app.base.BaseApplication.wsgi()`, which every worker
  (and the master with --preload) calls to obtain the app; it covers
  `gunicorn mod:app`, --paste and custom BaseApplication subclasses.
- uWSGI: the app callable is fetched by uWSGI's C code, out of Python's
  reach, and Python fork hooks do not run in its workers. The `uwsgi` module
  appears only after the interpreter started, so a native audit hook waits
  for it (one flag test per audited event afterwards) and chains
  `uwsgi.post_fork_hook`, which uWSGI calls in every worker after fork (with
  or without --enable-threads). There the app named by --wsgi-file/--file
  or --module/--wsgi/-w (and --callable) is instrumented in place: a
  function gets its `__code__` replaced by a trampoline (so uWSGI's own
  reference calls the wrapper), an instance gets its class's `__call__`
  wrapped for that instance only.
- Flask: the server span is named after the matched url_rule (http.route)
  when the response starts, from the request werkzeug keeps in the environ,
  by the server wrapper's start_response. Where no server wrapper is
  installed (uWSGI, other servers), `Flask.wsgi_app` is replaced (natively)
  to make the span; under gunicorn it is left alone, which spares every
  request a second native-to-Python call. `Flask.handle_user_exception`,
  which Flask calls with every exception of a view or a before_request
  function, records it.

The server span starts when the app is called, is current while the app and
the response iterable run (so database calls are its children), and ends
when the server closes the response iterable (WSGI semantics). The traced
callables are native (src/hook/spans/wsgi_app.cpp): no Python frame per
request; their errors count against this plugin, which unplugging turns into
pass-throughs. The Python versions below are the fallback.
"""
import sys

from _agent_run import _hook
from _agent_run.plugin import looks_like

_SERVER = _hook.SPAN_KIND_SERVER
_wsgi_start = _hook.wsgi_start
_wsgi_finish = _hook.wsgi_finish
_current_span = _hook.current_span
_MARK = "__agent_run_wsgi__"

_log = None


def _warn(msg, *args):
    if _log is not None:
        try:
            _log.warning(msg, *args)
        except Exception:
            pass


class _Response(object):
    """The app's response iterable; ends the server span at close()."""
    __slots__ = ("_result", "_span", "_state")

    def __init__(self, result, span, state):
        self._result = result
        self._span = span
        self._state = state

    def __iter__(self):
        # A generator: the end of iteration costs no exception object here.
        return self._chunks()

    def _chunks(self):
        try:
            yield from self._result
        except GeneratorExit:
            raise
        except BaseException as e:
            self._state[1] = e
            raise

    def close(self):
        exc = self._state[1]
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        except BaseException as e:
            exc = e
            raise
        finally:
            _finish(self._span, self._state[0], exc)


def _finish(span, status, exc):
    try:
        _wsgi_finish(span, status, exc)
    except Exception:
        pass  # the agent's failure never becomes the app's


_ENV_KEY = "agent_run.server_span"


def _traced_call(app, environ, start_response):
    if _ENV_KEY in environ:
        return app(environ, start_response)  # an outer wrapper already traces this request
    try:
        span = _wsgi_start(environ)
        environ[_ENV_KEY] = span
    except Exception:
        return app(environ, start_response)  # untraced, never broken
    state = [None, None]  # status line, exception

    def _start_response(status, headers, exc_info=None):
        state[0] = status
        _name_after_route(environ)
        if exc_info is None:
            return start_response(status, headers)
        return start_response(status, headers, exc_info)

    try:
        result = app(environ, _start_response)
    except BaseException as e:
        _finish(span, state[0], e)
        raise
    # Current span until close(): the server iterates and closes in this same
    # thread and context (gunicorn's sync/gthread workers, uWSGI).
    return _Response(result, span, state)


_py_traced_call = _traced_call
# The same, natively (src/hook/spans/wsgi_app.cpp): no Python frames per request.
_traced_call = getattr(_hook, "wsgi_call", None) or _py_traced_call
_native_app = getattr(_hook, "traced_wsgi_app", None)
_native_flask_wsgi_app = getattr(_hook, "traced_flask_wsgi_app", None)

_state = None  # the plugin's PluginState: native callables count their errors against it


def _plugin_state(patcher=None):
    global _state
    if patcher is not None and _state is None:
        _state = patcher.state
    if _state is None:
        # uWSGI's post-fork path has no patcher: the manager's entry has it.
        try:
            from _agent_run import instrumentation
            _state = instrumentation._manager.entries["wsgi"].state
        except Exception:
            pass
    return _state


def wrap_wsgi_app(app):
    """A traced WSGI app calling `app`; idempotent."""
    if app is None or getattr(app, _MARK, False):
        return app
    if _native_app is not None:
        return _native_app(app, _plugin_state())

    def traced_app(environ, start_response):
        return _traced_call(app, environ, start_response)

    traced_app.__agent_run_wsgi__ = True
    return looks_like(traced_app, app)


def _replace(patcher, owner, name, new):
    """owner.name = new, recorded in the plugin's Patcher so that unplugging
    puts the original back (no patcher: a plain assignment, for tests)."""
    if patcher is not None:
        patcher.replace(owner, name, new)
    else:
        setattr(owner, name, new)


# ---- gunicorn ----

def _configure_spans():
    # Without uWSGI the plugin loads with gunicorn or Flask, not at startup.
    from _agent_run import spans_setup
    spans_setup.configure(None, _log)


def patch_gunicorn(base_module, patcher=None):
    _configure_spans()
    _plugin_state(patcher)
    cls = getattr(base_module, "BaseApplication", None)
    orig = getattr(cls, "wsgi", None) if cls is not None else None
    if orig is None or getattr(orig, _MARK, False):
        return False

    def wsgi(self):
        app = orig(self)
        try:
            traced = wrap_wsgi_app(app)
            if traced is not app:
                self.callable = traced
            return traced
        except Exception:
            return app

    wsgi.__agent_run_wsgi__ = True
    wsgi.__wrapped__ = orig
    _replace(patcher, cls, "wsgi", wsgi)
    return True


# ---- Flask ----

def _is_http_exception(e):
    return any(c.__name__ == "HTTPException" for c in type(e).__mro__)


def _server_wrapper_installed():
    """Whether a server wrapper traces every request of this process: gunicorn
    with its BaseApplication.wsgi patched (every worker takes its app from
    it). Not uWSGI: its apps are found by name after fork, and one mounted
    some other way would then go untraced."""
    base = sys.modules.get("gunicorn.app.base")
    cls = getattr(base, "BaseApplication", None) if base is not None else None
    return bool(getattr(getattr(cls, "wsgi", None), _MARK, False))


def patch_flask(flask_app_module, patcher=None):
    _configure_spans()
    state = _plugin_state(patcher)
    Flask = getattr(flask_app_module, "Flask", None)
    if Flask is None or getattr(Flask.wsgi_app, _MARK, False) or getattr(Flask.handle_user_exception, _MARK, False):
        return False
    under_server = _server_wrapper_installed()
    orig_wsgi_app = Flask.wsgi_app
    orig_handle_user_exception = Flask.handle_user_exception

    if under_server:
        wsgi_app = None  # the server wrapper makes and names the span
    elif _native_flask_wsgi_app is not None:
        wsgi_app = _native_flask_wsgi_app(orig_wsgi_app, state)
    else:
        # Fallback: the route from werkzeug's request in the environ when the
        # response starts (Flask drops it before wsgi_app returns), as natively.
        def wsgi_app(self, environ, start_response):
            def naming_start_response(status, headers, exc_info=None):
                _name_after_route(environ)
                if exc_info is None:
                    return start_response(status, headers)
                return start_response(status, headers, exc_info)
            if _ENV_KEY in environ:  # a server wrapper traces this request already
                return orig_wsgi_app(self, environ, naming_start_response)
            return _traced_call(lambda e, s: orig_wsgi_app(self, e, s), environ, naming_start_response)

        wsgi_app.__agent_run_wsgi__ = True
        wsgi_app.__wrapped__ = orig_wsgi_app
        wsgi_app.__name__ = orig_wsgi_app.__name__
        wsgi_app.__qualname__ = orig_wsgi_app.__qualname__

    def handle_user_exception(self, e):
        # Flask turns a view's (or a before_request function's) exception into
        # a response (500) and never lets it reach the server: record it here.
        # HTTP errors (abort(404)) are not.
        try:
            if not _is_http_exception(e):
                span = _current_span()
                if span is not None and span.kind == _SERVER:
                    span.record_exception(e)
        except Exception:
            pass
        return orig_handle_user_exception(self, e)

    handle_user_exception.__agent_run_wsgi__ = True
    handle_user_exception.__wrapped__ = orig_handle_user_exception
    handle_user_exception.__name__ = orig_handle_user_exception.__name__
    handle_user_exception.__qualname__ = orig_handle_user_exception.__qualname__
    if wsgi_app is not None:
        _replace(patcher, Flask, "wsgi_app", wsgi_app)
    _replace(patcher, Flask, "handle_user_exception", handle_user_exception)
    return True


def _name_after_route(environ):
    try:
        span = environ.get(_ENV_KEY)
        rule = getattr(environ.get("werkzeug.request"), "url_rule", None)
        if span is not None and rule is not None:
            span.set_attribute("http.route", rule.rule)
            span.name = environ.get("REQUEST_METHOD", "_OTHER") + " " + rule.rule
    except Exception:
        pass


# ---- uWSGI ----

def _opt(uwsgi, *names):
    opt = getattr(uwsgi, "opt", None) or {}
    for n in names:
        v = opt.get(n)
        if isinstance(v, list):
            v = v[0] if v else None
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        if v:
            return v
    return None


def _uwsgi_app_targets(uwsgi):
    """(module, attribute name) of the apps uWSGI loaded."""
    callable_name = _opt(uwsgi, "callable") or "application"
    out = []
    spec = _opt(uwsgi, "module", "wsgi", "w")
    if spec:
        mod, _, attr = spec.partition(":")
        m = sys.modules.get(mod.strip())
        if m is not None:
            out.append((m, attr.strip() or callable_name))
    if _opt(uwsgi, "wsgi-file", "file"):
        for name, m in list(sys.modules.items()):
            if name.startswith("uwsgi_file_") and m is not None:
                out.append((m, callable_name))
    return out


def instrument_in_place(holder, name):
    """Makes the callable `holder.name` traced for every reference to it,
    including one uWSGI's C code already holds."""
    app = getattr(holder, name, None)
    if app is None or getattr(app, _MARK, False):
        return False
    function_type = type(instrument_in_place)
    if isinstance(app, function_type):
        code = app.__code__
        inner = function_type(code, app.__globals__, app.__name__, app.__defaults__, app.__closure__)
        inner.__kwdefaults__ = app.__kwdefaults__
        traced = wrap_wsgi_app(inner)
        gname = "__agent_run_wsgi_%x" % id(app)
        nfree = len(code.co_freevars)
        # A trampoline with as many free variables as the original (required
        # to assign __code__), calling the traced copy through a global.
        cells = "".join("_ar%d = None\n    " % i for i in range(nfree))
        refs = "".join("_ar%d\n        " % i for i in range(nfree))
        src = ("def _outer():\n    %sdef %s(*args, **kwargs):\n        %sreturn %s(*args, **kwargs)\n"
               "    return %s\n") % (cells, "_trampoline", refs, gname, "_trampoline")
        ns = {}
        exec(compile(src, "<agent-run wsgi trampoline>", "exec"), ns)
        tcode = ns["_outer"]().__code__
        try:
            tcode = tcode.replace(co_name=code.co_name)
        except Exception:
            pass
        app.__globals__[gname] = traced
        app.__code__ = tcode
        app.__agent_run_wsgi__ = True
        return True
    cls = type(app)
    orig_call = cls.__call__
    target = app

    def __call__(self, *args, **kwargs):
        if self is target and len(args) == 2 and not kwargs:
            return _traced_call(lambda e, s: orig_call(self, e, s), args[0], args[1])
        return orig_call(self, *args, **kwargs)

    __call__.__wrapped__ = orig_call
    cls.__call__ = __call__
    try:
        app.__agent_run_wsgi__ = True
    except Exception:
        pass
    return True


def _uwsgi_post_fork(previous):
    def post_fork_hook():
        try:
            import uwsgi
            for holder, name in _uwsgi_app_targets(uwsgi):
                try:
                    instrument_in_place(holder, name)
                except Exception as e:
                    _warn("could not trace the uWSGI app %s.%s: %r", getattr(holder, "__name__", "?"), name, e)
        except Exception:
            pass
        if previous is not None:
            previous()
    post_fork_hook.__agent_run_wsgi__ = True
    return post_fork_hook


def on_uwsgi_module(uwsgi):
    """Called once the `uwsgi` module exists (master, before apps load)."""
    previous = getattr(uwsgi, "post_fork_hook", None)
    if getattr(previous, _MARK, False):
        return
    uwsgi.post_fork_hook = _uwsgi_post_fork(previous)


def running_under_uwsgi():
    from _agent_run.plugins import under_uwsgi
    return under_uwsgi()


def install_uwsgi():
    if "uwsgi" in sys.modules:
        on_uwsgi_module(sys.modules["uwsgi"])
    else:
        _hook.when_module_appears("uwsgi", on_uwsgi_module)


# ---- activation ----

def _make_plugin():
    try:
        from _agent_run.plugin import Plugin
    except Exception:
        return None
    p = Plugin("wsgi", modules=("gunicorn.app.base", "flask.app"),
               description="WSGI server spans (gunicorn, uWSGI, Flask routes)")
    p.on_import("gunicorn.app.base")(lambda module, patcher: patch_gunicorn(module, patcher))
    p.on_import("flask.app")(lambda module, patcher: patch_flask(module, patcher))
    return p


plugin = _make_plugin()


def install(settings=None, log=None):
    """At agent start (the plugin table's startup): the span pipeline's
    configuration, and uWSGI's post-fork hook when running under uWSGI."""
    global _log
    _log = log
    from _agent_run import spans_setup
    spans_setup.configure(settings, log)
    if running_under_uwsgi():
        install_uwsgi()
