"""The wrapper on every kind of callable, with and without exceptions."""
import sys

import checks

checks.setup_path()
from _agent_run import _hook  # noqa: E402

import asyncio  # noqa: E402
import functools  # noqa: E402
import inspect  # noqa: E402
import math  # noqa: E402

EVENTS = []


def before(call):
    EVENTS.append(("before", call.op, call.instance, call.args, dict(call.kwargs)))


def after(call):
    EVENTS.append(("after", call.op, call.finish, call.result, call.exception))


def new_state(limit=3):
    errors = []
    state = _hook.PluginState("t", limit, lambda s, where, exc, unplugged: errors.append((where, exc, unplugged)))
    return state, errors


def wrap(obj, state=None, **kw):
    if state is None:
        state, _ = new_state()
    kw.setdefault("before", before)
    kw.setdefault("after", after)
    return _hook.wrap(obj, state, "op", **kw)


def take():
    out = list(EVENTS)
    del EVENTS[:]
    return out


def f(a, b=2, *rest, **kw):
    """f's doc"""
    return (a, b, rest, kw)


def check_plain_function():
    w = wrap(f)
    assert w(1) == (1, 2, (), {})
    assert w(1, 3, 4, x=5) == (1, 3, (4,), {"x": 5})
    ev = take()
    assert ev[0] == ("before", "op", None, (1,), {}), ev
    assert ev[1][:4] == ("after", "op", "returned", (1, 2, (), {})), ev
    assert ev[2] == ("before", "op", None, (1, 3, 4), {"x": 5}), ev
    assert w._agent_run_kind == "function"


def check_introspection():
    w = wrap(f)
    assert w.__name__ == "f" and w.__qualname__ == "f" and w.__doc__ == "f's doc"
    assert w.__module__ == f.__module__ and w.__wrapped__ is f
    assert str(inspect.signature(w)) == str(inspect.signature(f))
    assert inspect.isfunction(w)  # __class__ forwards
    assert w.__defaults__ == (2,)

    @functools.wraps(w)
    def outer(*a, **k):
        return w(*a, **k)
    assert outer.__name__ == "f" and outer.__wrapped__ is w
    assert str(inspect.signature(outer)) == str(inspect.signature(f))


class K(object):
    def method(self, x, y=1):
        """method doc"""
        return ("m", self, x, y)

    @classmethod
    def cm(cls, x):
        return ("c", cls, x)

    @staticmethod
    def sm(x):
        return ("s", x)


def fresh_class():
    class C(K):
        pass
    for name in ("method", "cm", "sm"):
        setattr(C, name, wrap(K.__dict__[name], on_class=True))
    return C


def check_methods_on_class():
    C = fresh_class()
    o = C()
    take()
    assert o.method(5) == ("m", o, 5, 1)
    assert o.method(5, y=7) == ("m", o, 5, 7)
    assert C.method(o, 6) == ("m", o, 6, 1)
    bound = o.method
    assert bound(8) == ("m", o, 8, 1)
    ev = [e for e in take() if e[0] == "before"]
    assert ev == [("before", "op", o, (5,), {}), ("before", "op", o, (5,), {"y": 7}),
                  ("before", "op", o, (6,), {}), ("before", "op", o, (8,), {})], ev
    # introspection of the bound form: signature without self
    assert str(inspect.signature(bound)) == "(x, y=1)", inspect.signature(bound)
    assert bound.__self__ is o and bound.__name__ == "method" and bound.__doc__ == "method doc"
    assert inspect.ismethod(bound)


def check_classmethod_staticmethod():
    C = fresh_class()
    o = C()
    take()
    assert o.cm(1) == ("c", C, 1) and C.cm(2) == ("c", C, 2)
    assert o.sm(3) == ("s", 3) and C.sm(4) == ("s", 4)
    ev = [e for e in take() if e[0] == "before"]
    assert ev == [("before", "op", C, (1,), {}), ("before", "op", C, (2,), {}),
                  ("before", "op", None, (3,), {}), ("before", "op", None, (4,), {})], ev
    assert C.__dict__["cm"]._agent_run_kind == "classmethod"
    assert C.__dict__["sm"]._agent_run_kind == "staticmethod"
    assert str(inspect.signature(C.sm)) == "(x)"
    assert str(inspect.signature(C.cm)) == "(x)"


def check_bound_method_object():
    o = K()
    w = wrap(o.method)
    take()
    assert w(1) == ("m", o, 1, 1)
    ev = take()
    assert ev[0] == ("before", "op", o, (1,), {}), ev
    assert w._agent_run_kind == "bound_method"


