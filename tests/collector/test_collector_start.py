"""start_collector() as the launcher uses it: a private socket directory and
a listening socket made before the app starts, a collector that is not a
child of the app, that lets go of the app's stderr once running and never
holds its stdout, that exits after the app; and an app that runs when the
collector cannot start."""
import json
import os
import shutil
import stat
import subprocess
import sys
import time

import pytest

from collector_helpers import COLLECTOR, SINK_DRIVER, START_DRIVER, check_driver_spans, read_store

# The "app": reports what it sees about the collector, records spans through
# the sink, and exits. Its stdout is a pipe the test reads to EOF.
APP = r"""
import json, os, subprocess, sys, time
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
        # Its stderr is the app's until it runs (a startup-error channel): wait for it to let go.
        for _ in range(500):
            if os.readlink("/proc/%s/fd/2" % p) == "/dev/null":
                break
            time.sleep(0.01)
        fds = os.listdir("/proc/%s/fd" % p)
        collector = {"pid": int(p), "ppid": int(fields[1]), "sid": int(fields[3]), "fds": sorted(int(x) for x in fds),
                     "stdout": os.readlink("/proc/%s/fd/1" % p), "stderr": os.readlink("/proc/%s/fd/2" % p),
                     "fd3": os.readlink("/proc/%s/fd/3" % p)}
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
    assert c["fds"][:4] == [0, 1, 2, 3]
    assert c["fd3"].startswith("socket:"), "the launcher's listening socket, inherited"
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
    assert sock.startswith(shared_socket_base() + "/agent-run-")


def shared_socket_base():
    """Where the socket goes without a private XDG_RUNTIME_DIR: /dev/shm when it
    is a sticky, world-writable tmpfs owned by root (creating there is 10x
    cheaper than on a disk /tmp), else /tmp."""
    try:
        st = os.lstat("/dev/shm")
    except OSError:
        return "/tmp"
    fs_type = subprocess.run(["stat", "-f", "-c", "%T", "/dev/shm"], capture_output=True, text=True).stdout.strip()
    if stat.S_ISDIR(st.st_mode) and st.st_uid == 0 and st.st_mode & 0o1777 == 0o1777 and fs_type == "tmpfs":
        return "/dev/shm"
    return "/tmp"


def test_socket_dir_falls_back_to_tmp_without_a_usable_dev_shm(tmp_path):
    # /dev/shm made unusable for this process only: a private mount namespace
    # where it is an ordinary directory (unshare needs root; skipped otherwise).
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) to hide /dev/shm in a mount namespace")
    result = tmp_path / "result"
    plain = tmp_path / "plain"
    plain.mkdir(mode=0o1777)
    os.chmod(str(plain), 0o1777)
    script = "mount --bind %s /dev/shm && exec %s --collector=%s --data-dir=%s --result=%s -- true" % (
        plain, START_DRIVER, COLLECTOR, tmp_path / "t", result)
    out = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                         capture_output=True, text=True, timeout=60,
                         env={k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"})
    if out.returncode != 0 and "mount" in out.stderr:
        pytest.skip("cannot bind-mount over /dev/shm here: " + out.stderr.strip())
    assert out.returncode == 0, out.stderr
    sock = open(str(result)).read().splitlines()[0]
    assert sock.startswith("/tmp/agent-run-"), sock



def run_start_driver(tmp_path, collector, *driver_args, app=("print('app ran')",), code=0, env=None):
    result = tmp_path / "result"
    app_code = "\n".join(app) + "\nimport sys; sys.exit(%d)\n" % code
    out = subprocess.run([START_DRIVER, "--collector=" + collector, "--result=%s" % result] + list(driver_args) +
                         ["--", sys.executable, "-c", app_code],
                         capture_output=True, text=True, timeout=60, env=env)
    sock, error = open(str(result)).read().split("\n")[:2]
    return out, sock, error


def test_app_runs_when_the_collector_cannot_be_executed(tmp_path):
    # Each fails at execve, in a child sharing the launcher's memory: the
    # errno comes back, the launcher warns once and runs the app without it.
    not_exec = tmp_path / "not-executable"
    not_exec.write_text("#!/bin/sh\n")
    bad_format = tmp_path / "bad-format"
    bad_format.write_bytes(b"\x7fELF garbage")
    bad_format.chmod(0o755)
    a_dir = tmp_path / "a-dir"
    a_dir.mkdir()
    for collector, why in [("/nonexistent/collector", "No such file or directory"),
                           (str(not_exec), "Permission denied"), (str(bad_format), "Exec format error"),
                           (str(a_dir), "Permission denied")]:
        out, sock, error = run_start_driver(tmp_path, collector, "--data-dir=%s" % (tmp_path / "t"), code=3)
        assert out.returncode == 3, "the app's own status"
        assert out.stdout == "app ran\n"
        lines = out.stderr.splitlines()
        assert len(lines) == 1 and "warning" in lines[0], out.stderr
        assert sock == ""
        assert error.startswith("cannot execute " + collector + ": " + why), error
        # Nothing left behind: no socket directory in /tmp for this run.
        assert "agent-run-" not in out.stderr


def test_collector_that_fails_at_startup_warns_once_on_the_apps_stderr(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    out, sock, error = run_start_driver(tmp_path, COLLECTOR, "--data-dir=%s/sub" % blocker,
                                        app=("import time", "time.sleep(1)", "print('app ran')"), code=5)
    assert out.returncode == 5, "the app's own status"
    assert out.stdout == "app ran\n"
    # The launcher did not wait: it handed out the socket; the collector said why it stopped, once.
    assert sock and error == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("agent-run: warning: the collector cannot start: exporter store cannot start:")
    assert "cannot create the data directory" in lines[0] and "records nothing" in lines[0]
    # The collector removed the launcher's socket and its private directory.
    assert not os.path.exists(sock)
    assert not os.path.exists(os.path.dirname(sock))


def test_collector_that_fails_at_startup_with_a_log_file_names_it(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    log = tmp_path / "agent.log"
    out, sock, error = run_start_driver(tmp_path, COLLECTOR, "--data-dir=%s/sub" % blocker, "--log=%s" % log,
                                        app=("import time", "time.sleep(1)"))
    assert out.returncode == 0
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and "(collector log: %s)" % log in lines[0], out.stderr
    assert "cannot create the data directory" in log.read_text()


def test_spans_sent_before_the_collector_accepts_are_received(tmp_path):
    # A collector that takes a second to come up: the app's processes connect
    # (the launcher's socket is listening) and send everything, and exit,
    # before it even runs; it finds their connections in the backlog.
    started = tmp_path / "collector-started"
    slow = tmp_path / "slow-collector"
    slow.write_text("#!/bin/sh\nsleep 1\necho $$ > %s\nexec %s \"$@\"\n" % (started, COLLECTOR))
    slow.chmod(0o755)
    data = tmp_path / "traces"
    log = tmp_path / "collector.log"
    app = (
        "import json, os, subprocess, sys, time",
        "sent = subprocess.run([%r, '--socket=' + os.environ['AGENT_RUN_COLLECTOR_SOCKET'], '--requests=40',"
        " '--workers=1'], check=True, capture_output=True, text=True).stdout" % SINK_DRIVER,
        "before = os.path.exists(%r)" % str(started),
        # Live until the collector watches this PID (it has logged that it listens).
        "end = time.monotonic() + 30",
        "while time.monotonic() < end and 'listening on' not in (open(%r).read() if os.path.exists(%r) else ''):"
        % (str(log), str(log)),
        "    time.sleep(0.02)",
        "print(json.dumps({'collector_started_before_send_ended': before, 'sent': sent}))",
    )
    out, sock, error = run_start_driver(tmp_path, str(slow), "--data-dir=%s" % data, "--log=%s" % log,
                                        "--drain-ms=5000", app=app)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    info = json.loads(out.stdout)
    assert info["collector_started_before_send_ended"] is False
    stats = [json.loads(l) for l in info["sent"].splitlines() if l.strip()]
    assert all(s["dropped_no_collector"] == 0 and s["sent"] == 80 for s in stats), stats
    assert wait_gone(int(started.read_text()))
    check_driver_spans(read_store(str(data)), procs=2, requests=40)


def test_spans_of_an_app_gone_before_the_collector_starts_are_received(tmp_path):
    # What the standby's late exec can meet: the app's processes connected,
    # sent everything and exited, and the app's PID is gone (a zombie) when
    # the collector starts. It finds their connections pending, accepts them
    # and drains at once instead of exiting as for an app with nothing sent.
    started = tmp_path / "collector-started"
    late = tmp_path / "late-collector"
    late.write_text(
        "#!/bin/sh\n"
        "for a in \"$@\"; do case $a in --app-pid=*) pid=${a#--app-pid=};; esac; done\n"
        "while [ -e /proc/$pid ] && ! grep -q ') Z' /proc/$pid/stat 2>/dev/null; do sleep 0.01; done\n"
        "echo $$ > %s\n"
        "exec %s \"$@\"\n" % (started, COLLECTOR))
    late.chmod(0o755)
    data = tmp_path / "traces"
    app = (
        "import os, subprocess",
        "subprocess.run([%r, '--socket=' + os.environ['AGENT_RUN_COLLECTOR_SOCKET'], '--requests=40',"
        " '--workers=1'], check=True, stdout=subprocess.DEVNULL)" % SINK_DRIVER,
        "print('sent, started before exit: %%s' %% os.path.exists(%r))" % str(started),
    )
    out, sock, error = run_start_driver(tmp_path, str(late), "--data-dir=%s" % data, "--drain-ms=5000", app=app)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "sent, started before exit: False\n"
    assert out.stderr == ""
    assert wait_gone(int(started.read_text()))
    check_driver_spans(read_store(str(data)), procs=2, requests=40)
    assert not os.path.exists(os.path.dirname(sock))
