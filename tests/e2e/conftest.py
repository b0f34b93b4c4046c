"""Shared fixtures for the end-to-end tests.

Everything here runs real programs: the staged agent-run executable, real
interpreters, real servers on 127.0.0.1 that the tests start and stop by PID.
"""
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

BUILD_DIR = os.environ.get("AGENT_RUN_BUILD_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", "build"))
STAGE = os.path.join(BUILD_DIR, "stage")
AGENT_RUN = os.path.join(STAGE, "bin", "agent-run")
SYSTEM_PYTHON = "/usr/bin/python3"
APPS = os.path.join(os.path.dirname(__file__), "apps")


def hook_pythons():
    """(executable, version) of every interpreter a hook module was built for."""
    path = os.path.join(BUILD_DIR, "hook_pythons.txt")
    out = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2:
                out.append((parts[0], parts[1]))
    return out


def python_params():
    """pytest params for 3.8-3.13: present ones run, missing ones skip with a message."""
    present = {v.rsplit(".", 1)[0]: exe for exe, v in hook_pythons()}
    params = [pytest.param(SYSTEM_PYTHON, id="system")]
    for minor in range(8, 14):
        ver = "3.%d" % minor
        exe = next((e for v, e in present.items() if v == ver and e != SYSTEM_PYTHON), None)
        if exe is None:
            params.append(pytest.param(None, id=ver, marks=pytest.mark.skip(
                reason="CPython %s is not on this machine (no pyenv build): skipped" % ver)))
        else:
            params.append(pytest.param(exe, id=ver))
    return params


@pytest.fixture
def home(tmp_path):
    """A private HOME, so that each test gets its own bootstrap cache and data dir."""
    h = tmp_path / "home"
    h.mkdir()
    return h


def home_with_launch_modes(*primers):
    """A `home` fixture run twice: with the full launcher, and with the quick
    launch (src/launcher/freestanding/quick_launch.hpp). For the latter each
    `primer` (a program and arguments) is launched once first in
    clean_env(home) from the test's working directory, which leaves a launch
    plan that fits every later launch of the same program there (a plan
    compares the launcher's arguments, the program, and for Python the
    arguments up to the script, module or -c)."""
    @pytest.fixture(params=["full launch", "quick launch"])
    def home(request, tmp_path):
        h = tmp_path / "home"
        h.mkdir()
        if request.param == "quick launch":
            for primer in primers:
                subprocess.run([AGENT_RUN] + list(primer), env=clean_env(h), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=60)
            assert (h / ".cache" / "agent-run" / "launch-plans").exists()
        return h
    return home


def store_documents(home):
    """Every line of the local store's files under `home` (the default data
    directory), parsed, in file order: OTLP requests (trace files) and the
    collector's agentRunStats lines."""
    out = []
    for path in sorted(glob.glob(os.path.join(str(home), ".local", "share", "agent-run", "traces", "*.jsonl"))):
        with open(path) as f:
            out += [json.loads(line) for line in f if line.strip()]
    return out


def clean_env(home=None, **extra):
    """The environment a test program gets: the caller's, less anything agent-run or OTEL."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AGENT_RUN_", "OTEL_", "PYTHON"))}
    if home is not None:
        env["HOME"] = str(home)
        env.pop("XDG_CACHE_HOME", None)
        env.pop("XDG_DATA_HOME", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run(cmd, env=None, timeout=120, **kw):
    return subprocess.run(cmd, env=env, timeout=timeout, capture_output=True, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc=None, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("server exited with %s before listening" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("nothing listens on 127.0.0.1:%d after %.0fs" % (port, timeout))


def stop_process(proc, sig=signal.SIGTERM, timeout=20.0):
    """Stops a server this test started, by its PID (its process group where it has one)."""
    if proc.poll() is not None:
        return proc.returncode
    try:
        os.kill(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=timeout)


def http_get(port, path, timeout=10.0, headers=None):
    """A real HTTP/1.1 GET with the stdlib client; returns (status, body bytes)."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()
