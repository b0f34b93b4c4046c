"""The plugin API: what a plugin declares, and the Patcher it patches with.

A plugin (built-in, in _agent_run/plugins/, or a user's file named by
plugins.paths) is a Plugin object:

    from _agent_run.plugin import Plugin

    plugin = Plugin("myjson", modules=("json",), distribution=None, versions=None)

    @plugin.on_import("json")
    def instrument(json, patcher):
        patcher.wrap(json, "dumps", timing=True,
                     before=lambda call: ..., after=lambda call: ...)

Its on_import functions run right after the app imports the module (never
before, never on the app's behalf), once the distribution's version has been
checked against `versions` (e.g. ">=3.0,<5"). Every change goes through the
Patcher, which records it: unplugging restores the very objects that were
there (identity, not equality). See docs/plugins.md.
"""
import os
import sys

_hook = None  # _agent_run._hook, set by the manager (this module stays importable without it)


class Plugin(object):
    def __init__(self, name, modules, distribution=None, versions=None, description=""):
        if isinstance(modules, str):
            modules = (modules,)
        self.name = name
        self.modules = tuple(modules)
        self.distribution = distribution
        self.versions = versions
        self.description = description
        self.hooks = {}  # module name -> [fn(module, patcher)]

    def on_import(self, module_name):
        """Decorator: fn(module, patcher) runs right after `module_name` is imported."""
        if module_name not in self.modules:
            self.modules = self.modules + (module_name,)

        def register(fn):
            self.hooks.setdefault(module_name, []).append(fn)
            return fn
        return register

    def __repr__(self):
        return "<Plugin %s for %s>" % (self.name, ", ".join(self.modules))


class Patch(object):
    __slots__ = ("owner", "name", "original", "had_own", "wrapper")

    def __init__(self, owner, name, original, had_own, wrapper):
        self.owner = owner
        self.name = name
        self.original = original  # exactly what was in owner.__dict__ (or found through the MRO)
        self.had_own = had_own    # False: the attribute was inherited; reverting deletes ours
        self.wrapper = wrapper


def _raw_attribute(owner, name):
    """(raw value, defined on owner itself): class attributes come from the
    __dict__ along the MRO, so staticmethod/classmethod objects stay what they are."""
    if isinstance(owner, type):
        for klass in owner.__mro__:
            d = klass.__dict__
            if name in d:
                return d[name], klass is owner
        raise AttributeError("%s has no attribute %r" % (owner.__name__, name))
    d = getattr(owner, "__dict__", None)
    if d is not None and name in d:
        return d[name], True
    return getattr(owner, name), False


def _owner_name(owner):
    if isinstance(owner, type):
        return "%s.%s" % (owner.__module__, owner.__qualname__)
    return getattr(owner, "__name__", None) or type(owner).__name__


def looks_like(function, original):
    """Gives a plugin's replacement function the original's name, module and
    doc, and __wrapped__ (inspect.signature() follows it). Returns it."""
    for name in ("__name__", "__qualname__", "__module__", "__doc__"):
        try:
            setattr(function, name, getattr(original, name))
        except Exception:
            pass  # an original without it keeps the function's own
    function.__wrapped__ = original
    return function