def check_builtin_and_method_descriptor():
    w = wrap(math.sqrt)
    assert w(16.0) == 4.0 and w._agent_run_kind == "builtin"
    w = wrap(len)
    assert w([1, 2]) == 2
    take()
    # method descriptor of a C type, installed on a (Python) subclass
    class L(list):
        pass
    L.append = wrap(list.__dict__["append"], on_class=True)
    lst = L()
    lst.append(1)
    L.append(lst, 2)
    app = lst.append
    app(3)
    assert lst == [1, 2, 3]
    ev = [e for e in take() if e[0] == "before"]
    assert ev == [("before", "op", lst, (1,), {}), ("before", "op", lst, (2,), {}),
                  ("before", "op", lst, (3,), {})], ev
    assert L.__dict__["append"]._agent_run_kind == "method_descriptor"


class CallableObj(object):
    def __call__(self, x):
        return ("called", x)


class Desc(object):
    """A callable descriptor (binds like a method, through its own __get__)."""
    def __call__(self, *a):
        return ("desc", a)

    def __get__(self, obj, typ=None):
        if obj is None:
            return self
        return functools.partial(self, obj)


def check_callable_object_and_descriptor():
    w = wrap(CallableObj())
    assert w(1) == ("called", 1) and w._agent_run_kind == "callable"

    class D(object):
        pass
    D.m = wrap(Desc(), on_class=True)
    d = D()
    take()
    assert d.m(1) == ("desc", (d, 1))
    ev = take()
    assert ev[0][2] is d and ev[0][3] == (1,), ev
    assert D.__dict__["m"]._agent_run_kind == "descriptor"


class Boom(Exception):
    pass


def raiser(x):
    try:
        {}["missing"]
    except KeyError:
        raise Boom(x)


def check_exception_identity():
    w = wrap(raiser)
    caught_plain = caught_wrapped = None
    try:
        raiser(1)
    except Boom as e:
        caught_plain = e
    try:
        w(1)
    except Boom as e:
        caught_wrapped = e
    ev = take()
    assert ev[1][2] == "raised" and ev[1][4] is caught_wrapped, ev
    # same context chain, and the traceback ends in the same frame of raiser()
    assert type(caught_wrapped.__context__) is KeyError
    tb = caught_wrapped.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    assert tb.tb_frame.f_code is raiser.__code__

    # the very object raised by the original reaches the caller
    sentinel = Boom("same")

    def raise_it():
        raise sentinel
    try:
        wrap(raise_it)()
    except Boom as e:
        assert e is sentinel
    else:
        raise AssertionError("no exception")


def check_in_flight_exception_preserved():
    state, errors = new_state(limit=100)

    def bad(call):
        raise ValueError("plugin")
    w = _hook.wrap(f, state, "op", before=bad, after=bad)
    try:
        raise KeyError("app's")
    except KeyError:
        assert w(1) == (1, 2, (), {})
        assert sys.exc_info()[0] is KeyError, sys.exc_info()
        try:
            raise
        except KeyError as e:
            assert e.args == ("app's",)
    assert len(errors) == 2


def check_result_is_same_object():
    sentinel = object()
    w = wrap(lambda: sentinel)
    assert w() is sentinel


def check_called_exactly_once():
    n = [0]

    def g(x):
        n[0] += 1
        return x

    def bad(call):
        raise RuntimeError("x")
    state, _ = new_state(limit=1000)
    w = _hook.wrap(g, state, "op", before=bad, after=bad, extract=bad)
    for i in range(5):
        assert w(i) == i
    assert n[0] == 5


def gen(n, fail=False):
    for i in range(n):
        yield i
    if fail:
        raise Boom("gen")
    return "done"


def check_generator_exhausted():
    w = wrap(gen)
    take()
    g = w(3)
    assert [e[0] for e in take()] == ["before"]  # after runs at the end, not now
    assert list(g) == [0, 1, 2]
    ev = take()
    assert ev == [("after", "op", "returned", None, None)], ev
    assert w._agent_run_flavor == "generator"


def check_generator_return_value_and_send():
    def echo():
        x = yield 1
        while x is not None:
            x = yield x * 2
        return "bye"
    w = wrap(echo)
    take()
    g = w()
    assert next(g) == 1 and g.send(5) == 10
    try:
        g.send(None)
    except StopIteration as e:
        assert e.value == "bye"
    else:
        raise AssertionError("no StopIteration")
    assert take()[-1][2] == "returned"

    def outer():
        r = yield from w()
        return r
    o = outer()
    assert next(o) == 1 and o.send(3) == 6
    try:
        o.send(None)
    except StopIteration as e:
        assert e.value == "bye"


