"""Runs a program with the instrumentation installed the way the agent's start does it:
agent_runner.py <program.py> [args...]

AGENT_RUN_TEST_PKG: the dir holding _agent_run; AGENT_RUN_TEST_LOG: the log
file; AGENT_RUN_TEST_SETTINGS: the settings as a Python literal (not JSON: the
runner must not import json, which the tests instrument).
"""
import ast
import os
import sys

sys.path.insert(0, os.environ["AGENT_RUN_TEST_PKG"])
import _agent_run_boot  # noqa: E402

_agent_run_boot.configure_log(os.environ.get("AGENT_RUN_TEST_LOG_LEVEL", "debug"), os.environ["AGENT_RUN_TEST_LOG"])
_agent_run_boot.install_instrumentation(ast.literal_eval(os.environ.get("AGENT_RUN_TEST_SETTINGS") or "{}"),
                                        os.environ["AGENT_RUN_TEST_PKG"])

# What the agent alone has imported (runpy, below, brings its own).
sys._agent_run_test_modules_after_install = sorted(sys.modules)

program = sys.argv[1]
sys.argv = sys.argv[1:]
del sys.path[0]
sys.path.insert(0, os.path.dirname(os.path.abspath(program)))
import runpy  # noqa: E402

runpy.run_path(program, run_name="__main__")
