"""Loads plugins lazily, contains their errors, unplugs the failing ones.

Every plugin gets a native _hook.PluginState at startup (cheap: no import
of the plugin's code, none of its library). Its code is imported only when
the app imports one of its target modules. Every error of a plugin (in a
wrapper's callbacks, counted natively; in its post-import code, counted
here through the same state) goes to _on_error: the first one is logged
with its traceback, the next ones in one line, then rate-limited. When the
count reaches plugins.error_limit the native flag has already turned all of
the plugin's wrappers into pass-throughs; here its patches are reverted and
the log says, once, which plugin was unplugged and why.
"""
import sys
import time

import _agent_run_boot as _boot

from _agent_run import plugin as plugin_api

_ONE_LINE_ERRORS = 10      # errors logged one per line after the first
_RATE_LIMIT_SECONDS = 60.0  # then at most one line per plugin per minute


class _Entry(object):
    def __init__(self, name, targets, load, origin, startup=None):
        self.name = name
        self.targets = tuple(targets)
        self.load = load          # () -> Plugin, imports the plugin's code
        self.origin = origin      # "built-in" or the user's file
        self.startup = startup    # () -> None, run at install (rare: e.g. uWSGI's hook)
        self.plugin = None
        self.state = None         # _hook.PluginState
        self.patcher = None
        self.status = "waiting"   # waiting, active, unplugged, disabled, unsupported, failed
        self.version = None
        self.note = None          # why it is disabled / unsupported / failed
        self.logged = 0
        self.last_logged = 0.0
        self.reported_unplug = False
        self.hooks = []


