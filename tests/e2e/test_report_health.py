"""What the agent recorded reaches `agent-run report`: spans, and each
process's counters and plugin health (sent to the collector at exit)."""
import json
import time

from conftest import AGENT_RUN, SYSTEM_PYTHON, clean_env, run

APP = ("import sqlite3\n"
       "c = sqlite3.connect(':memory:')\n"
       "for _ in range(25): c.execute('select 1').fetchone()\n"
       "print('done')\n")


def test_report_shows_spans_counters_and_plugin_health(home, tmp_path):
    data = tmp_path / "data"
    r = run([AGENT_RUN, SYSTEM_PYTHON, "-c", APP], env=clean_env(home, AGENT_RUN_DATA_DIR=str(data)))
    assert r.returncode == 0 and r.stdout == b"done\n", r.stderr
    rep = None
    for _ in range(100):  # the collector drains after the app exits
        out = run([AGENT_RUN, "report", "--json", str(data / "traces")], env=clean_env(home))
        if out.returncode == 0:
            rep = json.loads(out.stdout)
            if rep["agent"]["stats_seen"]:
                break
        time.sleep(0.1)
    assert rep is not None, out.stderr
    ops = {o["name"]: o for o in rep["operations"]}
    assert ops["sqlite SELECT"]["count"] == 25, ops
    assert rep["agent"]["dropped_spans_total"] == 0
    plugins = {p["name"]: p for p in rep["agent"]["plugins"]}
    assert plugins["sqlite3"]["state"] == "active", plugins
    assert plugins["sqlite3"]["calls"] >= 25
    assert plugins["sqlite3"]["errors"] == 0
