"""Entry point of the instrumentation: install(settings, log), called by boot.

Never raises and never prints: whatever goes wrong, the app runs, without
the agent if need be, and the log says why. Imports nothing heavy: the
plugin table and the import hooks; a plugin's own code is imported only when
the app imports its library.
"""
import sys

_manager = None


def install(settings, log):
    """Registers the built-in plugins (less plugins.disabled) and the user's
    (plugins.paths), and arranges for each to be applied when its library is
    imported. Returns the plugin manager, or None when the agent cannot run."""
    global _manager
    if _manager is not None:
        return _manager
    try:
        try:
            from _agent_run import _hook
        except KeyboardInterrupt:
            raise
        except BaseException as e:
            log.error("agent-run: the hook module could not be loaded (%s: %s); the program runs without "
                      "instrumentation", type(e).__name__, e)
            return None
        from _agent_run import plugin_manager
        from _agent_run.plugins import BUILTIN

        manager = plugin_manager.Manager(settings, log, _hook)
        manager.add_builtin_table(BUILTIN)
        manager.add_user_files(settings.get("plugins.paths") or ())
        manager.start(settings)
        _manager = manager
        import atexit
        atexit.register(_log_health_at_exit)
        return manager
    except KeyboardInterrupt:
        raise
    except BaseException:
        try:
            log.exception("agent-run: instrumentation failed to install; the program runs without it")
        except Exception:
            pass
        return None


def health():
    """{plugin name: {state, errors, last_error, calls, ops, ...}}; {} before install()."""
    m = _manager
    return m.health() if m is not None else {}


def _log_health_at_exit():
    m = _manager
    if m is None:
        return
    try:
        from _agent_run import health as health_module
        health_module.log_snapshot(m.health(), m.log)
    except Exception:
        pass
