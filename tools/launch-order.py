#!/usr/bin/python3
"""Regenerates cmd/launch_path.order: the functions a launch runs.

The agent-run executable is linked with lld's --symbol-ordering-file, which
puts these functions together at the start of its code. A launch then faults
in a few 64 KiB windows of code instead of one window per scattered function
(on the project's VM each page fault costs about 25 us).

It runs a built agent-run under callgrind for the launch paths (--disable,
the collector off, the collector on, --version), collects every function
executed, and writes their symbol names, sorted. A stale list is harmless: a
symbol that no longer exists is skipped by the linker, a new function is just
left where it was. Run it after changing the launch path, then rebuild:

    tools/launch-order.py BUILD_DIR/stage/bin/agent-run > cmd/launch_path.order
"""
import os
import re
import subprocess
import sys
import tempfile


def executed_functions(agent_run, argv_tail, env, work):
    """Demangled names of the functions callgrind saw (up to the failed execve)."""
    out = os.path.join(work, "callgrind.out")
    subprocess.run(["valgrind", "--tool=callgrind", "--compress-strings=no", "--callgrind-out-file=" + out,
                    agent_run] + argv_tail, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    names = set()
    with open(out, errors="replace") as f:
        for line in f:
            if line.startswith("fn="):
                name = line[3:].rstrip("\n")
                if name.endswith("'2"):  # callgrind's mark for a recursive call
                    name = name[:-2]
                names.add(name)
    return names


def symbol_table(agent_run, demangle):
    """address -> symbol names of the executable's functions."""
    cmd = ["nm", "--defined-only"] + (["-C"] if demangle else []) + [agent_run]
    table = {}
    for line in subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] in "tTwWiI":
            table.setdefault(parts[0], []).append(parts[2])
    return table


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    agent_run = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="agent-run-launch-order-")
    home = os.path.join(work, "home")
    os.mkdir(home)
    # A program execve refuses: the launcher does everything, then exits (callgrind
    # writes nothing for a process that execs).
    noexec = os.path.join(work, "noexec")
    with open(noexec, "wb") as f:
        f.write(b"\0\1\2\3")
    os.chmod(noexec, 0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_RUN_", "OTEL_", "PYTHON", "XDG_"))}
    env["HOME"] = home

    executed = set()
    subprocess.run([agent_run, noexec], env=env, stderr=subprocess.DEVNULL)  # creates the bootstrap directory
    for tail, extra in (([noexec], {}), (["--disable", noexec], {}), (["--version"], {}),
                        ([noexec], {"AGENT_RUN_COLLECTOR_ENABLED": "false"})):
        executed |= executed_functions(agent_run, tail, dict(env, **extra), work)

    by_address = {}
    for address, names in symbol_table(agent_run, demangle=True).items():
        for name in names:
            by_address.setdefault(name, set()).add(address)
    mangled = symbol_table(agent_run, demangle=False)
    symbols = set()
    for name in executed:
        for address in by_address.get(name, ()):
            symbols.update(mangled.get(address, ()))
    # glibc picks a string function's variant by CPU (IFUNC), and valgrind's
    # CPU is not the real one (no AVX-512): keep every variant of one it ran.
    variant = re.compile(r"^(__\w+?)_(sse2|ssse3|sse4_1|sse4_2|avx|avx2|evex|avx512\w*|erms)\b")
    prefixes = {m.group(1) + "_" for m in map(variant.match, symbols) if m}
    for names in mangled.values():
        symbols.update(n for n in names if any(n.startswith(p) for p in prefixes) and variant.match(n))
    subprocess.run(["rm", "-rf", work])
    sys.stdout.write("".join(s + "\n" for s in sorted(symbols)))


if __name__ == "__main__":
    main()
