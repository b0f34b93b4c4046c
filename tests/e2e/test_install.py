"""agent-run works after `cmake --install` to any prefix: it finds its files
relative to its own executable."""
import os
import subprocess

from conftest import BUILD_DIR, SYSTEM_PYTHON, clean_env, run


def test_installed_copy_runs_an_app_with_the_agent(home, tmp_path):
    prefix = tmp_path / "some prefix"
    r = subprocess.run(["cmake", "--install", BUILD_DIR, "--prefix", str(prefix)],
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr
    agent = prefix / "bin" / "agent-run"
    assert agent.exists()
    assert (prefix / "libexec" / "agent-run" / "collector").exists()
    assert (prefix / "share" / "agent-run" / "templates" / "sitecustomize.py.in").exists()
    code = "import sys; print('_agent_run_boot' in sys.modules)"
    r = run([str(agent), SYSTEM_PYTHON, "-c", code], env=clean_env(home))
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"True\n"
    assert r.stderr == b""
    # A copy moved elsewhere keeps working: nothing absolute is baked in.
    moved = tmp_path / "moved"
    os.rename(prefix, moved)
    r = run([str(moved / "bin" / "agent-run"), SYSTEM_PYTHON, "-c", code], env=clean_env(home))
    assert r.stdout == b"True\n", r.stderr
