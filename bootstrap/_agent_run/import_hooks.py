"""Post-import hooks: run code right after a module has executed.

A finder placed first on sys.meta_path answers only for module names that
have hooks (one dict lookup for every other import). For those it asks the
rest of sys.meta_path for the real spec and replaces the spec's loader with a
thin _HookLoader whose exec_module() puts the real loader back in place
(module.__loader__, module.__spec__.loader), runs the real exec_module() and
then the hooks. Hooks registered for a module that is already imported run at
once. Nothing is ever imported on the app's behalf.

A hook that raises never fails the import: the error goes to the error
callback (the plugin manager counts it against its plugin and logs it).
"""
import sys

_hooks = {}       # module name -> [hook(module)]
_busy = set()     # names whose spec is being looked up by us (no recursion)
_finder = None
_on_error = None  # callable(module_name, hook, exc) or None


def set_error_handler(handler):
    global _on_error
    _on_error = handler


def when_imported(name, hook):
    """Calls hook(module) right after module `name` is imported (each time it
    is executed), or now if it already is."""
    _hooks.setdefault(name, []).append(hook)
    install_finder()
    module = sys.modules.get(name)
    if module is not None and not _initializing(module):
        _call(name, hook, module)


def remove_hooks(name, hook=None):
    hooks = _hooks.get(name)
    if not hooks:
        return
    if hook is None:
        del _hooks[name]
    else:
        _hooks[name] = [h for h in hooks if h is not hook]


def _initializing(module):
    spec = getattr(module, "__spec__", None)
    return bool(getattr(spec, "_initializing", False))


def _call(name, hook, module):
    try:
        hook(module)
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # noqa: B902 - a hook must never fail the import
        handler = _on_error
        if handler is not None:
            try:
                handler(name, hook, e)
            except Exception:
                pass


def _run_hooks(name, module):
    for hook in list(_hooks.get(name, ())):
        _call(name, hook, module)


class _HookLoader(object):
    """Stands in for the real loader between find_spec and exec_module only."""

    def __init__(self, loader, name):
        self._loader = loader
        self._name = name

    def __getattr__(self, attr):
        return getattr(self._loader, attr)

    def create_module(self, spec):
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module):
        loader = self._loader
        try:
            # The module keeps the real loader: importlib.resources, pkgutil,
            # linecache and reload() all look at it.
            if getattr(module, "__loader__", None) is self:
                module.__loader__ = loader
            spec = getattr(module, "__spec__", None)
            if spec is not None and spec.loader is self:
                spec.loader = loader
        except Exception:
            pass
        loader.exec_module(module)
        # The module that ends up in sys.modules is what importers get.
        _run_hooks(self._name, sys.modules.get(self._name, module))


class _PostImportFinder(object):
    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _hooks or fullname in _busy:
            return None
        _busy.add(fullname)
        try:
            spec = None
            for finder in sys.meta_path:
                if finder is self:
                    continue
                find = getattr(finder, "find_spec", None)
                if find is None:
                    continue
                spec = find(fullname, path, target)
                if spec is not None:
                    break
        finally:
            _busy.discard(fullname)
        if spec is None:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module") or isinstance(loader, _HookLoader):
            return spec
        spec.loader = _HookLoader(loader, fullname)
        return spec

    # Python 3.8-3.11 fall back to find_module() for finders without a spec; never needed.
    def invalidate_caches(self):
        pass


def install_finder():
    global _finder
    if _finder is None:
        _finder = _PostImportFinder()
    if not sys.meta_path or sys.meta_path[0] is not _finder:
        try:
            sys.meta_path.remove(_finder)
        except ValueError:
            pass
        sys.meta_path.insert(0, _finder)


def uninstall_finder():
    try:
        sys.meta_path.remove(_finder)
    except ValueError:
        pass
