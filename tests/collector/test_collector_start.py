"""start_collector() as the launcher uses it: a private socket directory, a
collector that is not a child of the app, that does not hold the app's
stdout, that exits after the app; and an app that runs when it cannot start."""
import json
import os
import stat
import subprocess
import sys
import time

from collector_helpers import COLLECTOR, SINK_DRIVER, START_DRIVER, check_driver_spans, read_store

# The "app": reports what it sees about the collector, records spans through
# the sink, and exits. Its stdout is a pipe the test reads to EOF.
APP = r"""
import json, os, subprocess, sys
sock = os.environ["AGENT_RUN_COLLECTOR_SOCKET"]
d = os.path.dirname(sock)
st = os.stat(d)
collector = None
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        with open("/proc/%s/cmdline" % p, "rb") as f:
            cmd = f.read().split(b"\0")
        with open("/proc/%s/stat" % p) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    if b"--socket=" + sock.encode() in cmd:
        fds = os.listdir("/proc/%s/fd" % p)
        collector = {"pid": int(p), "ppid": int(fields[1]), "sid": int(fields[3]), "fds": sorted(int(x) for x in fds),
                     "stdout": os.readlink("/proc/%s/fd/1" % p), "stderr": os.readlink("/proc/%s/fd/2" % p)}
subprocess.run([sys.argv[1], "--socket=" + sock, "--requests=50", "--workers=1"], check=True, stdout=subprocess.DEVNULL)
print(json.dumps({"pid": os.getpid(), "sid": os.getsid(0), "socket": sock, "dir_mode": stat.S_IMODE(st.st_mode),
                  "dir_uid": st.st_uid, "collector": collector}))
""".replace("import json, os", "import json, os, stat")


def wait_gone(pid, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_collector_is_detached_private_and_exits_after_the_app(tmp_path):
    data = tmp_path / "traces"
    result = tmp_path / "result"
    # capture_output: a collector holding the app's stdout/stderr would make this hang past the timeout.
    out = subprocess.run([START_DRIVER, "--collector=" + COLLECTOR, "--data-dir=%s" % data, "--drain-ms=3000",
                          "--result=%s" % result, "--", sys.executable, "-c", APP, SINK_DRIVER],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    info = json.loads(out.stdout)
    c = info["collector"]
    assert c is not None, "the collector was running while the app ran"
    assert info["dir_mode"] == 0o700
    assert info["dir_uid"] == os.getuid()
    assert os.path.basename(info["socket"]) == "collector.sock"
    assert c["ppid"] != info["pid"], "the collector is not a child of the app"
    assert c["sid"] != info["sid"], "the collector runs in its own session"
    assert c["sid"] != c["pid"], "not a session leader: it can never acquire a controlling terminal"
    assert c["stdout"] == "/dev/null" and c["stderr"] == "/dev/null"
    assert c["fds"][:3] == [0, 1, 2]
    # The collector exits after the app (within its drain time), having exported the spans.
    assert wait_gone(c["pid"])
    check_driver_spans(read_store(str(data)), procs=2, requests=50)
    assert not os.path.exists(info["socket"])
    # A clean run leaves nothing behind: the private directory (and its log) is removed.
    assert not os.path.exists(os.path.dirname(info["socket"]))


def test_socket_dir_is_under_a_private_xdg_runtime_dir(tmp_path):
    xdg = tmp_path / "xdg"
    xdg.mkdir(mode=0o700)
    os.chmod(str(xdg), 0o700)
    result = tmp_path / "result"
    out = subprocess.run([START_DRIVER, "--collector=" + COLLECTOR, "--data-dir=%s" % (tmp_path / "t"),
                          "--result=%s" % result, "--", "true"],
                         capture_output=True, text=True, timeout=60, env=dict(os.environ, XDG_RUNTIME_DIR=str(xdg)))
    assert out.returncode == 0
    sock = open(str(result)).read().splitlines()[0]
    assert sock.startswith(str(xdg) + "/agent-run-")
    # A shared (not private) XDG_RUNTIME_DIR is not used.
    os.chmod(str(xdg), 0o755)
    out = subprocess.run([START_DRIVER, "--collector=" + COLLECTOR, "--data-dir=%s" % (tmp_path / "t"),
                          "--result=%s" % result, "--", "true"],
                         capture_output=True, text=True, timeout=60, env=dict(os.environ, XDG_RUNTIME_DIR=str(xdg)))
    assert out.returncode == 0
    sock = open(str(result)).read().splitlines()[0]
    assert sock.startswith("/tmp/agent-run-")


def test_app_runs_when_the_collector_cannot_start(tmp_path):
    # A missing collector is found before anything starts; one that exits at
    # once is found when the caller waits for it to listen.
    for collector, ready in [("/nonexistent/collector", "0"), ("/nonexistent/collector", "1000"),
                             ("/bin/false", "1000")]:
        result = tmp_path / "result"
        out = subprocess.run([START_DRIVER, "--collector=" + collector, "--data-dir=%s" % (tmp_path / "t"),
                              "--result=%s" % result, "--ready-ms=" + ready, "--",
                              sys.executable, "-c", "print('app ran')"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0
        assert out.stdout == "app ran\n"
        lines = out.stderr.splitlines()
        assert len(lines) == 1 and "warning" in lines[0], out.stderr
        sock, error = open(str(result)).read().split("\n")[:2]
        assert sock == "" and error


def test_collector_that_cannot_write_its_store_does_not_start(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = tmp_path / "result"
    out = subprocess.run([START_DRIVER, "--collector=" + COLLECTOR, "--data-dir=%s/sub" % blocker,
                          "--log=%s" % (tmp_path / "agent.log"), "--result=%s" % result, "--ready-ms=1000",
                          "--", "true"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    sock, error = open(str(result)).read().split("\n")[:2]
    assert sock == "" and "exited before listening" in error
    assert "cannot create the data directory" in (tmp_path / "agent.log").read_text()