def check_generator_closed_early_and_raising():
    w = wrap(gen)
    take()
    g = w(5)
    assert next(g) == 0
    g.close()
    ev = take()
    assert ev[-1][:3] == ("after", "op", "closed"), ev
    g = w(2, True)
    try:
        list(g)
    except Boom as e:
        exc = e
    ev = take()
    assert ev[-1][2] == "raised" and ev[-1][4] is exc, ev
    # dropped without being closed: ends as closed
    g = w(5)
    next(g)
    del g
    ev = take()
    assert ev[-1][2] == "closed", ev
    # throw() into it
    g = w(5)
    next(g)
    try:
        g.throw(Boom("thrown"))
    except Boom:
        pass
    assert take()[-1][2] == "raised"


async def coro(x, delay=0.0, fail=False):
    await asyncio.sleep(delay)
    if fail:
        raise Boom("coro")
    return x * 2


def check_coroutine_complete_and_raise():
    w = wrap(coro)
    take()
    c = w(21)
    assert [e[0] for e in take()] == ["before"]
    assert asyncio.run(c) == 42  # asyncio.run() accepts the proxy as a coroutine
    ev = take()
    assert ev == [("after", "op", "returned", None, None)], ev

    async def main():
        return await w(1, 0, True)
    try:
        asyncio.run(main())
    except Boom as e:
        exc = e
    ev = take()
    assert ev[-1][2] == "raised" and ev[-1][4] is exc, ev
    assert w._agent_run_flavor == "coroutine"
    assert inspect.iscoroutinefunction(w)


def check_coroutine_cancelled_mid_await():
    w = wrap(coro)
    take()

    async def main():
        t = asyncio.ensure_future(w(1, 10.0))
        await asyncio.sleep(0.01)
        t.cancel()
        try:
            await t
        except asyncio.CancelledError:
            return "cancelled"
    assert asyncio.run(main()) == "cancelled"
    ev = take()
    assert ev[-1][2] == "raised" and isinstance(ev[-1][4], asyncio.CancelledError), ev

    async def main2():
        try:
            await asyncio.wait_for(w(1, 10.0), 0.01)
        except asyncio.TimeoutError:
            return "timeout"
    assert asyncio.run(main2()) == "timeout"
    assert take()[-1][2] == "raised"


async def agen(n, fail=False):
    for i in range(n):
        await asyncio.sleep(0)
        yield i
    if fail:
        raise Boom("agen")


def check_async_generator():
    w = wrap(agen)
    take()

    async def consume(it, limit=None):
        out = []
        async for x in it:
            out.append(x)
            if limit is not None and len(out) >= limit:
                break
        return out
    assert asyncio.run(consume(w(3))) == [0, 1, 2]
    ev = take()
    assert ev == [("before", "op", None, (3,), {}), ("after", "op", "returned", None, None)], ev

    async def early():
        it = w(10)
        out = await consume(it, 2)
        await it.aclose()
        return out
    assert asyncio.run(early()) == [0, 1]
    assert take()[-1][2] == "closed"

    async def failing():
        try:
            await consume(w(2, True))
        except Boom as e:
            return e
    exc = asyncio.run(failing())
    ev = take()
    assert ev[-1][2] == "raised" and ev[-1][4] is exc, ev
    assert w._agent_run_flavor == "async_generator"


def check_unplugged_wrapper_is_pass_through():
    state, _ = new_state()
    w = _hook.wrap(f, state, "op", before=before, after=after)
    take()
    state.unplug("test")
    assert w(1) == (1, 2, (), {})
    assert take() == []
    assert state.snapshot()["ops"]["op"]["calls"] == 0


def check_unplug_during_call_finishes_as_pass_through():
    state, _ = new_state()

    def g():
        state.unplug("mid-call")
        return "r"
    w = _hook.wrap(g, state, "op", before=before, after=after)
    take()
    assert w() == "r"
    assert [e[0] for e in take()] == ["before"]  # no after once unplugged


def check_recursion_from_plugin_code_passes_through():
    state, errors = new_state()
    box = {}

    def b(call):
        box["inner"] = box["w"](0)  # calls the wrapper from its own callback
    w = _hook.wrap(lambda x: x + 1, state, "op", before=b)
    box["w"] = w
    assert w(1) == 2 and box["inner"] == 1 and not errors