class Patcher(object):
    """Applies one plugin's patches and remembers them, so that revert()
    puts back exactly what was there."""

    def __init__(self, state):
        self.state = state  # the plugin's _hook.PluginState
        self.patches = []

    def wrap_function(self, wrapped, op=None, **options):
        """A wrapper around `wrapped` counted against this plugin, not
        installed anywhere (for proxies' overrides, or to return from a patch).
        options: handler, extract, before, after, timing, on_class, proxy."""
        return _hook.wrap(wrapped, self.state, op, **options)

    def wrap(self, owner, name, op=None, **options):
        """Replaces owner.name (a module or class attribute) by a wrapper."""
        if op is None:
            op = "%s.%s" % (_owner_name(owner), name)
        options.setdefault("on_class", isinstance(owner, type))
        return self._install(owner, name, lambda raw: _hook.wrap(raw, self.state, op, **options))

    def replace(self, owner, name, new):
        """Replaces owner.name by `new` (a wrapper from wrap_function, or any
        object), recorded like wrap()'s patches. Returns what is installed."""
        return self._install(owner, name, lambda raw: new)

    def _install(self, owner, name, make):
        """owner.name = make(what is there now), recorded for revert()."""
        raw, had_own = _raw_attribute(owner, name)
        if isinstance(raw, _hook.FunctionWrapper) and raw._agent_run_plugin is self.state:
            return raw  # this plugin already patched it (module executed twice)
        new = make(raw)
        setattr(owner, name, new)
        self.patches.append(Patch(owner, name, raw, had_own, new))
        return new

    def overrides(self, cls, names, **options):
        """{name: wrapper of cls's own method} for an ObjectProxy of instances
        of cls (a C type whose methods cannot be replaced). Nothing is patched."""
        out = {}
        for name in names:
            raw, _ = _raw_attribute(cls, name)
            out[name] = _hook.wrap(raw, self.state, "%s.%s" % (_owner_name(cls), name), **options)
        return out

    def revert(self, log=None):
        """Puts every original back, newest patch first. Returns the number reverted."""
        done = 0
        while self.patches:
            p = self.patches.pop()
            try:
                current = p.owner.__dict__.get(p.name) if hasattr(p.owner, "__dict__") else None
                if current is not p.wrapper:
                    # Someone patched over ours: removing theirs would break them.
                    # Our wrapper (underneath) is a pass-through from now on.
                    if log is not None:
                        log.warning("agent-run: %s.%s was replaced after it was patched; left in place "
                                    "(the agent's wrapper inside it is a pass-through)",
                                    _owner_name(p.owner), p.name)
                    continue
                if p.had_own:
                    setattr(p.owner, p.name, p.original)
                else:
                    delattr(p.owner, p.name)
                done += 1
            except Exception as e:
                if log is not None:
                    log.error("agent-run: could not restore %s.%s: %r", _owner_name(p.owner), p.name, e)
        return done


# ---- distribution versions: read, never imported ----

def _version_tuple(text):
    out = []
    for part in str(text).split("."):
        digits = ""
        for ch in part:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        out.append(int(digits))
        if len(digits) != len(part):
            break
    return tuple(out)


def _cmp(a, b):
    n = max(len(a), len(b))
    a = a + (0,) * (n - len(a))
    b = b + (0,) * (n - len(b))
    return (a > b) - (a < b)


_OPS = (
    (">=", lambda c: c >= 0), ("<=", lambda c: c <= 0), ("==", lambda c: c == 0),
    ("!=", lambda c: c != 0), (">", lambda c: c > 0), ("<", lambda c: c < 0),
)


def version_matches(version, spec):
    """'1.4.2' against '>=1.2,<2'. An empty spec matches everything."""
    if not spec:
        return True
    v = _version_tuple(version)
    for clause in spec.split(","):
        clause = clause.strip()
        if not clause:
            continue
        for op, test in _OPS:
            if clause.startswith(op):
                if not test(_cmp(v, _version_tuple(clause[len(op):].strip()))):
                    return False
                break
        else:
            raise ValueError("bad version clause %r in %r" % (clause, spec))
    return True


def _normalize(name):
    return name.lower().replace("-", "_").replace(".", "_")


def distribution_version(distribution, module=None):
    """The installed version of `distribution`, without importlib.metadata:
    the module's __version__ if it is a string, else the name of its
    <name>-<version>.dist-info (or .egg-info) directory on sys.path."""
    v = getattr(module, "__version__", None) if module is not None else None
    if isinstance(v, str) and v:
        return v
    wanted = _normalize(distribution)
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except (OSError, TypeError):
            continue
        for n in names:
            if n.endswith(".dist-info"):
                base = n[:-10]
            elif n.endswith(".egg-info"):
                base = n[:-9]
            else:
                continue
            dist, sep, ver = base.partition("-")
            if sep and _normalize(dist) == wanted:
                return ver.split("-")[0]
    return None
