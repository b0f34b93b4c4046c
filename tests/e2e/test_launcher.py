"""agent-run PROGRAM: the program runs exactly as without agent-run, with the agent loaded."""
import os
import signal
import stat
import subprocess
import sys
import threading
import time

import pytest

from conftest import AGENT_RUN, APPS, SYSTEM_PYTHON, clean_env, run

ECHO = os.path.join(APPS, "echo_app.py")
REPORT = os.path.join(APPS, "report_agent.py")


def facts(stdout):
    return dict(line.split("=", 1) for line in stdout.decode().splitlines() if "=" in line)


def private_bootstraps(tmpdir):
    return sorted(p.name for p in tmpdir.iterdir() if p.name.startswith("agent-run-bootstrap-"))


def private_bootstraps_after_exit(tmpdir, timeout=30):
    """The private bootstraps left in tmpdir once the collector's standby (or
    the collector, after its drain) had time to remove them."""
    end = time.monotonic() + timeout
    while private_bootstraps(tmpdir) and time.monotonic() < end:
        time.sleep(0.05)
    return private_bootstraps(tmpdir)


def test_output_and_exit_code_are_the_programs(home):
    env = clean_env(home, ECHO_EXIT=3)
    cmd = [SYSTEM_PYTHON, ECHO, "a b", "--port", "8000", "ü"]
    bare = run(cmd, env=env, input=b"line one\nline two\n")
    agent = run([AGENT_RUN] + cmd, env=env, input=b"line one\nline two\n")
    assert bare.returncode == 3
    assert agent.returncode == bare.returncode
    assert agent.stdout == bare.stdout
    # stderr differs only in what the app itself reports about the agent.
    assert bare.stderr.replace(b"agent: False", b"agent: True") == agent.stderr


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL", "SIGINT"])
def test_killed_by_a_signal_looks_killed(home, sig):
    env = clean_env(home)
    bare = run([SYSTEM_PYTHON, ECHO, "--kill", sig], env=env)
    agent = run([AGENT_RUN, SYSTEM_PYTHON, ECHO, "--kill", sig], env=env)
    expected = -getattr(signal, sig) if sig != "SIGINT" else bare.returncode
    assert bare.returncode == expected
    assert agent.returncode == bare.returncode


def test_program_keeps_the_launchers_pid(home):
    proc = subprocess.Popen([AGENT_RUN, SYSTEM_PYTHON, ECHO, "--pid"], env=clean_env(home),
                            stdout=subprocess.PIPE)
    out, _ = proc.communicate(timeout=60)
    assert int(out) == proc.pid


def test_signal_sent_to_the_launcher_pid_reaches_the_program(home, tmp_path):
    ready = tmp_path / "ready"
    code = ("import signal,sys,time,pathlib\n"
            "signal.signal(signal.SIGUSR1, lambda *a: (print('got usr1', flush=True), sys.exit(7)))\n"
            "pathlib.Path(%r).write_text('x')\n"
            "time.sleep(60)\n" % str(ready))
    proc = subprocess.Popen([AGENT_RUN, SYSTEM_PYTHON, "-c", code], env=clean_env(home),
                            stdout=subprocess.PIPE)
    for _ in range(600):
        if ready.exists():
            break
        threading.Event().wait(0.05)
    os.kill(proc.pid, signal.SIGUSR1)
    out, _ = proc.communicate(timeout=30)
    assert out == b"got usr1\n"
    assert proc.returncode == 7


def test_agent_is_loaded_and_bootstrap_first(home):
    r = run([AGENT_RUN, SYSTEM_PYTHON, REPORT], env=clean_env(home, PYTHONPATH="/opt/one:/opt/two"))
    assert r.returncode == 0, r.stderr
    f = facts(r.stdout)
    assert f["hook"] == "True"
    entries = f["pythonpath"].split(":")
    assert entries[0].startswith(str(home / ".cache" / "agent-run" / "bootstrap-"))
    assert entries[1:] == ["/opt/one", "/opt/two"]
    path = f["sys_path"].split(":")
    assert path.index("/opt/one") < path.index("/opt/two")
    assert sum(1 for p in path if "agent-run/bootstrap-" in p) == 1


def test_nested_launch_never_adds_the_bootstrap_twice(home):
    r = run([AGENT_RUN, AGENT_RUN, SYSTEM_PYTHON, REPORT], env=clean_env(home, PYTHONPATH="/opt/x"))
    assert r.returncode == 0, r.stderr
    entries = facts(r.stdout)["pythonpath"].split(":")
    assert sum(1 for p in entries if "agent-run/bootstrap-" in p) == 1
    assert entries[1:] == ["/opt/x"]


