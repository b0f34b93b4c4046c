"""How the launcher starts the collector, seen from a real app: it is not the
app's child, and it holds none of the app's output pipes once running."""
import json
import os
import signal
import subprocess
import time

from conftest import AGENT_RUN, SYSTEM_PYTHON, clean_env

# Finds the collector serving this app (by its --socket), once it has let go
# of the app's stderr (its startup-error channel).
FIND_COLLECTOR = r"""
import json, os, sys, time
sock = os.environ["AGENT_RUN_COLLECTOR_SOCKET"]
def find():
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                if b"--socket=" + sock.encode() in f.read().split(b"\0"):
                    return int(p)
        except OSError:
            pass
pid, end = None, time.monotonic() + 20
while time.monotonic() < end:
    pid = find()
    if pid and os.readlink("/proc/%d/fd/2" % pid) == "/dev/null":
        break
    time.sleep(0.01)
with open("/proc/%d/stat" % pid) as f:
    fields = f.read().rsplit(")", 1)[1].split()
info = {"app": os.getpid(), "collector": pid, "ppid": int(fields[1]), "sid": int(fields[3]),
        "stderr": os.readlink("/proc/%d/fd/2" % pid), "socket": sock}
"""


def test_the_collector_is_not_a_child_of_the_app(home):
    code = FIND_COLLECTOR + "print(json.dumps(info))\n"
    r = subprocess.run([AGENT_RUN, SYSTEM_PYTHON, "-c", code], env=clean_env(home), capture_output=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["ppid"] != info["app"], "a pre-fork master would reap it and log an unknown child"
    assert info["sid"] != os.getsid(0) and info["sid"] != info["collector"]
    assert info["stderr"] == "/dev/null"


def test_capture_output_returns_without_waiting_for_the_collectors_drain(home, tmp_path):
    # A process of the app outlives it holding a connection open, so the
    # collector drains for half its 30 s drain timeout after the app exits.
    # The caller reading the app's output must get EOF when the app exits.
    holder_pid = tmp_path / "holder.pid"
    holder = ("import os, socket, time\n"
              "s = socket.socket(socket.AF_UNIX)\n"
              "s.connect(os.environ['AGENT_RUN_COLLECTOR_SOCKET'])\n"
              "open(%r, 'w').write(str(os.getpid()))\n"
              "time.sleep(120)\n" % str(holder_pid))
    code = (FIND_COLLECTOR +
            "import subprocess\n"
            "subprocess.Popen([sys.executable, '-c', %r], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,"
            " stderr=subprocess.DEVNULL, start_new_session=True)\n"
            "while not os.path.exists(%r): time.sleep(0.01)\n"
            "print(json.dumps(info))\n" % (holder, str(holder_pid)))
    env = clean_env(home, AGENT_RUN_COLLECTOR_DRAIN_TIMEOUT_MS="30000")
    start = time.monotonic()
    r = subprocess.run([AGENT_RUN, SYSTEM_PYTHON, "-c", code], env=env, capture_output=True, timeout=60)
    elapsed = time.monotonic() - start
    holder = int(holder_pid.read_text())
    try:
        assert r.returncode == 0, r.stderr
        info = json.loads(r.stdout)
        # The collector is still draining (so it would have held the pipes), yet the call returned.
        os.kill(info["collector"], 0)
        assert elapsed < 10, "subprocess.run waited %.1f s: something of the app's held its pipes" % elapsed
    finally:
        os.kill(holder, signal.SIGKILL)
