"""How the launcher starts the collector, seen from a real app: a standby
(agent-run itself) waits for the app's first connection and only then becomes
the collector; neither is the app's child, and neither holds the app's output
pipes once the collector runs."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import AGENT_RUN, SYSTEM_PYTHON, clean_env, home_with_launch_modes


# Each test twice: the standby the full launcher starts, and the quick
# launch's (a plan fits every `agent-run python3 -c CODE` in clean_env(home)).
home = home_with_launch_modes([SYSTEM_PYTHON, "-c", "pass"])

# Finds the processes serving this app: those holding its listening socket
# (the inode /proc/net/unix lists for the socket's path) as fd 3: the standby
# (titled agent-run-standby: it runs on in the launcher's memory, without an
# exec) and the collector (argv[0] .../collector), with their parent and session.
FIND = r"""
import json, os, sys, time
sock = os.environ["AGENT_RUN_COLLECTOR_SOCKET"]
def listening_inode():
    with open("/proc/net/unix") as f:
        for line in f:
            fields = line.split()
            # Flags 00010000: __SO_ACCEPTCON, a listening socket.
            if len(fields) >= 8 and fields[7] == sock and fields[3] == "00010000":
                return fields[6]
def serving():
    found = {}
    inode = listening_inode()
    if inode is None:
        return found
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            if os.readlink("/proc/%s/fd/3" % p) != "socket:[%s]" % inode:
                continue
            with open("/proc/%s/cmdline" % p, "rb") as f:
                args = f.read().rstrip(b"\0").split(b"\0")
        except OSError:
            continue
        kind = "standby" if args == [b"agent-run-standby"] else (
            "collector" if args[0].endswith(b"/collector") else "unknown: %r" % args)
        found[kind] = int(p)
    return found
