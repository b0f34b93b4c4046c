"""An app run under valgrind keeps running with the agent, and its spans
arrive. Valgrind ends the whole process on a clone() whose flags are not a
pthread's, so under it the flusher shares the app's descriptor table (the
pthread flags) instead of having one of its own."""
import os
import shutil
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from conftest import AGENT_RUN, SYSTEM_PYTHON, clean_env, run  # noqa: E402
from test_e2e_prefork import wait_for_span_names  # noqa: E402

if not os.path.exists(AGENT_RUN):
    pytest.skip("agent-run is not built (%s)" % AGENT_RUN, allow_module_level=True)
VALGRIND = shutil.which("valgrind")
if VALGRIND is None:
    pytest.skip("valgrind is not installed (tools/dev test installs it)", allow_module_level=True)

APP = """
import sqlite3, time
c = sqlite3.connect(":memory:")
for q in ("select 1", "select 2", "select 3"):
    c.execute(q).fetchone()
time.sleep(0.5)
print("app done")
"""


def test_an_app_under_valgrind_runs_to_its_end_and_its_spans_arrive(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    r = run([AGENT_RUN, VALGRIND, "--tool=none", "--quiet", SYSTEM_PYTHON, "-c", APP], env=clean_env(home),
            timeout=300)
    err = r.stderr.decode(errors="replace")
    assert "Unsupported clone" not in err, err
    assert r.returncode == 0, err
    assert r.stdout.decode().strip() == "app done"
    names = wait_for_span_names(home, 3)
    assert sorted(names) == ["SELECT"] * 3, names