class Manager(object):
    def __init__(self, settings, log, hook_module):
        self.log = log
        self.hook = hook_module
        plugin_api._hook = hook_module
        self.disabled = set(settings.get("plugins.disabled") or ())
        try:
            self.error_limit = int(settings.get("plugins.error_limit", 3))
        except (TypeError, ValueError):
            self.error_limit = 3
        self.entries = {}
        _boot.set_import_hook_error_handler(self._import_hook_failed)

    # ---- registration ----

    def add(self, name, targets, load, origin, startup=None):
        if name in self.entries:
            self.log.warning("agent-run: a second plugin named %s (%s) is ignored; the first is from %s",
                             name, origin, self.entries[name].origin)
            return None
        entry = _Entry(name, targets, load, origin, startup)
        entry.state = self.hook.PluginState(name, self.error_limit, self._on_error)
        entry.state.info = entry
        entry.patcher = plugin_api.Patcher(entry.state)
        self.entries[name] = entry
        if name in self.disabled:
            entry.status = "disabled"
            entry.note = "disabled by plugins.disabled"
            entry.state.unplug("disabled by the configuration")
            self.log.info("agent-run: plugin %s is disabled by the configuration", name)
        return entry

    def add_builtin_table(self, table, package="_agent_run.plugins"):
        for name, module_name, targets, startup in table:
            def load(module_name=module_name, name=name, targets=targets):
                return _plugin_from_module(__import__(package + "." + module_name, fromlist=["_"]),
                                           name, targets)
            entry = self.add(name, targets, load, "built-in " + package + "." + module_name)
            if entry is not None and startup:
                # The table names a function of the plugin's module: fn(settings, log).
                def run_startup(entry, settings, log, module_name=module_name, startup=startup):
                    module = __import__(package + "." + module_name, fromlist=["_"])
                    getattr(module, startup)(settings, log)
                entry.startup = run_startup

    def add_plugin(self, plugin, origin):
        self.add(plugin.name, plugin.modules, lambda: plugin, origin)

    def add_user_files(self, paths):
        for n, path in enumerate(paths or ()):
            try:
                plugins = _load_user_file(path, n)
            except KeyboardInterrupt:
                raise
            except BaseException:
                self.log.exception("agent-run: cannot load plugin file %s; it is skipped", path)
                continue
            if not plugins:
                self.log.warning("agent-run: plugin file %s defines no Plugin; nothing to do", path)
            for p in plugins:
                self.add_plugin(p, path)

    def start(self, settings):
        for entry in list(self.entries.values()):
            if entry.status == "disabled":
                continue
            if entry.startup is not None:
                try:
                    entry.startup(entry, settings, self.log)
                except KeyboardInterrupt:
                    raise
                except BaseException as e:
                    entry.state.record_error("startup", e)
            for target in entry.targets:
                def hook(module, entry=entry, target=target):
                    self._on_import(entry, target, module)
                entry.hooks.append((target, hook))
                _boot.when_imported(target, hook)

    # ---- the moment a target is imported ----

    def _on_import(self, entry, target, module):
        if entry.status not in ("waiting", "active"):
            return
        if not entry.state.active:
            return
        if entry.plugin is None:
            try:
                entry.plugin = entry.load()
            except KeyboardInterrupt:
                raise
            except BaseException as e:
                entry.status = "failed"
                entry.note = "could not load: %r" % (e,)
                entry.state.record_error("load", e)
                return
            p = entry.plugin
            if p.distribution and p.versions:
                try:
                    version = plugin_api.distribution_version(p.distribution, module)
                    entry.version = version
                    if version is not None and not plugin_api.version_matches(version, p.versions):
                        entry.status = "unsupported"
                        entry.note = "%s %s is outside %s" % (p.distribution, version, p.versions)
                        entry.state.unplug(entry.note)
                        self.log.info("agent-run: plugin %s not applied: %s", entry.name, entry.note)
                        return
                except KeyboardInterrupt:
                    raise
                except BaseException as e:
                    entry.state.record_error("version check", e)
        for fn in entry.plugin.hooks.get(target, ()):
            if not entry.state.active:
                break
            try:
                fn(module, entry.patcher)
            except KeyboardInterrupt:
                raise
            except BaseException as e:
                entry.state.record_error("post-import hook for %s" % target, e)
        if entry.state.active:
            entry.status = "active"
            self.log.debug("agent-run: plugin %s instrumented %s", entry.name, target)

    def _import_hook_failed(self, name, hook, exc):
        # Only reached for hooks not run through _on_import (which contains its own).
        self.log.error("agent-run: post-import hook for %s failed: %r", name, exc)

    # ---- errors and unplugging ----

    def _on_error(self, state, where, exc, unplugged_now):
        entry = state.info
        name = state.name
        log = self.log
        try:
            entry.logged += 1
            now = time.monotonic()
            if entry.logged == 1:
                log.error("agent-run: plugin %s failed in %s (error 1 of %d allowed); the app is not affected:\n%s",
                          name, where, self.error_limit, _format(exc))
                entry.last_logged = now
            elif entry.logged <= _ONE_LINE_ERRORS or now - entry.last_logged >= _RATE_LIMIT_SECONDS:
                log.warning("agent-run: plugin %s failed in %s (error %d): %s",
                            name, where, state.errors, _one_line(exc))
                entry.last_logged = now
        except Exception:
            pass
        if unplugged_now:
            self.unplug(entry, state.unplug_reason or "too many errors")

    def unplug(self, entry, reason):
        entry.state.unplug(reason)  # no-op if the native side already did
        if entry.reported_unplug:
            return
        entry.reported_unplug = True
        entry.status = "unplugged"
        entry.note = reason
        reverted = entry.patcher.revert(self.log)
        for target, hook in entry.hooks:
            _boot.remove_import_hooks(target, hook)
        self.log.error("agent-run: unplugged plugin %s: %s. Its %d patch(es) are reverted to the originals; "
                       "calls already in progress finish as plain calls; the app runs without it.",
                       entry.name, reason, reverted)

    # ---- health ----

    def health(self):
        out = {}
        for name, entry in self.entries.items():
            snap = entry.state.snapshot()
            state = snap["state"]
            if entry.status in ("waiting", "disabled", "unsupported", "failed"):
                state = entry.status
            elif state == "unplugged":
                entry.status = "unplugged"
            snap["state"] = state
            snap["origin"] = entry.origin
            snap["targets"] = list(entry.targets)
            snap["version"] = entry.version
            snap["note"] = entry.note
            out[name] = snap
        return out


def _format(exc):
    try:
        import traceback
        return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
    except Exception:
        return _one_line(exc)


def _one_line(exc):
    try:
        return "%s: %s" % (type(exc).__name__, exc)
    except Exception:
        return type(exc).__name__


def _plugin_from_module(module, name, targets):
    """A built-in plugin module defines `plugin` (a Plugin), or the simple
    form PATCHES = {module name: fn(module)} (patches it makes itself, which
    unplugging cannot revert)."""
    p = getattr(module, "plugin", None)
    if isinstance(p, plugin_api.Plugin):
        return p
    patches = getattr(module, "PATCHES", None)
    if isinstance(patches, dict):
        p = plugin_api.Plugin(name, targets)
        for target, fn in patches.items():
            p.on_import(target)(lambda mod, patcher, fn=fn: fn(mod))
        return p
    raise TypeError("plugin module %s defines neither `plugin` nor `PATCHES`" % module.__name__)


def _load_user_file(path, n):
    with open(path, "rb") as f:
        source = f.read()
    name = "_agent_run_user_plugin_%d" % n
    module = type(sys)(name)
    module.__file__ = path
    code = compile(source, path, "exec")
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    found = []
    for value in list(module.__dict__.values()):
        if isinstance(value, plugin_api.Plugin) and value not in found:
            found.append(value)
    for value in module.__dict__.get("PLUGINS", ()) or ():
        if isinstance(value, plugin_api.Plugin) and value not in found:
            found.append(value)
    return found
