"""The fallback (issue 3): a broken plugin never changes what the app sees.

A user plugin raising in before, after or its extractor (Exception, a
BaseException subclass, GeneratorExit) around real json calls: the app's
stdout is byte-identical to a run without the agent, the plugin is unplugged
after plugins.error_limit errors, the originals are back (identity), a
reference the app took before the unplug is a pass-through, and the log
names the plugin, once. And a hook module that cannot load: the app runs.
"""
import ast
import glob
import os
import shutil

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
BROKEN = os.path.join(HERE, "plugins", "broken_plugin.py")

MODES = ["before", "after", "extract", "before+after+extract", "before:base", "after:base",
         "extract:base", "after:genexit"]


def _report(tmp_path, name):
    with open(str(tmp_path / name)) as f:
        return ast.literal_eval(f.read())


@pytest.mark.parametrize("mode", MODES)
def test_broken_plugin_is_unplugged_and_invisible(python, run_script, tmp_path, mode):
    plain = run_script(python, "app_json.py", agent=False)
    assert plain.rc == 0, plain
    limit = 3
    r = run_script(python, "app_json.py", settings={"plugins.paths": [BROKEN], "plugins.error_limit": limit},
                   env={"BROKEN_MODE": mode, "APP_REPORT": str(tmp_path / "report")})
    assert r.rc == 0, r
    assert r.stdout == plain.stdout, r  # byte-identical
    info = _report(tmp_path, "report")
    h = info["health"]["broken"]
    assert h["state"] == "unplugged", (h, r)
    # counted until the limit, then nothing more: the held `dumps` is a pass-through
    assert h["errors"] == limit, (h, r)
    assert info["restored"] == {"dumps": True, "loads": True, "encode": True}, info
    assert info["loader"] == info["spec_loader"] == "SourceFileLoader", info
    assert r.log.count("unplugged plugin broken") == 1, r.log
    assert "Traceback" in r.log and "plugin broken failed in" in r.log, r.log
    assert "agent-run health: plugin broken: unplugged" in r.log, r.log
    assert "broken plugin" not in r.stderr.decode(), r  # nothing of it reaches the app's stderr


def test_hook_module_that_cannot_load(python, run_script, agent_pkg, tmp_path):
    pkg = tmp_path / "pkg"
    shutil.copytree(agent_pkg, str(pkg))
    for so in glob.glob(str(pkg / "_agent_run" / "_hook*.so")):
        with open(so, "wb") as f:
            f.write(b"not an ELF file")
    # It loads with the plugin machinery, at the first instrumented import.
    plain = run_script(python, "app_sqlite.py", agent=False)
    r = run_script(python, "app_sqlite.py", env={"AGENT_RUN_TEST_PKG": str(pkg)})
    assert r.rc == 0 and r.stdout == plain.stdout, r
    assert r.log.count("instrumentation failed to start; the program runs without it") == 1, r.log
    assert "_hook" in r.log, r.log
