"""The quick launch: a launch identical to an earlier one is replayed from
agent-run's entry point, from the launch plan the full launcher wrote
(src/launcher/freestanding/quick_launch.hpp). It must give the program
exactly what the full launcher gives it, and any change to what the
decision read must send the launch back to the full launcher.

At log_level = debug a quick launch says so on stderr: the tests run with
AGENT_RUN_LOG_LEVEL=debug and tell the two apart by that line."""
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time

import pytest

from conftest import AGENT_RUN, SYSTEM_PYTHON, clean_env

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "collector"))
from collector_helpers import read_store  # noqa: E402

QUICK = "launching from the plan"
# How long after a config file changed a launch is planned again.
SETTLED = 1.1

# Prints what the program got: argv, PID, environment, working directory.
REPORT = ("import json, os, sys\n"
          "print(json.dumps({'argv': sys.argv, 'pid': os.getpid(), 'env': dict(os.environ), 'cwd': os.getcwd()}))\n"
          "sys.exit(int(os.environ.get('EXIT_WITH', '0')))\n")


def plans_file(home):
    return home / ".cache" / "agent-run" / "launch-plans"


def plans(home):
    """The plans in the file: each a list of (tag, text) fields."""
    fields = plans_file(home).read_bytes().split(b"\0")
    out = []
    for f in fields[1:]:
        if not f:
            continue
        tag, text = chr(f[0]), f[1:].decode()
        if tag == "P":
            out.append([])
        out[-1].append((tag, text))
    return out


def launch(home, args, cwd, **extra):
    env = clean_env(home, AGENT_RUN_LOG_LEVEL="debug", **extra)
    r = subprocess.run([AGENT_RUN] + args, env=env, cwd=str(cwd), capture_output=True, text=True, timeout=60)
    quick = QUICK in r.stderr
    return r, quick


def report(r):
    assert r.stdout, r.stderr
    return json.loads(r.stdout.splitlines()[-1])


def without_socket(env):
    return {k: v for k, v in env.items() if k != "AGENT_RUN_COLLECTOR_SOCKET"}


def test_an_identical_launch_is_quick_and_the_program_gets_the_same(home, tmp_path):
    args = [SYSTEM_PYTHON, "-c", REPORT, "an arg", "", "x=1"]
    first, quick1 = launch(home, args, tmp_path, EXIT_WITH="7")
    second, quick2 = launch(home, args, tmp_path, EXIT_WITH="7")
    assert not quick1 and quick2, second.stderr
    assert first.returncode == second.returncode == 7
    a, b = report(first), report(second)
    assert a["argv"] == b["argv"] == ["-c", "an arg", "", "x=1"]
    assert without_socket(a["env"]) == without_socket(b["env"])
    # Each launch has its own collector socket, made the same way.
    sa, sb = a["env"]["AGENT_RUN_COLLECTOR_SOCKET"], b["env"]["AGENT_RUN_COLLECTOR_SOCKET"]
    assert sa != sb and os.path.dirname(os.path.dirname(sa)) == os.path.dirname(os.path.dirname(sb))
    assert a["cwd"] == b["cwd"] == str(tmp_path)
    # Only the debug line more on stderr (the agent's own log lines differ in time and PID only).
    def shape(text):
        return [re.sub(r"\d+", "N", l) for l in text.splitlines() if QUICK not in l]
    assert shape(second.stderr) == shape(first.stderr)


