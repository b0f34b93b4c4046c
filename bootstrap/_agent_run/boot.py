"""Starts the agent inside a Python process (called by the bootstrap's sitecustomize).

Order: load the hook module for this interpreter, read the config with the
same rules as the launcher (in C++, shared code), set up the log, write the
banner, install the instrumentation. Any failure leaves the app running
without the agent; a failure that would repeat in every child also takes the
bootstrap off PYTHONPATH, so children do not try again.
"""
import os
import sys

from _agent_run import log

# Set once the agent runs in this process: (settings dict, hook module).
state = None


def start(bootstrap_dir, version):
    try:
        _start(bootstrap_dir, version)
    except Exception:
        log.exception("agent-run failed to start; the program runs without it")
        deactivate(bootstrap_dir)


def _start(bootstrap_dir, version):
    global state
    env = os.environ
    log.configure(env.get("AGENT_RUN_LOG_LEVEL", "warning"), env.get("AGENT_RUN_LOG_FILE", ""))
    try:
        from _agent_run import _hook
    except ImportError as e:
        log.warning("no agent-run hook module for %s %s in %s (%s); running without the agent",
                    sys.implementation.name, sys.version.split()[0], bootstrap_dir, e)
        deactivate(bootstrap_dir)
        return
    if _hook.__version__ != version:
        log.warning("stale agent-run bootstrap in %s: sitecustomize is %s, hook module %s; "
                    "running without the agent (launch with agent-run again to regenerate it)",
                    bootstrap_dir, version, _hook.__version__)
        deactivate(bootstrap_dir)
        return

    settings, errors, warnings = _hook.load_config()
    log.configure(settings.get("log_level", "warning"), settings.get("log_file", ""))
    for where, message in warnings:
        log.warning("%s: %s", where, message)
    if errors:
        for where, message in errors:
            log.error("%s: %s", where, message)
        log.error("bad agent-run configuration; running without the agent")
        deactivate(bootstrap_dir)
        return
    if not settings.get("enabled", True):
        log.info("agent-run is disabled by the configuration")
        deactivate(bootstrap_dir)
        return
    if not settings.get("inherit_subprocesses", True):
        _restore_child_environment(env)

    state = (settings, _hook)
    if log.enabled(log.INFO):
        _banner(bootstrap_dir, version, settings)
    try:
        from _agent_run import instrumentation
    except ImportError:
        # Built before the instrumentation existed: the agent only reports.
        return
    instrumentation.install(settings, log)


def _banner(bootstrap_dir, version, settings):
    log.info("agent-run %s started: host=%s pid=%d python=%s (%s) bootstrap=%s config=%s service=%s",
             version, os.uname().nodename, os.getpid(), sys.version.split()[0], sys.executable,
             bootstrap_dir, os.environ.get("AGENT_RUN_CONFIG") or "(defaults)",
             settings.get("service_name") or "?")


def _restore_child_environment(env):
    """Children of this process get the environment the user had."""
    orig = env.get("AGENT_RUN_ORIG_PYTHONPATH")
    if orig is None:
        env.pop("PYTHONPATH", None)
    else:
        env["PYTHONPATH"] = orig
    for name in ("AGENT_RUN_BOOTSTRAP", "AGENT_RUN_ORIG_PYTHONPATH", "AGENT_RUN_COLLECTOR_SOCKET"):
        env.pop(name, None)


def deactivate(bootstrap_dir):
    """Steps aside: the bootstrap leaves sys.path and the children's PYTHONPATH."""
    try:
        while bootstrap_dir in sys.path:
            sys.path.remove(bootstrap_dir)
        _restore_child_environment(os.environ)
    except Exception:
        pass
