"""The agent imports nothing the app does not import (field notes: peers import
inspect, pkg_resources, every instrumented library...)."""
import json

import pytest

from conftest import AGENT_RUN, clean_env, python_params, run

# Built-in modules (atexit, _contextvars, ...) are compiled into the
# interpreter: importing them reads no file and runs no Python code.
MODULES = ("import sys, json; print(json.dumps(sorted(m for m in sys.modules"
           " if m not in sys.builtin_module_names)))")
HEAVY = ("inspect", "asyncio", "typing", "importlib.metadata", "importlib_metadata", "pkg_resources",
         "sqlite3", "wrapt", "threading", "logging", "socket", "ssl", "email")


@pytest.mark.parametrize("python", python_params())
def test_agent_adds_only_its_own_modules(home, python):
    bare = run([python, "-c", MODULES], env=clean_env(home))
    agent = run([AGENT_RUN, python, "-c", MODULES], env=clean_env(home))
    assert agent.returncode == 0, agent.stderr
    before = set(json.loads(bare.stdout))
    after = set(json.loads(agent.stdout))
    # The start is native: the boot module, and no Python module of the agent's.
    assert sorted(m for m in after - before if m.startswith("_agent_run")) == ["_agent_run_boot"]
    # Where no sitecustomize existed, the bootstrap's own stays registered.
    added = sorted(m for m in after - before if not m.startswith("_agent_run") and m != "sitecustomize")
    assert added == [], "the agent imported %s at startup" % added
    for heavy in HEAVY:
        if heavy not in before:
            assert heavy not in after, heavy


@pytest.mark.parametrize("module, added", [
    # The boot module runs in every process: itself only.
    ("_agent_run_boot", "['_agent_run_boot']"),
    # The hook module, with the plugin machinery: itself and its package.
    ("_agent_run._hook", "['_agent_run', '_agent_run._hook']"),
])
def test_native_module_import_imports_nothing(home, module, added):
    # Imported on its own (bootstrap on sys.path, no sitecustomize).
    code = ("import sys, os; sys.path.insert(0, os.environ['AGENT_RUN_BOOTSTRAP']); b=set(sys.modules);"
            "import %s as h; print(sorted(set(sys.modules)-b)); print(h.__version__)" % module)
    probe = run([AGENT_RUN, "--dry-run", "/usr/bin/python3"], env=clean_env(home))
    boot = next(l.split("=", 1)[1] for l in probe.stdout.decode().splitlines()
                if l.strip().startswith("AGENT_RUN_BOOTSTRAP="))
    r = run(["/usr/bin/python3", "-S", "-c", code], env=clean_env(home, AGENT_RUN_BOOTSTRAP=boot.strip()))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines[0] == added
