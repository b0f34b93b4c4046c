"""What the bootstrap's sitecustomize runs: start the agent, then chain the
sitecustomize that the bootstrap shadows.

Kept to syntax that every Python parses (2.7 included), because a child
process on any interpreter may find the bootstrap on PYTHONPATH. It never
raises (but for errors of the chained, user's own sitecustomize, which
surface exactly as they would without agent-run) and never writes to stdout.
"""
import sys


def run(sitecustomize_file, version):
    from os.path import abspath, dirname
    here = dirname(abspath(sitecustomize_file))
    try:
        _start(here, version)
    except Exception:
        # boot contains its own errors; this is the last line of defence.
        pass
    _chain(here)


def _start(here, version):
    impl = getattr(sys, "implementation", None)
    if impl is None or impl.name != "cpython" or not ((3, 8) <= sys.version_info[:2] <= (3, 13)):
        from os import environ
        _unsupported(here, environ)
        return
    from _agent_run import boot
    boot.start(here, version)


def _unsupported(here, environ):
    # No hook module fits this interpreter: step aside, and take the bootstrap
    # off PYTHONPATH so that this process's children do not try again.
    while here in sys.path:
        sys.path.remove(here)
    orig = environ.get("AGENT_RUN_ORIG_PYTHONPATH")
    if orig is None:
        environ.pop("PYTHONPATH", None)
    else:
        environ["PYTHONPATH"] = orig
    if environ.get("AGENT_RUN_LOG_LEVEL", "warning") in ("error", "off"):
        return
    impl = getattr(sys, "implementation", None)
    msg = "agent-run: warning: %s %s is not supported (CPython 3.8-3.13 are); running without the agent\n" % (
        getattr(impl, "name", "python"), sys.version.split()[0])
    log_file = environ.get("AGENT_RUN_LOG_FILE")
    try:
        if log_file:
            f = open(log_file, "a")
            try:
                f.write(msg)
            finally:
                f.close()
        elif sys.stderr is not None:
            sys.stderr.write(msg)
    except Exception:
        pass


def _chain(here):
    # The next sitecustomize on sys.path, skipping the bootstrap. Found and
    # loaded with the import system's own path finder (always loaded), so
    # nothing is imported for it.
    from os.path import abspath
    path = [p for p in sys.path if abspath(p or ".") != here]
    if sys.version_info[0] < 3:
        import imp
        try:
            found = imp.find_module("sitecustomize", path)
        except ImportError:
            return
        try:
            imp.load_module("sitecustomize", *found)
        finally:
            if found[0] is not None:
                found[0].close()
        return
    bootstrap = sys.modules["_frozen_importlib"]
    spec = sys.modules["_frozen_importlib_external"].PathFinder.find_spec("sitecustomize", path)
    if spec is None:
        return
    module = bootstrap.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)
