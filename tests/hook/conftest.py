"""Fixtures of the hook core's tests.

The package under test is assembled in a temp dir: bootstrap/_agent_run/**.py
from the source tree plus every _hook*.so of the build's stage, so the tests
do not depend on the bootstrap copy step. Checks run as scripts (scripts/) in
a fresh interpreter: /usr/bin/python3 and each pyenv CPython 3.8-3.13 the
build found (hook_pythons.txt); missing versions are skipped with a message.
"""
import glob
import json
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD_DIR = os.environ.get("AGENT_RUN_BUILD_DIR") or os.path.join(ROOT, "build")
STAGE_PKG = os.path.join(BUILD_DIR, "stage", "share", "agent-run", "bootstrap", "_agent_run")
SOURCE_PKG = os.path.join(ROOT, "bootstrap", "_agent_run")
SCRIPTS = os.path.join(HERE, "scripts")
SYSTEM_PYTHON = "/usr/bin/python3"


def hook_pythons():
    """[(exe, version, ext_suffix)] from the build's hook_pythons.txt."""
    out = []
    path = os.path.join(BUILD_DIR, "hook_pythons.txt")
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3:
                out.append((parts[0], parts[1], parts[2]))
    return out


def _python_params():
    listed = hook_pythons()
    params = [pytest.param(SYSTEM_PYTHON, id="system")]
    for minor in range(8, 14):
        ver = "3.%d" % minor
        exe = next((e for e, v, _ in listed if v.startswith(ver + ".") and e != SYSTEM_PYTHON), None)
        if exe is None:
            params.append(pytest.param(None, id=ver, marks=pytest.mark.skip(
                reason="CPython %s is not on this machine (no pyenv build listed in hook_pythons.txt): skipped" % ver)))
        else:
            params.append(pytest.param(exe, id=ver))
    return params


PYTHONS = _python_params()


@pytest.fixture(params=PYTHONS)
def python(request):
    exe = request.param
    suffix = subprocess.run([exe, "-S", "-c", "import sysconfig;print(sysconfig.get_config_var('EXT_SUFFIX'))"],
                            capture_output=True, text=True).stdout.strip()
    if not os.path.exists(os.path.join(STAGE_PKG, "_hook" + suffix)):
        pytest.fail("no hook module _hook%s in %s: build the agent_run_hook_* targets" % (suffix, STAGE_PKG))
    return exe


@pytest.fixture(scope="session")
def agent_pkg(tmp_path_factory):
    """A directory holding the _agent_run package (sources + built hook
    modules) and the boot module beside it, as in a bootstrap directory."""
    root = tmp_path_factory.mktemp("agentpkg")
    dst = root / "_agent_run"
    shutil.copytree(SOURCE_PKG, str(dst), ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    sos = glob.glob(os.path.join(STAGE_PKG, "_hook*.so"))
    if not sos:
        pytest.fail("no _hook*.so in %s: build the agent_run_hook_* targets first" % STAGE_PKG)
    for so in sos:
        shutil.copy2(so, str(dst))
    boots = glob.glob(os.path.join(os.path.dirname(STAGE_PKG), "_agent_run_boot*.so"))
    if not boots:
        pytest.fail("no _agent_run_boot*.so in %s: build the agent_run_boot_* targets first"
                    % os.path.dirname(STAGE_PKG))
    for so in boots:
        shutil.copy2(so, str(root))
    return str(root)


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_RUN_", "OTEL_", "PYTHON"))}
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Run(object):
    def __init__(self, proc, log_path):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.log = open(log_path).read() if log_path and os.path.exists(log_path) else ""

    def json(self):
        """The last stdout line, as JSON (the scripts' report)."""
        lines = self.stdout.decode().strip().splitlines()
        assert lines, "no output; stderr:\n%s\nlog:\n%s" % (self.stderr.decode(), self.log)
        return json.loads(lines[-1])

    def __repr__(self):
        return "rc=%s\nstdout:\n%s\nstderr:\n%s\nlog:\n%s" % (
            self.rc, self.stdout.decode(errors="replace"), self.stderr.decode(errors="replace"), self.log)


@pytest.fixture
def run_script(agent_pkg, tmp_path):
    """run_script(python, script, *args, agent=True, settings=None) runs
    scripts/<script> (or an absolute path). With agent=True it goes through
    scripts/agent_runner.py, which installs the instrumentation first, the way
    the agent's start does, with `settings` and the log in a file (Run.log)."""
    counter = [0]

    def run(python, script, *args, agent=True, settings=None, timeout=120, env=None):
        counter[0] += 1
        path = script if os.path.isabs(script) else os.path.join(SCRIPTS, script)
        log_path = str(tmp_path / ("agent-%d.log" % counter[0]))
        e = clean_env(AGENT_RUN_TEST_PKG=agent_pkg, AGENT_RUN_TEST_LOG=log_path,
                      AGENT_RUN_TEST_SETTINGS=repr(settings or {}))
        e.update({k: str(v) for k, v in (env or {}).items()})
        if agent:
            cmd = [python, os.path.join(SCRIPTS, "agent_runner.py"), path] + list(args)
        else:
            e["PYTHONPATH"] = agent_pkg  # the same package visible, never installed
            cmd = [python, path] + list(args)
        proc = subprocess.run(cmd, env=e, capture_output=True, timeout=timeout, cwd=str(tmp_path))
        return Run(proc, log_path)

    return run
