"""The agent log for the Python side (the plugin machinery and the plugins).

Every line goes through the boot module's log (src/boot/agent_log.cpp): the
same format and destination as the native side's, stderr (file descriptor 2)
or the configured log file, never stdout; it works when sys.stderr is None
or replaced by the app, and a failing write is dropped rather than raised.
"""
import sys

import _agent_run_boot as _boot

DEBUG, INFO, WARNING, ERROR, OFF = _boot.LOG_DEBUG, _boot.LOG_INFO, _boot.LOG_WARNING, _boot.LOG_ERROR, _boot.LOG_OFF

configure = _boot.configure_log  # configure(level_name="warning", path="")
enabled = _boot.log_enabled


def _write(level, msg, args):
    if not _boot.log_enabled(level):
        return
    try:
        _boot.log(level, msg % args if args else msg)
    except Exception:
        pass


def debug(msg, *args):
    _write(DEBUG, msg, args)


def info(msg, *args):
    _write(INFO, msg, args)


def warning(msg, *args):
    _write(WARNING, msg, args)


def error(msg, *args):
    _write(ERROR, msg, args)


def exception(msg, *args):
    """An error with the traceback of the exception being handled."""
    if not _boot.log_enabled(ERROR):
        return
    try:
        # traceback is imported only when there is one to format.
        import traceback
        tb = "".join(traceback.format_exception(*sys.exc_info())).rstrip()
    except Exception:
        tb = "(traceback unavailable)"
    try:
        _write(ERROR, (msg % args if args else msg) + "\n" + tb, ())
    except Exception:
        pass
