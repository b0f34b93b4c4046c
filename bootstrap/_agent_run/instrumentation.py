"""The plugin machinery's entry. Not imported at startup: the boot module
(src/boot/boot.cpp) sets post-import hooks on the built-in plugins' target
modules, and calls first_target_imported() when the app imports the first
of them; start() when the machinery must act before any import (user plugin
files in plugins.paths, uWSGI's post-fork hook).

Never raises into the app: the boot module logs what escapes from here, and
the app runs without the instrumentation.
"""
import _agent_run_boot as _boot

from _agent_run import log

_manager = None
_settings = None
_health_logged = False


def start(settings):
    """Starts the plugin machinery now. Returns the plugin manager, or None."""
    global _settings
    if _settings is None:
        _settings = settings
    return _start_manager()


def first_target_imported(settings, module):
    """The app imported an instrumented library: start the plugin machinery
    and apply what applies to this module (its import is still running, so
    the manager's own hooks for it would only run at its next import)."""
    manager = start(settings)
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
    settings = _settings or {}
    try:
        from _agent_run import _hook, plugin_manager
        from _agent_run.plugins import BUILTIN
        import atexit
        manager = plugin_manager.Manager(settings, log, _hook)
        manager.add_builtin_table(BUILTIN)
        manager.add_user_files(settings.get("plugins.paths") or ())
        _manager = manager
        atexit.register(log_health_at_exit)
        manager.start(settings)
        return manager
    except KeyboardInterrupt:
        raise
    except BaseException:
        try:
            log.exception("agent-run: instrumentation failed to start; the program runs without it")
        except Exception:
            pass
        return None


def health():
    """{plugin name: {state, errors, last_error, calls, ops, ...}}; {} before the agent started."""
    m = _manager
    if m is not None:
        return m.health()
    settings = _settings if _settings is not None else _boot.settings()
    if settings is None:
        return {}
    disabled = set(settings.get("plugins.disabled") or ())
    return dict((name, {"state": "disabled" if name in disabled else "waiting", "calls": 0, "errors": 0})
                for name, _module, _targets, _startup in _boot.builtin_plugins())


def log_health_at_exit():
    """The health snapshot in the log, once."""
    global _health_logged
    if _health_logged:
        return
    _health_logged = True
    # Nothing loaded means nothing went wrong: the snapshot is only info.
    if _manager is None and not log.enabled(log.INFO):
        return
    try:
        from _agent_run import health as health_module
        health_module.log_snapshot(health(), log)
    except Exception:
        pass