def test_missing_program_exits_127(home):
    r = run([AGENT_RUN, "no-such-program-here"], env=clean_env(home))
    assert r.returncode == 127
    assert b"no-such-program-here" in r.stderr and b"not found" in r.stderr
    assert r.stdout == b""


def test_not_executable_exits_126(home, tmp_path):
    script = tmp_path / "notexec.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    r = run([AGENT_RUN, str(script)], env=clean_env(home))
    assert r.returncode == 126
    assert b"not executable" in r.stderr
    env = clean_env(home)
    env["PATH"] = "%s:%s" % (tmp_path, env["PATH"])
    r = run([AGENT_RUN, "notexec.sh"], env=env)
    assert r.returncode == 126


def test_no_program_is_a_usage_error(home):
    r = run([AGENT_RUN], env=clean_env(home))
    assert r.returncode == 2
    assert b"no program given" in r.stderr


def test_options_after_program_belong_to_the_program(home):
    r = run([AGENT_RUN, SYSTEM_PYTHON, ECHO, "--version", "--dry-run"], env=clean_env(home))
    assert r.returncode == 0
    assert b"args: ['--version', '--dry-run']" in r.stdout


def test_double_dash_separates_options(home):
    r = run([AGENT_RUN, "--", SYSTEM_PYTHON, ECHO, "x"], env=clean_env(home))
    assert r.returncode == 0
    assert b"args: ['x']" in r.stdout


def test_dry_run_prints_and_runs_nothing(home, tmp_path):
    marker = tmp_path / "ran"
    r = run([AGENT_RUN, "--dry-run", "--service-name", "svc", SYSTEM_PYTHON, "-c",
             "open(%r,'w')" % str(marker)], env=clean_env(home, PYTHONPATH="/opt/u"))
    assert r.returncode == 0
    assert not marker.exists()
    out = r.stdout.decode()
    assert "would exec: /usr/bin/python3" in out
    assert "AGENT_RUN_SERVICE_NAME=svc" in out
    line = next(l for l in out.splitlines() if l.strip().startswith("PYTHONPATH="))
    assert line.strip().endswith(":/opt/u")


def test_version_and_help():
    r = run([AGENT_RUN, "--version"])
    assert r.returncode == 0 and r.stdout.startswith(b"agent-run ")
    r = run([AGENT_RUN, "--help"])
    assert r.returncode == 0
    assert b"Examples:" in r.stdout and b"generate-config" in r.stdout


def test_disable_runs_without_the_agent(home):
    r = run([AGENT_RUN, "--disable", SYSTEM_PYTHON, REPORT], env=clean_env(home, PYTHONPATH="/opt/a"))
    assert r.returncode == 0
    f = facts(r.stdout)
    assert f["hook"] == "False"
    assert f["pythonpath"] == "/opt/a"


def test_nothing_of_the_agent_reaches_stdout(home):
    cmd = [SYSTEM_PYTHON, "-c", "print('data')"]
    r = run([AGENT_RUN, "--log-level", "debug"] + cmd, env=clean_env(home))
    assert r.stdout == b"data\n"
    assert b"agent-run" in r.stderr and b"started" in r.stderr  # the banner went to the log


def test_banner_goes_to_the_log_file(home, tmp_path):
    log = tmp_path / "agent.log"
    r = run([AGENT_RUN, "--log-level", "info", "--log-file", str(log), "--service-name", "billing",
             SYSTEM_PYTHON, "-c", "pass"], env=clean_env(home))
    assert r.returncode == 0
    assert r.stdout == b"" and r.stderr == b""
    text = log.read_text()
    for part in ("pid=", "python=3.", "bootstrap=", "service=billing", "host="):
        assert part in text


def test_sys_stderr_none_is_survived(home):
    code = "import sys; print('ok')"
    proc = subprocess.run([AGENT_RUN, "--log-level", "debug", SYSTEM_PYTHON, "-c", code],
                          env=clean_env(home), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          timeout=60)
    assert proc.returncode == 0 and proc.stdout == b"ok\n"
    # fd 2 closed altogether: Python sets sys.stderr to None; the agent must not fail.
    proc = subprocess.run(
        ["/bin/sh", "-c", '"$0" --log-level debug "$1" -c "import sys; print(sys.stderr is None)" 2>&-',
         AGENT_RUN, SYSTEM_PYTHON], env=clean_env(home), stdout=subprocess.PIPE, timeout=60)
    assert proc.returncode == 0
    assert proc.stdout == b"True\n"


