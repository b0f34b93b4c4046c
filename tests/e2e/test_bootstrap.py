"""The bootstrap's sitecustomize: chaining, children, other interpreters."""
import glob
import os

import pytest

from conftest import AGENT_RUN, APPS, SYSTEM_PYTHON, clean_env, python_params, run

REPORT = os.path.join(APPS, "report_agent.py")


def facts(stdout):
    return dict(line.split("=", 1) for line in stdout.decode().splitlines() if "=" in line)


def test_users_sitecustomize_runs_exactly_once(home, tmp_path):
    user = tmp_path / "user"
    user.mkdir()
    count = tmp_path / "count"
    (user / "sitecustomize.py").write_text(
        "import os\n"
        "with open(%r, 'a') as f: f.write('ran %%d\\n' %% os.getpid())\n"
        "USER_MARK = 42\n" % str(count))
    code = "import sitecustomize,sys; print(sitecustomize.USER_MARK, sitecustomize.__file__, '_agent_run_boot' in sys.modules)"
    env = clean_env(home, PYTHONPATH=str(user))
    bare = run([SYSTEM_PYTHON, "-c", code], env=env)
    first = count.read_text()
    agent = run([AGENT_RUN, SYSTEM_PYTHON, "-c", code], env=env)
    lines = count.read_text()[len(first):].splitlines()
    assert len(lines) == 1, lines
    assert agent.returncode == 0, agent.stderr
    assert agent.stdout == bare.stdout.replace(b"False", b"True")
    assert str(user / "sitecustomize.py").encode() in agent.stdout


def test_users_sitecustomize_error_surfaces_as_without_agent(home, tmp_path):
    user = tmp_path / "user"
    user.mkdir()
    (user / "sitecustomize.py").write_text("raise ValueError('user sitecustomize broke')\n")
    env = clean_env(home, PYTHONPATH=str(user))
    bare = run([SYSTEM_PYTHON, "-c", "print('app ran')"], env=env)
    agent = run([AGENT_RUN, SYSTEM_PYTHON, "-c", "print('app ran')"], env=env)
    assert bare.stdout == agent.stdout == b"app ran\n"
    assert b"user sitecustomize broke" in bare.stderr
    assert b"user sitecustomize broke" in agent.stderr


def test_distribution_sitecustomize_is_chained(home):
    debian = "/usr/lib/python3.11/sitecustomize.py"
    if not os.path.exists(debian):
        pytest.skip("no Debian sitecustomize on this machine")
    code = "import sys; print(sys.modules['sitecustomize'].__file__)"
    bare = run([SYSTEM_PYTHON, "-c", code], env=clean_env(home))
    agent = run([AGENT_RUN, SYSTEM_PYTHON, "-c", code], env=clean_env(home))
    assert bare.stdout.strip() == debian.encode()
    assert agent.stdout == bare.stdout


CHILD = "import subprocess,sys; r=subprocess.run([sys.executable, %r], capture_output=True); sys.stdout.write(r.stdout.decode())" % REPORT


def test_python_child_inherits_the_agent(home):
    r = run([AGENT_RUN, SYSTEM_PYTHON, "-c", CHILD], env=clean_env(home))
    assert r.returncode == 0, r.stderr
    assert facts(r.stdout)["hook"] == "True"


def test_multiprocessing_spawn_child_has_the_agent(home, tmp_path):
    script = tmp_path / "mp_app.py"
    script.write_text("import multiprocessing as mp, sys\n"
            "def f(q): q.put('_agent_run_boot' in sys.modules)\n"
            "if __name__ == '__main__':\n"
            "    ctx = mp.get_context('spawn'); q = ctx.Queue(); p = ctx.Process(target=f, args=(q,))\n"
            "    p.start(); print(q.get(timeout=60)); p.join()\n")
    r = run([AGENT_RUN, SYSTEM_PYTHON, str(script)], env=clean_env(home))
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"True\n"


def test_switch_off_keeps_children_without_the_agent(home):
    env = clean_env(home, AGENT_RUN_INHERIT_SUBPROCESSES="false", PYTHONPATH="/opt/keep")
    r = run([AGENT_RUN, SYSTEM_PYTHON, "-c",
             "import subprocess,sys\nprint('parent', '_agent_run_boot' in sys.modules)\n"
             "r=subprocess.run([sys.executable, %r], capture_output=True)\nsys.stdout.write(r.stdout.decode())\n"
             "env=open('/proc/self/environ','rb').read().split(bytes(1))\n"
             "print('parent_env', *(e.split(b'=')[0].decode() for e in env if e.startswith(b'AGENT_RUN_')))\n"
             "r=subprocess.run([sys.executable, '-c', 'import os; print(*os.environ)'], capture_output=True)\n"
             "print('child_env', r.stdout.decode())"
             % REPORT],
            env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"parent True\n")
    f = facts(r.stdout)
    assert f["hook"] == "False"
    assert f["pythonpath"] == "/opt/keep"
    # The launcher's plumbing, in the program's environment as it started, is
    # gone from its children's; the release's version and the settings stay.
    out = r.stdout.decode()
    parent_env = set(out.split("parent_env", 1)[1].split("\n", 1)[0].split())
    child_env = set(out.split("child_env", 1)[1].split())
    plumbing = {"AGENT_RUN_BOOTSTRAP", "AGENT_RUN_ORIG_PYTHONPATH", "AGENT_RUN_COLLECTOR_SOCKET"}
    assert plumbing <= parent_env, parent_env
    assert not plumbing & child_env, child_env
    assert {"AGENT_RUN_VERSION", "AGENT_RUN_INHERIT_SUBPROCESSES"} <= child_env, child_env


