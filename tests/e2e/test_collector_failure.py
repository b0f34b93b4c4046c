"""A collector that cannot run: the app runs as without agent-run, with its
own exit status, and the user hears why once, on the app's stderr."""
import os
import shutil
import time

from conftest import AGENT_RUN, STAGE, SYSTEM_PYTHON, clean_env, run

APP = ("import sqlite3, sys\n"
       "c = sqlite3.connect(':memory:')\n"
       "print(sum(c.execute('select 1').fetchone()[0] for _ in range(20)))\n"
       "sys.exit(7)\n")


def test_collector_that_cannot_write_its_store(home, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    # The socket's private directory in the test's own runtime directory, to
    # see that the collector that could not start leaves nothing behind.
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    bare = run([SYSTEM_PYTHON, "-c", APP], env=clean_env(home))
    r = run([AGENT_RUN, SYSTEM_PYTHON, "-c", APP],
            env=clean_env(home, AGENT_RUN_DATA_DIR=str(blocker / "data"), XDG_RUNTIME_DIR=str(runtime)))
    assert r.returncode == bare.returncode == 7
    assert r.stdout == bare.stdout == b"20\n", r.stderr
    lines = [l for l in r.stderr.decode().splitlines() if l.strip()]
    # The collector's line (from its startup-error channel); the app's
    # processes, which recorded spans and found no collector, add nothing.
    assert len(lines) == 1, lines
    assert lines[0].startswith("agent-run: warning: the collector cannot start: ")
    assert "cannot create the data directory" in lines[0] and "records nothing" in lines[0]
    end = time.monotonic() + 20
    while time.monotonic() < end and os.listdir(runtime):
        time.sleep(0.02)
    assert os.listdir(runtime) == []


def staged_copy_with_collector(tmp_path, make_collector):
    """A copy of the staged tree (agent-run finds its files next to its own
    executable) whose collector is replaced by make_collector(path)."""
    copy = tmp_path / "stage"
    (copy / "bin").mkdir(parents=True)
    shutil.copy2(os.path.join(STAGE, "bin", "agent-run"), str(copy / "bin" / "agent-run"))
    os.symlink(os.path.join(STAGE, "share"), str(copy / "share"))
    libexec = copy / "libexec" / "agent-run"
    libexec.mkdir(parents=True)
    make_collector(libexec / "collector")
    return str(copy / "bin" / "agent-run")


def test_collector_that_cannot_be_executed(home, tmp_path):
    def not_executable(path):
        path.write_text("#!/bin/sh\n")
        path.chmod(0o644)

    agent = staged_copy_with_collector(tmp_path, not_executable)
    r = run([agent, SYSTEM_PYTHON, "-c", "import sys; print('app ran'); sys.exit(4)"], env=clean_env(home))
    assert r.returncode == 4
    assert r.stdout == b"app ran\n"
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("agent-run: warning: cannot start the collector: cannot execute ")
    assert "collector: Permission denied" in lines[0] and "records nothing" in lines[0]


def test_collector_that_cannot_be_executed_when_the_app_connects(home, tmp_path):
    # A directory passes the launcher's access() check; the standby's execve
    # fails on the app's first connection, and the standby says so once.
    agent = staged_copy_with_collector(tmp_path, lambda path: path.mkdir())
    r = run([agent, SYSTEM_PYTHON, "-c", APP], env=clean_env(home))
    assert r.returncode == 7
    assert r.stdout == b"20\n"
    lines = [l for l in r.stderr.decode().splitlines() if l.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("agent-run: warning: cannot start the collector: cannot execute ")
    assert "collector: Permission denied" in lines[0] and "records nothing" in lines[0]


def test_collector_killed_while_the_app_runs_one_warning_at_exit(home):
    # The app records spans, its collector is killed (found by its socket,
    # stopped by PID), the app records more: they are dropped and counted
    # without blocking, and the process says so once, at exit.
    app = r"""
import os, signal, sqlite3, sys, time
sock = os.environ["AGENT_RUN_COLLECTOR_SOCKET"]
c = sqlite3.connect(':memory:')
for _ in range(20):
    c.execute('select 1')
time.sleep(0.3)  # a flush: the process is connected
for p in os.listdir("/proc"):
    try:
        with open("/proc/%s/cmdline" % p, "rb") as f:
            if p.isdigit() and b"--socket=" + sock.encode() in f.read().split(b"\0"):
                os.kill(int(p), signal.SIGKILL)
    except OSError:
        pass
t0 = time.monotonic()
for _ in range(2000):
    c.execute('select 1')
time.sleep(0.3)
for _ in range(20):
    c.execute('select 1')
print("done in %.1f s %s" % (time.monotonic() - t0, os.path.dirname(sock)))
sys.exit(3)
"""
    r = run([AGENT_RUN, SYSTEM_PYTHON, "-c", app], env=clean_env(home))
    if r.stdout.startswith(b"done in "):
        shutil.rmtree(r.stdout.split()[4].decode(), ignore_errors=True)  # what the killed collector left
    assert r.returncode == 3, r.stderr
    assert r.stdout.startswith(b"done in ")
    assert float(r.stdout.split()[2]) < 5, "recording never waits on a dead collector"
    lines = [l for l in r.stderr.decode().splitlines() if l.strip()]
    assert len(lines) == 1, lines
    assert "spans were dropped" in lines[0] and "stopped while the app ran" in lines[0]
