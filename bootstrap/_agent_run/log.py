"""The agent log: stderr (file descriptor 2) or the configured log file.

Never stdout: a program's stdout is often its data. Writes go straight to
the file descriptor, so they work when sys.stderr is None or replaced by the
app, and a failing write is dropped rather than raised into the app.
"""
import os
import sys
import time

DEBUG, INFO, WARNING, ERROR, OFF = 10, 20, 30, 40, 100
_LEVELS = {"debug": DEBUG, "info": INFO, "warning": WARNING, "error": ERROR, "off": OFF}
_NAMES = {DEBUG: "DEBUG", INFO: "INFO", WARNING: "WARNING", ERROR: "ERROR"}

_level = WARNING
_fd = 2
_path = ""


def configure(level_name="warning", path=""):
    """Sets the level and the destination; a log file that cannot be opened
    falls back to stderr with one warning."""
    global _level, _fd, _path
    _level = _LEVELS.get(level_name, WARNING)
    if path and path != _path:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            _fd, _path = 2, ""
            warning("cannot open log file %s (%s); logging to stderr", path, e.strerror)
            return
        _fd, _path = fd, path


def enabled(level):
    return level >= _level


def _write(level, msg, args):
    if level < _level:
        return
    try:
        if args:
            msg = msg % args
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
        line = "%s.%03dZ agent-run[%d] %s: %s\n" % (
            stamp, int(now * 1000) % 1000, os.getpid(), _NAMES.get(level, "LOG"), msg)
        data = line.encode("utf-8", "backslashreplace")
        while data:
            n = os.write(_fd, data)
            data = data[n:]
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
    if ERROR < _level:
        return
    try:
        # traceback is imported only when there is one to format.
        import traceback
        tb = "".join(traceback.format_exception(*sys.exc_info())).rstrip()
    except Exception:
        tb = "(traceback unavailable)"
    _write(ERROR, (msg % args if args else msg) + "\n" + tb, ())
