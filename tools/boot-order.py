#!/usr/bin/python3
"""Regenerates src/boot/boot_path.order: the boot module's code a Python start runs.

The boot module (_agent_run_boot) is loaded by every Python process of the
app. Linked with lld's --symbol-ordering-file, the functions its start runs
sit together at the start of its code, so the start faults in one or two
64 KiB windows of it instead of one per scattered function (each page fault
costs tens of microseconds on the project's VM).

It asks agent-run for the environment of a launch (it launches `env -0`), runs
`python3 -c pass` in it under callgrind, and writes the boot module's
functions that ran, as symbol names. A stale list is harmless (see
tools/launch-order.py). Run it after changing the boot module's start, then
rebuild:

    tools/boot-order.py BUILD_DIR/stage/bin/agent-run [/usr/bin/python3] > src/boot/boot_path.order
"""
import os
import subprocess
import sys
import tempfile


# The whole environment agent-run gives a program it launches: the startup
# bench's helper, so that the two measure the same thing.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench", "startup"))
from bench_startup import launch_environment  # noqa: E402


def main():
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    agent_run = os.path.abspath(sys.argv[1])
    python = sys.argv[2] if len(sys.argv) == 3 else "/usr/bin/python3"
    work = tempfile.mkdtemp(prefix="agent-run-boot-order-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_RUN_", "OTEL_", "PYTHON", "XDG_"))}
    env["HOME"] = work
    subprocess.run([agent_run, python, "-c", "pass"], env=env, check=True)  # creates the bootstrap directory
    env = launch_environment(agent_run, env)
    out = os.path.join(work, "callgrind.out")
    subprocess.run(["valgrind", "--tool=callgrind", "--compress-strings=no", "--callgrind-out-file=" + out,
                    python, "-c", "pass"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True)
    module, executed = None, set()
    with open(out, errors="replace") as f:
        current = None
        for line in f:
            if line.startswith("ob="):
                current = line[3:].strip()
                if "_agent_run_boot." in current:
                    module = current
            elif line.startswith("fn=") and current and "_agent_run_boot." in current:
                executed.add(line[3:].rstrip("\n").removesuffix("'2"))
    if module is None:
        raise SystemExit("boot-order: the boot module did not run (is the agent on?)")

    def table(demangle):
        cmd = ["nm", "--defined-only"] + (["-C"] if demangle else []) + [module]
        rows = {}
        for line in subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines():
            parts = line.split(" ", 2)
            if len(parts) == 3 and parts[1] in "tTwW":
                rows.setdefault(parts[0], []).append(parts[2])
        return rows

    mangled = table(False)
    symbols = set()
    for address, names in table(True).items():
        if executed.intersection(names):
            symbols.update(mangled.get(address, ()))
    subprocess.run(["rm", "-rf", work])
    sys.stdout.write("".join(s + "\n" for s in sorted(symbols)))


if __name__ == "__main__":
    main()
