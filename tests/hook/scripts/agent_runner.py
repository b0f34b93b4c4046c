"""Runs a program with the instrumentation installed the way boot does it:
agent_runner.py <program.py> [args...]

AGENT_RUN_TEST_PKG: the dir holding _agent_run; AGENT_RUN_TEST_LOG: the log
file; AGENT_RUN_TEST_SETTINGS: the settings as a Python literal (not JSON: the
runner must not import json, which the tests instrument).
"""
import ast
import os
import sys

sys.path.insert(0, os.environ["AGENT_RUN_TEST_PKG"])
from _agent_run import log  # noqa: E402

log.configure(os.environ.get("AGENT_RUN_TEST_LOG_LEVEL", "debug"), os.environ["AGENT_RUN_TEST_LOG"])
from _agent_run import instrumentation  # noqa: E402

instrumentation.install(ast.literal_eval(os.environ.get("AGENT_RUN_TEST_SETTINGS") or "{}"), log)

# What the agent alone has imported (runpy, below, brings its own).
sys._agent_run_test_modules_after_install = sorted(sys.modules)

program = sys.argv[1]
sys.argv = sys.argv[1:]
del sys.path[0]
sys.path.insert(0, os.path.dirname(os.path.abspath(program)))
import runpy  # noqa: E402

runpy.run_path(program, run_name="__main__")