def _other_interpreters():
    found = []
    for pattern in ("/root/.pyenv/versions/3.7.*/bin/python3", "/root/.pyenv/versions/3.6.*/bin/python3",
                    "/root/.pyenv/versions/2.7.*/bin/python"):
        found.extend(sorted(glob.glob(pattern)))
    if not found:
        return [pytest.param(None, marks=pytest.mark.skip(
            reason="no pyenv interpreter outside 3.8-3.13 on this machine: skipped"))]
    return [pytest.param(p, id=os.path.basename(os.path.dirname(os.path.dirname(p)))) for p in found]


@pytest.mark.parametrize("other", _other_interpreters())
def test_child_on_an_unsupported_interpreter_runs_normally(home, other):
    # No hook module fits: the child runs as it would, with one warning, and
    # takes the bootstrap off PYTHONPATH for its own children.
    code = ("import subprocess,sys\n"
            "r=subprocess.run([%r, '-c', 'import os,sys; sys.stdout.write(\"child ok \" + os.environ.get(\"PYTHONPATH\", \"<unset>\"))'],"
            " stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
            "sys.stdout.write(r.stdout.decode()); sys.stderr.write(r.stderr.decode()); sys.exit(r.returncode)" % other)
    r = run([AGENT_RUN, SYSTEM_PYTHON, "-c", code], env=clean_env(home, PYTHONPATH="/opt/p"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"child ok /opt/p"
    warnings = [l for l in r.stderr.decode().splitlines() if l.strip()]
    assert len(warnings) == 1 and "not supported" in warnings[0], warnings


@pytest.mark.parametrize("python", python_params())
def test_agent_loads_on_every_supported_cpython(home, python):
    r = run([AGENT_RUN, python, REPORT], env=clean_env(home))
    assert r.returncode == 0, r.stderr
    assert facts(r.stdout)["hook"] == "True", r.stderr
    assert r.stderr == b""


def _bootstrap_dir(home):
    probe = run([AGENT_RUN, "--dry-run", SYSTEM_PYTHON], env=clean_env(home))
    return next(l.split("=", 1)[1].strip() for l in probe.stdout.decode().splitlines()
                if l.strip().startswith("AGENT_RUN_BOOTSTRAP="))


def _damage(pattern, damage):
    found = glob.glob(pattern)
    assert found, pattern
    for so in found:
        if damage == "garbage":
            with open(so, "wb") as f:
                f.write(b"\x7fELF not really")
        else:
            os.unlink(so)


@pytest.mark.parametrize("damage", ["garbage", "missing"])
def test_broken_boot_module_leaves_the_app_running(home, tmp_path, damage):
    # A bootstrap whose boot module cannot load (a damaged or missing file):
    # the app runs, one warning, and the children do not try again.
    import shutil
    boot = tmp_path / "boot"
    shutil.copytree(_bootstrap_dir(home), str(boot))
    _damage(str(boot / "_agent_run_boot.cpython-311*.so"), damage)
    code = ("import os, sys, subprocess; print('hook', '_agent_run_boot' in sys.modules);"
            "print('child sees', os.environ.get('PYTHONPATH', '<unset>'))")
    env = clean_env(home, PYTHONPATH="%s:/opt/u" % boot, AGENT_RUN_BOOTSTRAP=str(boot),
                    AGENT_RUN_ORIG_PYTHONPATH="/opt/u", AGENT_RUN_VERSION="x")
    r = run([SYSTEM_PYTHON, "-c", code], env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hook False\nchild sees /opt/u\n"
    lines = [l for l in r.stderr.decode().splitlines() if l.strip()]
    assert len(lines) == 1 and "running without the agent" in lines[0], lines


@pytest.mark.parametrize("damage", ["garbage", "missing"])
def test_broken_hook_module_leaves_the_app_running(home, tmp_path, damage):
    # The hook module (wrappers, spans) loads with the first instrumented
    # import: when it cannot, that import and the app still work, and the log
    # says once that the app runs without instrumentation.
    import shutil
    boot = tmp_path / "boot"
    shutil.copytree(_bootstrap_dir(home), str(boot))
    _damage(str(boot / "_agent_run" / "_hook.cpython-311*.so"), damage)
    code = "import sqlite3; print(sqlite3.connect(':memory:').execute('select 41 + 1').fetchone()[0])"
    env = clean_env(home, PYTHONPATH=str(boot), AGENT_RUN_BOOTSTRAP=str(boot), AGENT_RUN_VERSION="x")
    r = run([SYSTEM_PYTHON, "-c", code], env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"42\n"
    err = r.stderr.decode()
    assert err.count("ERROR") == 1 and "instrumentation failed to start; the program runs without it" in err, err
