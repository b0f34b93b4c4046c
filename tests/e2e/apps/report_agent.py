"""Prints what a process sees of the agent, one fact per line (key=value)."""
import os
import sys

print("hook=%s" % ("_agent_run_boot" in sys.modules))
print("pid=%d" % os.getpid())
print("sitecustomize=%s" % getattr(sys.modules.get("sitecustomize"), "__file__", None))
print("sys_path=%s" % os.pathsep.join(p for p in sys.path if p))
print("pythonpath=%s" % os.environ.get("PYTHONPATH", "<unset>"))