def check_object_proxy():
    import io
    target = io.StringIO("hello")
    p = _hook.ObjectProxy(target)
    assert isinstance(p, io.StringIO) and p.__class__ is io.StringIO
    assert p.read() == "hello" and repr(p) == repr(target)
    p.custom = 1  # attribute set reaches the object... StringIO has no __dict__? it has
    assert target.custom == 1
    with p as q:
        assert q is p  # __enter__ returning the object gives the proxy back
    assert target.closed and p.__wrapped__ is target
    lst = _hook.ObjectProxy([1, 2, 3])
    assert len(lst) == 3 and 2 in lst and lst[0] == 1 and list(lst) == [1, 2, 3] and lst == [1, 2, 3]
    assert bool(_hook.ObjectProxy([])) is False


def check_patcher_replace_and_revert():
    import types
    from _agent_run import plugin as plugin_api
    plugin_api._hook = _hook  # what the plugin manager sets
    state, _ = new_state()
    patcher = plugin_api.Patcher(state)
    mod = types.ModuleType("m")
    mod.connect = f
    wrapper = patcher.wrap_function(lambda *a, **k: ("ours", f(*a, **k)), "m.connect", timing=True)
    assert patcher.replace(mod, "connect", wrapper) is wrapper and mod.connect is wrapper
    assert mod.connect(1)[0] == "ours"
    # a second install by the same plugin (module executed twice) keeps the first
    other = patcher.wrap_function(f, "m.connect")
    assert patcher.replace(mod, "connect", other) is wrapper and mod.connect is wrapper

    class Base(object):
        def method(self):
            return "base"

    class Child(Base):
        pass

    patcher.replace(Child, "method", lambda self: "replaced")
    assert Child().method() == "replaced" and Base().method() == "base"
    assert patcher.revert() == 2
    assert mod.connect is f  # the very object
    assert "method" not in Child.__dict__ and Child().method() == "base"  # inherited: ours deleted


class Raises(object):
    def method(self, x):
        raise Boom(("m", x))

    @classmethod
    def cm(cls, x):
        raise Boom(("c", x))

    @staticmethod
    def sm(x):
        raise Boom(("s", x))


def check_exceptions_through_every_kind():
    class C(Raises):
        pass
    for name in ("method", "cm", "sm"):
        setattr(C, name, wrap(Raises.__dict__[name], on_class=True))
    o = C()
    take()
    calls = [lambda: o.method(1), lambda: C.method(o, 1), lambda: o.method.__call__(1),
             lambda: o.cm(2), lambda: C.cm(2), lambda: o.sm(3), lambda: C.sm(3),
             lambda: wrap(Raises().method)(4), lambda: wrap(CallableRaiser())(5)]
    for call in calls:
        try:
            call()
        except Boom as e:
            ev = take()
            assert ev[-1][2] == "raised" and ev[-1][4] is e, ev
        else:
            raise AssertionError("no exception")
    for fn, arg, exc_type in ((math.sqrt, -1.0, ValueError), (len, 5, TypeError)):
        try:
            wrap(fn)(arg)
        except exc_type as e:
            ev = take()
            assert ev[-1][2] == "raised" and ev[-1][4] is e, ev
        else:
            raise AssertionError("no exception")

    class L(list):
        pass
    L.pop = wrap(list.__dict__["pop"], on_class=True)
    try:
        L().pop()
    except IndexError as e:
        assert take()[-1][4] is e
    else:
        raise AssertionError("no exception")


class CallableRaiser(object):
    def __call__(self, x):
        raise Boom(("callable", x))


def check_keyboard_interrupt_in_plugin_code_is_redelivered():
    state, errors = new_state()

    def ki(call):
        raise KeyboardInterrupt
    ran = []

    def original(x):
        ran.append(x)
        return x
    w = _hook.wrap(original, state, "op", before=ki)
    got = None
    try:
        w(1)
        for _ in range(10000):
            pass
    except KeyboardInterrupt:
        got = "interrupted"
    assert ran == [1], ran            # the original ran, once
    assert got == "interrupted"       # and the app got the interrupt at its next bytecode
    assert not errors and state.errors == 0   # not the plugin's fault: not counted


def check_native_state_snapshot():
    state, _ = new_state()
    w = _hook.wrap(f, state, "snap.op", timing=True)
    for i in range(5):
        w(i)
    snap = state.snapshot()
    op = snap["ops"]["snap.op"]
    assert snap["state"] == "active" and snap["calls"] == 5 and op["calls"] == 5 and op["timed"] == 5, snap
    assert op["total_ns"] >= op["max_ns"] > 0, snap


if __name__ == "__main__":
    checks.run(dict(globals()))