def test_the_program_keeps_the_launchers_pid_and_its_own_exit_status(home, tmp_path):
    args = [SYSTEM_PYTHON, "-c", REPORT]
    launch(home, args, tmp_path)
    env = clean_env(home, AGENT_RUN_LOG_LEVEL="debug")
    p = subprocess.Popen([AGENT_RUN] + args, env=env, cwd=str(tmp_path), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=60)
    assert QUICK in err
    assert json.loads(out)["pid"] == p.pid
    # Killed by a signal: the caller sees the same signal.
    kill = [SYSTEM_PYTHON, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"]
    launch(home, kill, tmp_path)
    r, quick = launch(home, kill, tmp_path)
    assert quick and r.returncode == -15


def test_the_plan_is_found_by_the_arguments_the_decision_read(home, tmp_path):
    script = tmp_path / "app.py"
    script.write_text(REPORT)
    other = tmp_path / "other.py"
    other.write_text(REPORT)
    launch(home, [SYSTEM_PYTHON, str(script), "first"], tmp_path)
    # The arguments after the script are the app's: the same plan.
    r, quick = launch(home, [SYSTEM_PYTHON, str(script), "second"], tmp_path)
    assert quick and report(r)["argv"] == [str(script), "second"]
    assert report(r)["env"]["AGENT_RUN_SERVICE_NAME"] == "app"
    # Another script is another service name: a full launch, then its own plan.
    r, quick = launch(home, [SYSTEM_PYTHON, str(other)], tmp_path)
    assert not quick and report(r)["env"]["AGENT_RUN_SERVICE_NAME"] == "other"
    r, quick = launch(home, [SYSTEM_PYTHON, str(other)], tmp_path)
    assert quick and report(r)["env"]["AGENT_RUN_SERVICE_NAME"] == "other"
    # Launcher options are part of it.
    r, quick = launch(home, ["--service-name", "named", SYSTEM_PYTHON, str(script)], tmp_path)
    assert not quick and report(r)["env"]["AGENT_RUN_SERVICE_NAME"] == "named"
    r, quick = launch(home, ["--service-name", "named", SYSTEM_PYTHON, str(script)], tmp_path)
    assert quick and report(r)["env"]["AGENT_RUN_SERVICE_NAME"] == "named"
    r, quick = launch(home, ["--disable", SYSTEM_PYTHON, str(script)], tmp_path)
    r, quick = launch(home, ["--disable", SYSTEM_PYTHON, str(script)], tmp_path)
    assert quick and "AGENT_RUN_BOOTSTRAP" not in report(r)["env"]
    # "--" is the launcher's: the program is the argument after it.
    launch(home, ["--", SYSTEM_PYTHON, str(script), "--disable"], tmp_path)
    r, quick = launch(home, ["--", SYSTEM_PYTHON, str(script), "--disable"], tmp_path)
    assert quick and report(r)["argv"] == [str(script), "--disable"] and "AGENT_RUN_BOOTSTRAP" in report(r)["env"]


def test_agent_run_through_a_symlink_or_a_relative_path_is_the_same_launcher(home, tmp_path):
    link = tmp_path / "ar"
    link.symlink_to(AGENT_RUN)
    env = clean_env(home, AGENT_RUN_LOG_LEVEL="debug")
    args = [SYSTEM_PYTHON, "-c", REPORT]
    subprocess.run([AGENT_RUN] + args, env=env, cwd=str(tmp_path), capture_output=True, timeout=60)
    for argv0 in (str(link), "./ar"):
        r = subprocess.run([argv0] + args, env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=60)
        assert QUICK in r.stderr and r.returncode == 0, (argv0, r.stderr)


@pytest.mark.parametrize("change", ["config file appears", "config file edited", "environment", "directory",
                                    "user config appears", "quick_launch off", "bootstrap removed"])
def test_any_change_to_what_the_decision_read_makes_a_full_launch(home, tmp_path, change):
    args = [SYSTEM_PYTHON, "-c", REPORT]
    work = tmp_path / "work"
    work.mkdir()
    config = work / "agent-run.toml"
    extra = {}
    if change == "config file edited":
        config.write_text('service_name = "aaa"\n')
        time.sleep(SETTLED)
    launch(home, args, work)
    r, quick = launch(home, args, work)
    assert quick, r.stderr
    expect = None
    if change == "config file appears":
        config.write_text('service_name = "from-file"\n')
        expect = ("AGENT_RUN_CONFIG", str(config))
    elif change == "config file edited":
        config.write_text('service_name = "bbb"\n')  # same size, same second perhaps: still seen
        expect = ("AGENT_RUN_CONFIG", str(config))
    elif change == "environment":
        extra = {"OTEL_SERVICE_NAME": "from-otel"}
    elif change == "directory":
        work = tmp_path
    elif change == "user config appears":
        user = home / ".config" / "agent-run"
        user.mkdir(parents=True)
        (user / "agent-run.toml").write_text('service_name = "from-user-config"\n')
        expect = ("AGENT_RUN_CONFIG", str(user / "agent-run.toml"))
    elif change == "quick_launch off":
        extra = {"AGENT_RUN_QUICK_LAUNCH": "false"}
    elif change == "bootstrap removed":
        boot = report(r)["env"]["AGENT_RUN_BOOTSTRAP"]
        shutil.rmtree(boot)
        expect = ("AGENT_RUN_BOOTSTRAP", boot)  # made again by the full launcher
    if change in ("config file appears", "config file edited", "user config appears"):
        time.sleep(SETTLED)  # a config file changed within the last second is never planned
    r, quick = launch(home, args, work, **extra)
    assert not quick, "%s: the old plan was used" % change
    if expect:
        assert report(r)["env"][expect[0]] == expect[1]
    # The full launch made a plan for the new inputs (unless told not to).
    r, quick = launch(home, args, work, **extra)
    assert quick == (change != "quick_launch off"), r.stderr


def test_a_config_file_changed_within_the_last_second_is_not_planned(home, tmp_path):
    # Two writes of the same size within one tick of the kernel's clock
    # would have the same identity: such a file is not trusted for a second.
    args = [SYSTEM_PYTHON, "-c", REPORT]
    (tmp_path / "agent-run.toml").write_text('service_name = "a"\n')
    launch(home, args, tmp_path)
    r, quick = launch(home, args, tmp_path)
    assert not quick
    time.sleep(SETTLED)
    launch(home, args, tmp_path)
    r, quick = launch(home, args, tmp_path)
    assert quick and report(r)["env"]["AGENT_RUN_CONFIG"] == str(tmp_path / "agent-run.toml")


def test_quick_launch_off_writes_no_plan(home, tmp_path):
    args = [SYSTEM_PYTHON, "-c", "pass"]
    launch(home, args, tmp_path, AGENT_RUN_QUICK_LAUNCH="false")
    launch(home, args, tmp_path, AGENT_RUN_QUICK_LAUNCH="false")
    assert not plans_file(home).exists() or not plans(home)


def test_the_program_found_on_path_is_looked_up_again(home, tmp_path):
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    for d, word in ((first_dir, "first"), (second_dir, "second")):
        d.mkdir()
        tool = d / "tool"
        tool.write_text("#!/bin/sh\necho %s\n" % word)
        tool.chmod(0o755)
    path = "%s:%s:/usr/bin:/bin" % (first_dir, second_dir)
    (first_dir / "tool").unlink()
    launch(home, ["tool"], tmp_path, PATH=path)
    r, quick = launch(home, ["tool"], tmp_path, PATH=path)
    assert quick and r.stdout == "second\n"
    # A program earlier on PATH: the quick launch runs it, as a shell would.
    (first_dir / "tool").write_text("#!/bin/sh\necho first\n")
    (first_dir / "tool").chmod(0o755)
    r, quick = launch(home, ["tool"], tmp_path, PATH=path)
    assert r.stdout == "first\n"
    # None left: the full launcher says so, with the shell's status.
    (first_dir / "tool").unlink()
    (second_dir / "tool").unlink()
    r, quick = launch(home, ["tool"], tmp_path, PATH=path)
    assert not quick and r.returncode == 127 and "command not found" in r.stderr


def test_a_plans_file_that_is_not_safely_ours_is_never_read(home, tmp_path):
    args = [SYSTEM_PYTHON, "-c", "pass"]
    launch(home, args, tmp_path)
    f = plans_file(home)
    f.chmod(0o620)  # group-writable: anyone in the group could plan our launches
    r, quick = launch(home, args, tmp_path)
    assert not quick and r.returncode == 0
    # The full launch replaced it with a private one.
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    r, quick = launch(home, args, tmp_path)
    assert quick
    if os.geteuid() == 0:
        os.chown(str(f), 65534, 65534)
        r, quick = launch(home, args, tmp_path)
        assert not quick and r.returncode == 0
    # A group-writable cache directory: not trusted either.
    r, quick = launch(home, args, tmp_path)
    assert quick
    f.parent.chmod(0o770)
    try:
        # That launch runs from a private bootstrap in TMPDIR: the test's own directory.
        private = tmp_path / "tmp"
        private.mkdir()
        r, quick = launch(home, args, tmp_path, TMPDIR=private)
        assert not quick and r.returncode == 0
        assert "using a private bootstrap in %s/agent-run-bootstrap-" % private in r.stderr
        # Made for this run only: the collector's standby removes it once the app is gone.
        end = time.monotonic() + 30
        while list(private.iterdir()) and time.monotonic() < end:
            time.sleep(0.05)
        assert list(private.iterdir()) == []
    finally:
        f.parent.chmod(0o700)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "torn field"])
