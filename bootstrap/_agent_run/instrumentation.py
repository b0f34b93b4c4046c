"""Entry point of the instrumentation: install(settings, log), called by boot.

Never raises and never prints: whatever goes wrong, the app runs, without
the agent if need be, and the log says why. Imports nothing heavy: the
plugin table and the import hooks; a plugin's own code is imported only when
the app imports its library.
"""
import sys

from _agent_run import import_hooks

_manager = None
_settings = None
_log = None
_lazy_hooks = ()  # (target, hook) standing in for the plugin machinery until a target is imported


def install(settings, log):
    """Registers the built-in plugins (less plugins.disabled) and the user's
    (plugins.paths), and arranges for each to be applied when its library is
    imported. Returns the plugin manager when it started at once, else None.

    Most processes never import an instrumented library (a CLI tool, a
    script): for them only a post-import hook per target module is set up,
    and the plugin machinery (plugin_manager, plugin, the plugins' modules)
    is imported when the first target is. It starts at once only when it must
    act before any import: user plugin files (their targets are inside them)
    or a built-in plugin whose startup says it is needed (uWSGI's hook)."""
    global _settings, _log, _lazy_hooks
    if _settings is not None:
        return _manager
    try:
        try:
            from _agent_run import _hook  # noqa: F401 - the wrappers need it
        except KeyboardInterrupt:
            raise
        except BaseException as e:
            log.error("agent-run: the hook module could not be loaded (%s: %s); the program runs without "
                      "instrumentation", type(e).__name__, e)
            return None
        from _agent_run.plugins import BUILTIN
        _settings, _log = settings, log
        import atexit
        atexit.register(_log_health_at_exit)
        disabled = set(settings.get("plugins.disabled") or ())
        if settings.get("plugins.paths") or any(
                startup is not None and name not in disabled and getattr(startup, "needed", _always)(settings)
                for name, _module, _targets, startup in BUILTIN):
            return _start_manager()
        _lazy_hooks = tuple((target, _first_target_imported)
                            for name, _module, targets, _startup in BUILTIN if name not in disabled
                            for target in targets)
        for target, hook in _lazy_hooks:
            import_hooks.when_imported(target, hook)
        return None
    except KeyboardInterrupt:
        raise
    except BaseException:
        try:
            log.exception("agent-run: instrumentation failed to install; the program runs without it")
        except Exception:
            pass
        return None


def _always(settings):
    return True


def _first_target_imported(module):
    """The app imported an instrumented library: start the plugin machinery
    and apply what applies to this module (its import is still running, so
    the manager's own hooks for it would only run at its next import)."""
    global _lazy_hooks
    hooks, _lazy_hooks = _lazy_hooks, ()
    for target, hook in hooks:
        import_hooks.remove_hooks(target, hook)
    manager = _start_manager()
    if manager is None:
        return
    name = getattr(module, "__name__", None)
    for entry in list(manager.entries.values()):
        for target, hook in list(entry.hooks):
            if target == name:
                hook(module)


def _start_manager():
    global _manager
    if _manager is not None:
        return _manager
    try:
        from _agent_run import _hook, plugin_manager
        from _agent_run.plugins import BUILTIN
        manager = plugin_manager.Manager(_settings, _log, _hook)
        manager.add_builtin_table(BUILTIN)
        manager.add_user_files(_settings.get("plugins.paths") or ())
        _manager = manager
        manager.start(_settings)
        return manager
    except KeyboardInterrupt:
        raise
    except BaseException:
        try:
            _log.exception("agent-run: instrumentation failed to start; the program runs without it")
        except Exception:
            pass
        return None


def health():
    """{plugin name: {state, errors, last_error, calls, ops, ...}}; {} before install()."""
    m = _manager
    if m is not None:
        return m.health()
    if _settings is None:
        return {}
    from _agent_run.plugins import BUILTIN
    disabled = set(_settings.get("plugins.disabled") or ())
    return dict((name, {"state": "disabled" if name in disabled else "waiting", "calls": 0, "errors": 0})
                for name, _module, _targets, _startup in BUILTIN)


def _log_health_at_exit():
    log = _log
    if log is None:
        return
    # Nothing loaded means nothing went wrong: the snapshot is only info.
    if _manager is None and not log.enabled(log.INFO):
        return
    try:
        from _agent_run import health as health_module
        health_module.log_snapshot(health(), log)
    except Exception:
        pass