def test_bootstrap_dir_is_private_and_reused(home):
    r1 = run([AGENT_RUN, SYSTEM_PYTHON, REPORT], env=clean_env(home))
    r2 = run([AGENT_RUN, SYSTEM_PYTHON, REPORT], env=clean_env(home))
    p1 = facts(r1.stdout)["pythonpath"]
    assert p1 == facts(r2.stdout)["pythonpath"]
    st = os.stat(p1)
    assert st.st_uid == os.geteuid()
    assert st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) == 0
    for name in os.listdir(p1):
        assert os.stat(os.path.join(p1, name)).st_mode & (stat.S_IWGRP | stat.S_IWOTH) == 0
    assert p1.startswith(str(home / ".cache" / "agent-run" / "bootstrap-"))


def test_concurrent_first_launches_share_one_complete_bootstrap(home):
    procs = [subprocess.Popen([AGENT_RUN, SYSTEM_PYTHON, REPORT], env=clean_env(home),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(8)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    paths = {facts(o[0])["pythonpath"] for o in outs}
    assert len(paths) == 1
    assert all(facts(o[0])["hook"] == "True" for o in outs)
    cache = home / ".cache" / "agent-run"
    assert [n for n in os.listdir(cache) if n.startswith(".tmp")] == []


def test_group_writable_cache_is_refused(home, tmp_path):
    cache = home / ".cache" / "agent-run"
    cache.mkdir(parents=True)
    cache.chmod(0o777)
    # The private bootstrap goes to TMPDIR: the test's own directory, removed with it.
    private = tmp_path / "tmp"
    private.mkdir()
    r = run([AGENT_RUN, SYSTEM_PYTHON, REPORT], env=clean_env(home, TMPDIR=private))
    assert r.returncode == 0
    f = facts(r.stdout)
    # The app still runs with the agent, from a private temp bootstrap, never the unsafe dir.
    assert f["hook"] == "True"
    assert not f["pythonpath"].startswith(str(cache))
    assert f["pythonpath"].startswith(str(private) + "/agent-run-bootstrap-")
    assert b"writable by group or others" in r.stderr
    # Made for this run only: gone once the app is (the collector's standby removes it).
    assert b"removed when it ends" in r.stderr
    assert private_bootstraps_after_exit(private) == []


def test_unwritable_home_still_runs_the_app(tmp_path):
    # A HOME below a regular file: no cache can be made there, even by root
    # (a missing directory at the top of / would simply be created).
    env, tmpdir = unwritable_home_env(tmp_path)
    r = run([AGENT_RUN, SYSTEM_PYTHON, REPORT], env=env)
    assert r.returncode == 0
    f = facts(r.stdout)
    assert f["hook"] == "True"
    assert f["pythonpath"].startswith(str(tmpdir) + "/agent-run-bootstrap-")
    assert private_bootstraps_after_exit(tmpdir) == []


def unwritable_home_env(tmp_path, **extra):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = clean_env(None, TMPDIR=tmpdir, **extra)
    env["HOME"] = str(blocker / "home")
    env.pop("XDG_CACHE_HOME", None)
    return env, tmpdir


def test_a_private_bootstrap_is_removed_by_the_collector_after_its_drain(tmp_path):
    # The app records a span: the standby becomes the collector, which
    # removes the private bootstrap after its drain, not before.
    data = tmp_path / "data"
    env, tmpdir = unwritable_home_env(tmp_path, AGENT_RUN_DATA_DIR=str(data))
    code = ("import os, sqlite3\n"
            "sqlite3.connect(':memory:').execute('select 1').fetchone()\n"
            "print(os.environ['AGENT_RUN_BOOTSTRAP'], os.path.isdir(os.environ['AGENT_RUN_BOOTSTRAP']))\n")
    r = run([AGENT_RUN, SYSTEM_PYTHON, "-c", code], env=env)
    assert r.returncode == 0, r.stderr
    path, existed = r.stdout.decode().split()
    assert path.startswith(str(tmpdir) + "/agent-run-bootstrap-") and existed == "True"
    assert private_bootstraps_after_exit(tmpdir) == []
    # The collector ran (and drained the span before it removed the bootstrap).
    end = time.monotonic() + 30
    while time.monotonic() < end and b"select" not in b"".join(p.read_bytes() for p in data.rglob("traces-*.jsonl")):
        time.sleep(0.05)
    assert b"select" in b"".join(p.read_bytes() for p in data.rglob("traces-*.jsonl"))


def test_a_private_bootstrap_without_a_collector_stays_and_the_user_is_told(tmp_path):
    env, tmpdir = unwritable_home_env(tmp_path, AGENT_RUN_COLLECTOR_ENABLED="false")
    r = run([AGENT_RUN, SYSTEM_PYTHON, "-c", "pass"], env=env)
    assert r.returncode == 0
    left = private_bootstraps(tmpdir)
    assert len(left) == 1
    assert ("in %s/%s for this run; remove it after the run" % (tmpdir, left[0])).encode() in r.stderr


def test_a_private_bootstrap_is_removed_when_nothing_runs_from_it(tmp_path):
    env, tmpdir = unwritable_home_env(tmp_path)
    assert run([AGENT_RUN, "--dry-run", SYSTEM_PYTHON, "-c", "pass"], env=env).returncode == 0
    assert private_bootstraps(tmpdir) == []
    r = run([AGENT_RUN, str(tmp_path / "no-such-program")], env=env)
    assert r.returncode != 0
    assert private_bootstraps_after_exit(tmpdir) == []


def test_service_name_defaults_to_the_script(home, tmp_path):
    log = tmp_path / "a.log"
    r = run([AGENT_RUN, "--log-level", "info", "--log-file", str(log), SYSTEM_PYTHON, REPORT],
            env=clean_env(home))
    assert r.returncode == 0
    assert "service=report_agent" in log.read_text()


# The plain command line is parsed by hand (cmd/command_line.cpp); anything
# else goes to CLI11. These check that both give the behaviour users rely on.

def test_launcher_options_before_the_program_in_every_spelling(home, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('service_name = "from-file"\n')
    for opts in (["-c", str(cfg)], ["--config", str(cfg)], ["--config=" + str(cfg)]):
        r = run([AGENT_RUN, "--dry-run"] + opts + ["--log-level", "info", "--log-file=" + str(tmp_path / "l.log"),
                                                   SYSTEM_PYTHON, "-c", "pass"], env=clean_env(home))
        assert r.returncode == 0, r.stderr
        out = r.stdout.decode()
        assert "AGENT_RUN_CONFIG=" + str(cfg) in out
        assert "AGENT_RUN_LOG_LEVEL=info" in out
        assert "AGENT_RUN_LOG_FILE=" + str(tmp_path / "l.log") in out
        assert 'service_name = "from-file"' in out


def test_the_programs_own_options_are_passed_through(home):
    r = run([AGENT_RUN, SYSTEM_PYTHON, "-c", "import sys; print(sys.argv[1:])", "--disable", "--strict"],
            env=clean_env(home))
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"['--disable', '--strict']\n"


def test_strict_and_disable_flags(home, tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("log_level = loud\n")
    r = run([AGENT_RUN, "--strict", "-c", str(cfg), SYSTEM_PYTHON, "-c", "print('ran')"], env=clean_env(home))
    assert r.returncode == 2 and r.stdout == b""
    assert b"strict mode" in r.stderr
    r = run([AGENT_RUN, "--disable", "--dry-run", SYSTEM_PYTHON], env=clean_env(home))
    assert r.returncode == 0
    assert b"PYTHONPATH" not in r.stdout


def test_unknown_option_is_taken_for_the_program(home):
    # As with CLI11's prefix command: the first argument it does not know is PROGRAM.
    r = run([AGENT_RUN, "--bogus", SYSTEM_PYTHON], env=clean_env(home))
    assert r.returncode == 127
    assert r.stderr.startswith(b"agent-run: --bogus: command not found in PATH")


def test_option_missing_its_value_is_a_usage_error(home):
    for args, message in ((["--config"], b"--config: 1 required TEXT missing"),
                          (["-c"], b"--config: 1 required TEXT missing"),
                          (["--log-level"], b"--log-level: 1 required"),
                          (["--log-level", "loud", SYSTEM_PYTHON], b"--log-level: loud not in {debug,info,warning,error,off}"),
                          (["--log-file", "a", "--log-file", "b", SYSTEM_PYTHON], b"--log-file: At Most 1 required but received 2")):
        r = run([AGENT_RUN] + args, env=clean_env(home))
        assert r.returncode == 2, args
        assert r.stderr.startswith(message), (args, r.stderr)
        assert b"Run with --help for more information." in r.stderr


def test_version_alone_and_with_more_arguments():
    for args in (["--version"], ["--version", "x"]):
        r = run([AGENT_RUN] + args)
        assert r.returncode == 0
        assert r.stdout.startswith(b"agent-run ") and r.stdout.endswith(b"\n") and r.stdout.count(b"\n") == 1