def test_a_damaged_plans_file_means_a_full_launch_and_is_rewritten(home, tmp_path, damage):
    args = [SYSTEM_PYTHON, "-c", REPORT]
    first, _ = launch(home, args, tmp_path)
    f = plans_file(home)
    data = f.read_bytes()
    if damage == "truncated":
        data = data[:len(data) // 2]
    elif damage == "garbage":
        data = os.urandom(len(data))
    elif damage == "empty":
        data = b""
    else:  # the last field without its NUL: the plan has no end field
        data = data[:-3]
    f.write_bytes(data)
    r, quick = launch(home, args, tmp_path)
    assert not quick and r.returncode == 0
    assert without_socket(report(r)["env"]) == without_socket(report(first)["env"])
    r, quick = launch(home, args, tmp_path)
    assert quick


def test_otlp_headers_are_never_written_to_a_plan(home, tmp_path):
    args = [SYSTEM_PYTHON, "-c", "pass"]
    secret = "api-key=s3cr3t-value"
    for _ in range(2):
        r, quick = launch(home, args, tmp_path, OTEL_EXPORTER_OTLP_HEADERS=secret,
                          OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9")
        assert not quick and r.returncode == 0
    assert not plans_file(home).exists() or b"s3cr3t" not in plans_file(home).read_bytes()


def test_the_plans_file_keeps_the_newest_plans_only(home, tmp_path):
    for i in range(12):
        launch(home, [SYSTEM_PYTHON, "-c", "pass", str(i)], tmp_path, OTEL_SERVICE_NAME="s%d" % i)
    kept = plans(home)
    assert len(kept) == 8
    # Newest first: the last launch's environment is the first plan's.
    r, quick = launch(home, [SYSTEM_PYTHON, "-c", "pass"], tmp_path, OTEL_SERVICE_NAME="s11")
    assert quick
    r, quick = launch(home, [SYSTEM_PYTHON, "-c", "pass"], tmp_path, OTEL_SERVICE_NAME="s0")
    assert not quick


def test_a_quick_launch_starts_the_collectors_standby_and_spans_reach_the_store(home, tmp_path):
    data = tmp_path / "data"
    code = ("import os, sqlite3\n"
            "sqlite3.connect(':memory:').execute('select 1')\n"
            "print(os.getpid(), os.environ['AGENT_RUN_COLLECTOR_SOCKET'])\n")
    args = [SYSTEM_PYTHON, "-c", code]
    launch(home, args, tmp_path, AGENT_RUN_DATA_DIR=str(data))
    r, quick = launch(home, args, tmp_path, AGENT_RUN_DATA_DIR=str(data))
    assert quick and r.returncode == 0, r.stderr
    pid, socket_path = r.stdout.split()
    pid = int(pid)
    # The collector drains after the app exits: the span of the quick-launched app arrives.
    deadline = time.monotonic() + 20
    pids = []
    while time.monotonic() < deadline and pid not in pids:
        traces = data / "traces"
        pids = [int(r["process.pid"]["intValue"]) for r, _ in read_store(str(traces))] if traces.exists() else []
        time.sleep(0.1)
    assert pid in pids, "no span from the quick-launched app (pid %d) in the store: %r" % (pid, pids)
    # The collector removes its socket and private directory when it is done.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and os.path.exists(os.path.dirname(socket_path)):
        time.sleep(0.1)
    assert not os.path.exists(os.path.dirname(socket_path))



def test_a_repeated_name_or_an_entry_without_equals_is_handled_as_the_full_launcher_does(home, tmp_path):
    # The environment as a raw array (a mapping cannot repeat a name): the
    # full launcher keeps the first of a repeated name and drops an entry
    # without '='; the quick launch must give the program the same.
    env = clean_env(home, AGENT_RUN_LOG_LEVEL="debug")
    launch(home, ["/usr/bin/env"], tmp_path)  # the plan, from an ordinary environment
    exec_raw = ("import ctypes, os, sys\n"
                "entries = [e.encode() for e in sys.argv[2:]]\n"
                "envp = (ctypes.c_char_p * (len(entries) + 1))(*entries, None)\n"
                "argv = (ctypes.c_char_p * 3)(%r, b'/usr/bin/env', None)\n"
                "ctypes.CDLL(None).execve(argv[0], argv, envp)\n" % AGENT_RUN.encode())

    def run_raw(extra):
        entries = ["%s=%s" % kv for kv in dict(env, **extra).items()] + ["DUP=first", "DUP=second", "NOEQUALS"]
        r = subprocess.run([SYSTEM_PYTHON, "-c", exec_raw, "-"] + entries, cwd=str(tmp_path), capture_output=True,
                           text=True, timeout=60)
        lines = [l for l in r.stdout.splitlines() if not l.startswith(("AGENT_RUN_COLLECTOR_SOCKET=",
                                                                       "AGENT_RUN_QUICK_LAUNCH="))]
        return r, sorted(lines)

    quick, quick_env = run_raw({})
    full, full_env = run_raw({"AGENT_RUN_QUICK_LAUNCH": "false"})
    assert QUICK in quick.stderr and QUICK not in full.stderr
    assert quick_env == full_env
    assert [l for l in quick_env if l.startswith("DUP=")] == ["DUP=first"]
    assert "NOEQUALS" not in quick_env
