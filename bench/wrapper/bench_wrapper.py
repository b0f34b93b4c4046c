#!/usr/bin/env python3
"""Per-call cost of agent-run's wrapper against a bare call, wrapt and a
functools.wraps closure (issue 3's benchmark; not a timed test).

    /usr/bin/python3 bench/wrapper/bench_wrapper.py BUILD_DIR [--rounds 31] [--calls 200000] [--markdown]

Each variant runs `calls` calls in a loop; rounds interleave the variants (in
a shuffled order each round) so that machine noise hits them alike; the
figure is the median over rounds, per call, and "added" is that minus the
bare call's. wrapt is Debian's python3-wrapt (its C extension).
"""
import functools
import glob
import os
import random
import statistics
import sys
import time
from itertools import repeat


def load_hook(build_dir):
    stage = os.path.join(build_dir, "stage", "share", "agent-run", "bootstrap")
    if not glob.glob(os.path.join(stage, "_agent_run", "_hook*.so")):
        sys.exit("no hook module under %s: build agent_run_hook_* first" % stage)
    sys.path.insert(0, stage)
    from _agent_run import _hook
    return _hook


def target(x):
    return x


class Plain(object):
    def method(self, x):
        return x


def wrapt_wrapper(wrapped, instance, args, kwargs):
    return wrapped(*args, **kwargs)


def closure_of(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


def class_with(method):
    return type("C", (object,), {"method": method})


def loop_function(fn, n):
    t0 = time.perf_counter_ns()
    for _ in repeat(None, n):
        fn(1)
    return time.perf_counter_ns() - t0


def loop_method(obj, n):
    t0 = time.perf_counter_ns()
    for _ in repeat(None, n):
        obj.method(1)
    return time.perf_counter_ns() - t0


def main(argv):
    args = list(argv[1:])
    markdown = "--markdown" in args
    if markdown:
        args.remove("--markdown")
    rounds, calls = 31, 200000
    if "--rounds" in args:
        i = args.index("--rounds")
        rounds = int(args[i + 1])
        del args[i:i + 2]
    if "--calls" in args:
        i = args.index("--calls")
        calls = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 1:
        sys.exit(__doc__)
    _hook = load_hook(args[0])
    try:
        import wrapt
        wrapt_c = wrapt.FunctionWrapper.__module__ != "wrapt.wrappers" or hasattr(wrapt, "_wrappers")
    except ImportError:
        wrapt = None

    noop = _hook.PluginState("noop")
    timed = _hook.PluginState("timed")
    unplugged = _hook.PluginState("unplugged")
    unplugged.unplug("benchmark")
    raw_method = Plain.__dict__["method"]

    functions = [
        ("bare call", target),
        ("agent wrapper, no-op plugin", _hook.wrap(target, noop, "f")),
        ("agent wrapper, unplugged", _hook.wrap(target, unplugged, "f")),
        ("agent wrapper, timing (sqlite3's)", _hook.wrap(target, timed, "f", timing=True)),
        ("functools.wraps closure", closure_of(target)),
    ]
    methods = [
        ("bare call", Plain()),
        ("agent wrapper, no-op plugin", class_with(_hook.wrap(raw_method, noop, "m", on_class=True))()),
        ("agent wrapper, unplugged", class_with(_hook.wrap(raw_method, unplugged, "m", on_class=True))()),
        ("agent wrapper, timing (sqlite3's)",
         class_with(_hook.wrap(raw_method, timed, "m", on_class=True, timing=True))()),
        ("functools.wraps closure", class_with(closure_of(raw_method))()),
    ]
    if wrapt is not None:
        functions.insert(4, ("wrapt.FunctionWrapper", wrapt.FunctionWrapper(target, wrapt_wrapper)))
        methods.insert(4, ("wrapt.FunctionWrapper", class_with(wrapt.FunctionWrapper(raw_method, wrapt_wrapper))()))

    jobs = [("function", name, loop_function, obj) for name, obj in functions]
    jobs += [("bound method", name, loop_method, obj) for name, obj in methods]
    for _, _, loop, obj in jobs:  # warm up (specialization, caches)
        loop(obj, 20000)
    samples = dict(((kind, name), []) for kind, name, _, _ in jobs)
    for _ in range(rounds):
        order = list(jobs)
        random.shuffle(order)
        for kind, name, loop, obj in order:
            samples[(kind, name)].append(loop(obj, calls) / calls)

    medians = dict((k, statistics.median(v)) for k, v in samples.items())
    print("Python %s, %d rounds x %d calls, median ns per call%s" % (
        sys.version.split()[0], rounds, calls, "" if wrapt is None else ", wrapt %s" % wrapt.__version__))
    if markdown:
        print("\n| callable | variant | ns/call | added ns |\n|---|---|---:|---:|")
    for kind in ("function", "bound method"):
        bare = medians[(kind, "bare call")]
        for k, name, _, _ in jobs:
            if k != kind:
                continue
            m = medians[(kind, name)]
            added = "" if name == "bare call" else "%+.1f" % (m - bare)
            if markdown:
                print("| %s | %s | %.1f | %s |" % (kind, name, m, added))
            else:
                print("%-13s %-36s %8.1f %8s" % (kind, name, m, added))
    for kind in ("function", "bound method"):
        bare = medians[(kind, "bare call")]
        agent = medians[(kind, "agent wrapper, no-op plugin")] - bare
        closure = medians[(kind, "functools.wraps closure")] - bare
        line = "%s: agent adds %.1f ns, closure %.1f ns" % (kind, agent, closure)
        if wrapt is not None:
            w = medians[(kind, "wrapt.FunctionWrapper")] - bare
            line += ", wrapt %.1f ns: agent/wrapt = %.3f (goal <= 0.1), agent < closure: %s" % (
                w, agent / w if w > 0 else float("nan"), agent < closure)
        print(line)


if __name__ == "__main__":
    main(sys.argv)
