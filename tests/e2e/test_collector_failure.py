"""A collector that cannot run: the app runs as without agent-run, and the
agent says once, at exit, that what it recorded was dropped."""
from conftest import AGENT_RUN, SYSTEM_PYTHON, clean_env, run

APP = ("import sqlite3\n"
       "c = sqlite3.connect(':memory:')\n"
       "print(sum(c.execute('select 1').fetchone()[0] for _ in range(20)))\n")


def test_collector_that_cannot_write_its_store(home, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    bare = run([SYSTEM_PYTHON, "-c", APP], env=clean_env(home))
    r = run([AGENT_RUN, SYSTEM_PYTHON, "-c", APP],
            env=clean_env(home, AGENT_RUN_DATA_DIR=str(blocker / "data")))
    assert r.returncode == 0 and r.stdout == bare.stdout == b"20\n", r.stderr
    lines = [l for l in r.stderr.decode().splitlines() if l.strip()]
    assert len(lines) == 1, lines
    assert "spans were dropped" in lines[0] and "collector" in lines[0]