def describe(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return {"pid": pid, "ppid": int(fields[1]), "sid": int(fields[3]), "stderr": os.readlink("/proc/%d/fd/2" % pid)}
"""

# Records a span (the app's first connection starts the collector) and finds
# the collector once it has let go of the app's stderr (its startup-error channel).
FIND_COLLECTOR = FIND + r"""
import sqlite3
sqlite3.connect(":memory:").execute("select 1")
pid, end = None, time.monotonic() + 20
while time.monotonic() < end:
    pid = serving().get("collector")
    if pid and os.readlink("/proc/%d/fd/2" % pid) == "/dev/null":
        break
    time.sleep(0.01)
info = dict(describe(pid), app=os.getpid(), collector=pid, socket=sock)
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


def process_gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def argv0(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")[0]
    except OSError:
        return b""


def test_an_app_that_records_no_span_never_starts_the_collector(home):
    # The app finds its standby while it runs, and no collector. The standby
    # sleeps from its start: it does not even wake when the launcher execs
    # the app (its voluntary context switches do not move while the app runs).
    code = FIND + r"""
def switches(pid):
    with open("/proc/%d/status" % pid) as f:
        return int([l for l in f if l.startswith("voluntary_ctxt_switches:")][0].split()[1])
standby = serving()["standby"]
before = switches(standby)
time.sleep(0.3)
"""
    code += "print(json.dumps({'app': os.getpid(), 'sid': os.getsid(0), 'socket': sock, 'found': serving(),"
    code += " 'standby': describe(standby), 'switches': [before, switches(standby)]}))\n"
    r = subprocess.run([AGENT_RUN, SYSTEM_PYTHON, "-c", code], env=clean_env(home), capture_output=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stderr == b""
    info = json.loads(r.stdout)
    assert "collector" not in info["found"], info
    # One: the wait it started with (a wake at the launcher's exec would make it two).
    assert info["switches"] == [1, 1], info["switches"]
    standby = info["standby"]
    assert standby["ppid"] != info["app"], "a pre-fork master would reap it and log an unknown child"
    assert standby["sid"] not in (info["sid"], standby["pid"])
    # Once the app is gone, the standby removes the socket and its private
    # directory and exits, without ever becoming the collector.
    end = time.monotonic() + 30
    while time.monotonic() < end and not (process_gone(standby["pid"]) and
                                           not os.path.exists(os.path.dirname(info["socket"]))):
        assert not argv0(standby["pid"]).endswith(b"/collector"), "the standby became the collector"
        time.sleep(0.01)
    assert process_gone(standby["pid"])
    assert not os.path.exists(info["socket"])
    assert not os.path.exists(os.path.dirname(info["socket"]))


def test_capture_output_of_a_short_program_returns(home):
    # The standby holds the app's stderr (for the collector's startup errors)
    # only until the app exits: the caller gets EOF then.
    start = time.monotonic()
    r = subprocess.run([AGENT_RUN, SYSTEM_PYTHON, "-c", "print(1)"], env=clean_env(home), capture_output=True,
                       timeout=60)
    elapsed = time.monotonic() - start
    assert r.returncode == 0 and r.stdout == b"1\n" and r.stderr == b"", r
    assert elapsed < 10, "subprocess.run waited %.1f s for the standby" % elapsed


def test_the_standby_ignores_sighup_and_stops_on_sigterm(home):
    # SIGHUP (a closed terminal's) leaves the standby waiting: a connection
    # after it still starts the collector.
    code = FIND + r"""
import signal, socket
standby = serving()["standby"]
os.kill(standby, signal.SIGHUP)
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
end = time.monotonic() + 20
while time.monotonic() < end and serving().get("collector") != standby:
    time.sleep(0.01)
print(json.dumps({"standby": standby, "found": serving()}))
"""
    r = subprocess.run([AGENT_RUN, SYSTEM_PYTHON, "-c", code], env=clean_env(home), capture_output=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["found"].get("collector") == info["standby"], "the standby became the collector (same pid)"

    # SIGTERM stops it, as it stops a collector: socket and directory removed
    # while the app still runs, and no collector.
    code = FIND + r"""
import signal
standby = serving()["standby"]
os.kill(standby, signal.SIGTERM)
end = time.monotonic() + 20
while time.monotonic() < end and (os.path.exists(os.path.dirname(sock)) or serving()):
    time.sleep(0.01)
print(json.dumps({"dir": os.path.exists(os.path.dirname(sock)), "found": serving()}))
"""
    r = subprocess.run([AGENT_RUN, SYSTEM_PYTHON, "-c", code], env=clean_env(home), capture_output=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"dir": False, "found": {}}


def test_a_program_that_cannot_be_executed_leaves_no_standby(home, tmp_path):
    # The standby starts before the launcher's execve, which fails here (an
    # executable file that is no program): the launcher exits 126, and the
    # standby, which waited for the launcher's exec or exit, finds the app gone
    # and removes the socket and its private directory.
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x7fELF, but not a program")
    bad.chmod(0o755)
    env = clean_env(home, XDG_RUNTIME_DIR=runtime)
    ok = subprocess.run([AGENT_RUN, SYSTEM_PYTHON, "-c", "import os; print(os.environ['AGENT_RUN_COLLECTOR_SOCKET'])"],
                        env=env, capture_output=True, timeout=60)
    assert ok.stdout.decode().startswith(str(runtime) + "/agent-run-"), ok  # where the standby's socket goes
    r = subprocess.run([AGENT_RUN, str(bad)], env=env, capture_output=True,
                       timeout=60)
    assert r.returncode == 126, r
    assert r.stderr.decode().startswith("agent-run: cannot run %s: Exec format error" % bad)
    end = time.monotonic() + 20
    while time.monotonic() < end and os.listdir(runtime):
        time.sleep(0.01)
    assert os.listdir(runtime) == []


AFFINITY = FIND + r"""
def cpus(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Cpus_allowed_list:"):
                return line.split()[1]
print(json.dumps({"app": cpus(os.getpid()), "standby": cpus(serving()["standby"])}))
"""


def cpu_list(cpus):
    return ",".join(str(c) for c in sorted(cpus))


def test_the_spawn_leaves_cpu_affinity_as_it_was(home):
    # The launcher pins itself to its CPU while it spawns the standby (waking
    # an idle vCPU is slow) and gives the affinity back: the app, which a
    # pre-fork server forks into workers, and the standby keep the caller's.
    allowed = os.sched_getaffinity(0)
    for wanted in ({min(allowed)}, allowed):
        r = subprocess.run([AGENT_RUN, SYSTEM_PYTHON, "-c", AFFINITY], env=clean_env(home), capture_output=True,
                           timeout=60, preexec_fn=lambda: os.sched_setaffinity(0, wanted))
        assert r.returncode == 0, r.stderr
        info = json.loads(r.stdout)
        got = {k: set() for k in info}
        for k, text in info.items():
            for part in text.split(","):
                lo, _, hi = part.partition("-")
                got[k].update(range(int(lo), int(hi or lo) + 1))
        assert got == {"app": wanted, "standby": wanted}, (cpu_list(wanted), info)


def test_the_private_directory_is_0700_whatever_the_umask(home):
    # mkdir asks for 0700 less the umask; a umask that takes owner bits
    # away must not leave a directory the collector cannot use.
    code = ("import os, stat; d = os.path.dirname(os.environ['AGENT_RUN_COLLECTOR_SOCKET']);"
            "print(oct(stat.S_IMODE(os.stat(d).st_mode)))")
    for mask in (0o022, 0o277):
        r = subprocess.run([AGENT_RUN, SYSTEM_PYTHON, "-c", code], env=clean_env(home), capture_output=True,
                           timeout=60, preexec_fn=lambda: os.umask(mask))
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"0o700\n", (oct(mask), r.stdout)


def test_an_ignored_sigterm_is_not_passed_on_to_the_collector(home):
    # Started under nohup-like settings: SIGTERM ignored in the launcher (and
    # so in the app and, until it execs the collector, the standby).
    code = FIND_COLLECTOR + (
        "sig_ign = int(next(l for l in open('/proc/%d/status' % pid) if l.startswith('SigIgn:')).split()[1], 16)\n"
        "print(json.dumps(dict(info, collector_ignores_sigterm=bool(sig_ign & (1 << (15 - 1))))))\n")
    r = subprocess.run([AGENT_RUN, SYSTEM_PYTHON, "-c", code], env=clean_env(home), capture_output=True,
                       timeout=60, preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["collector_ignores_sigterm"] is False
