"""Pre-fork servers: the master and every worker have the agent."""
import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import (AGENT_RUN, APPS, clean_env, home_with_launch_modes, free_port, http_get, stop_process,
                      wait_for_port)

WORKERS = 4


def children_of(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(entry))
    return kids


def hook_mapped(pid):
    with open("/proc/%d/maps" % pid) as f:
        return "/_agent_run_boot.cpython-" in f.read()


def worker_reports(port, want):
    """Concurrent slow requests until `want` distinct workers have answered."""
    seen = {}
    for _ in range(20):
        with ThreadPoolExecutor(max_workers=want * 2) as pool:
            for status, body in pool.map(lambda _: http_get(port, "/slow"), range(want * 2)):
                assert status == 200
                info = json.loads(body)
                seen[info["pid"]] = info
        if len(seen) >= want:
            break
    return seen


def check_server(proc, port, master_pid):
    wait_for_port(port, proc)
    seen = worker_reports(port, WORKERS)
    assert len(seen) == WORKERS, "only %d workers answered" % len(seen)
    for pid, info in seen.items():
        assert info["hook"] is True, info
        assert info["boot"] is True, info
        assert info["ppid"] == master_pid
        assert hook_mapped(pid)
    assert hook_mapped(master_pid)
    kids = children_of(master_pid)
    assert set(seen) <= set(kids)
    # The collector runs beside the app, never as a child the master would reap.
    for kid in kids:
        with open("/proc/%d/cmdline" % kid, "rb") as f:
            assert b"libexec/agent-run/collector" not in f.read()


# Each server test twice: launched by the full launcher, and by the quick
# launch (the primers leave a plan for each server program).
home = home_with_launch_modes(["/usr/bin/gunicorn", "--version"], ["/usr/bin/uwsgi", "--version"])


@pytest.mark.skipif(shutil.which("gunicorn", path="/usr/bin") is None, reason="gunicorn is not installed")
def test_gunicorn_master_and_workers(home):
    port = free_port()
    proc = subprocess.Popen(
        [AGENT_RUN, "/usr/bin/gunicorn", "-w", str(WORKERS), "-b", "127.0.0.1:%d" % port,
         "--chdir", APPS, "wsgi_app:app"],
        env=clean_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        check_server(proc, port, proc.pid)
    finally:
        code = stop_process(proc)
        out, err = proc.communicate(timeout=30)
    assert code == 0, err.decode()[-3000:]
    assert out == b""


@pytest.mark.skipif(not os.path.exists("/usr/bin/uwsgi"), reason="uwsgi is not installed")
@pytest.mark.parametrize("threads", [False, True], ids=["no-threads", "enable-threads"])
def test_uwsgi_master_and_workers(home, threads):
    port = free_port()
    cmd = [AGENT_RUN, "/usr/bin/uwsgi", "--plugin", "python3", "--master", "--processes", str(WORKERS),
           "--http11-socket", "127.0.0.1:%d" % port, "--chdir", APPS, "--module", "wsgi_app:app",
           "--die-on-term", "--disable-logging"]
    if threads:
        cmd.append("--enable-threads")
    proc = subprocess.Popen(cmd, env=clean_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        check_server(proc, port, proc.pid)
    finally:
        code = stop_process(proc)
        out, err = proc.communicate(timeout=30)
    assert code in (0, 30), err.decode()[-3000:]  # uWSGI exits 30 after SIGTERM with --die-on-term
    assert b"Traceback" not in err, err.decode()[-3000:]
