#!/usr/bin/python3
"""The launcher's own cost: `agent-run ... /bin/true` against `/bin/true`.

Deterministic metrics first, because wall time on a shared VM is noise:
- page faults and task-clock (perf stat -r N), each variant against /bin/true
  in the same run (on the project's VM a page fault costs about 25 us, so
  faults dominate a process's start);
- instructions the full launcher executes (valgrind --tool=callgrind: under
  valgrind no launch plan fits, as /proc/self/exe is valgrind's, so this is
  the full launcher's path, writing the plan included). Callgrind
  writes nothing for a process that execs, so there the program is a file
  that execve refuses (ENOEXEC): the launcher does everything up to the exec,
  then reports the failure and exits (one message line more than a real run).

    bench/startup/bench_launcher.py [--agent-run PATH]... [--rounds N] [--no-callgrind]

The agent-run variants run from a launch plan (the quick launch: the
warm-up runs write it), as every launch after the first does; the
quick_launch = false variant shows the full launcher.

Several --agent-run builds (e.g. before and after a change) are measured one
after the other in the same run, each against /bin/true.

The floor: `static-exec /bin/true`, a statically linked C program (built
here with cc) whose main() only execs its arguments. It pays what any
static glibc program pays before main() (on the project's VM mostly CPUID
instructions, each a VM exit of ~7.6 us, and a dozen page faults); what the
launcher costs beyond it is its own work.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile


def perf_stat(argv, env, rounds):
    """Mean page faults and task-clock (ms) over `rounds` runs."""
    r = subprocess.run(["perf", "stat", "-x,", "-r", str(rounds), "-e", "page-faults,task-clock"] + argv,
                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    faults = clock = None
    for line in r.stderr.decode().splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[2].startswith("page-faults"):
            faults = float(fields[0])
        elif len(fields) > 2 and fields[2].startswith("task-clock"):
            clock = float(fields[0])  # msec
    if faults is None or clock is None:
        raise SystemExit("cannot read perf stat's output:\n" + r.stderr.decode())
    return faults, clock


def callgrind(argv, env):
    """Instructions executed (Ir) by one run."""
    with tempfile.NamedTemporaryFile(prefix="callgrind-") as out:
        r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out.name] + argv,
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        m = re.search(rb"Collected : (\d+)", r.stderr)
        if not m:
            raise SystemExit("callgrind reported nothing for %s:\n%s" % (argv, r.stderr.decode()))
        return int(m.group(1))


STATIC_EXEC_C = b"""
#include <unistd.h>
extern char** environ;
int main(int argc, char** argv) { if (argc > 1) execve(argv[1], argv + 1, environ); return 127; }
"""


def build_static_exec(work):
    """The floor's program, or None (with a message) where cc -static cannot build it."""
    src, exe = os.path.join(work, "static-exec.c"), os.path.join(work, "static-exec")
    with open(src, "wb") as f:
        f.write(STATIC_EXEC_C)
    r = subprocess.run(["cc", "-O2", "-static", "-o", exe, src], capture_output=True)
    if r.returncode != 0:
        print("no floor: cc -static failed (%s)" % r.stderr.decode().strip().splitlines()[-1:])
        return None
    return exe


def measure(a, env, off, noexec, args, static_exec):
    variants = [("/bin/true", ["/bin/true"], env, None)]
    if static_exec:
        variants.append(("static-exec /bin/true (the floor)", [static_exec, "/bin/true"], env, None))
    variants += [
        ("agent-run --version", [a, "--version"], env, [a, "--version"]),
        ("agent-run --disable /bin/true", [a, "--disable", "/bin/true"], env, [a, "--disable", noexec]),
        ("  the same, quick_launch = false (the full launcher)", [a, "--disable", "/bin/true"],
         dict(env, AGENT_RUN_QUICK_LAUNCH="false"), None),
        ("AGENT_RUN_COLLECTOR_ENABLED=false agent-run /bin/true", [a, "/bin/true"], off, [a, noexec]),
        ("agent-run /bin/true (collector's standby started)", [a, "/bin/true"], env, None),
    ]
    # Warm up: page cache, and the bootstrap directory the agent-on variant creates once.
    for _, argv, e, _ in variants:
        for _ in range(3):
            subprocess.run(argv, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    print("\nagent-run: %s (%d bytes)" % (a, os.path.getsize(a)))
    print("%-55s %12s %12s %14s" % ("", "page faults", "task-clock", "instructions"))
    base_faults = base_clock = None
    for name, argv, e, cg_argv in variants:
        faults, clock = perf_stat(argv, e, args.rounds)
        if base_faults is None:
            base_faults, base_clock = faults, clock
            extra = ""
        else:
            extra = "  (+%.0f faults, +%.2f ms over /bin/true)" % (faults - base_faults, clock - base_clock)
        ir = ""
        if cg_argv and not args.no_callgrind:
            ir = "{:,}".format(callgrind(cg_argv, e))
        print("%-55s %12.0f %9.2f ms %14s%s" % (name, faults, clock, ir, extra))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_agent = os.path.join(here, "..", "..", "build", "stage", "bin", "agent-run")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agent-run", action="append", help="an agent-run executable (repeatable)")
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--no-callgrind", action="store_true")
    args = ap.parse_args()
    if not shutil.which("perf"):
        raise SystemExit("perf is not installed (apt-get install linux-perf)")

    work = tempfile.mkdtemp(prefix="agent-run-bench-launcher-")
    home = os.path.join(work, "home")
    os.mkdir(home)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_RUN_", "OTEL_", "PYTHON", "XDG_"))}
    env["HOME"] = home
    off = dict(env, AGENT_RUN_COLLECTOR_ENABLED="false")
    # For callgrind: a program execve refuses (neither ELF nor #!).
    noexec = os.path.join(work, "noexec")
    with open(noexec, "wb") as f:
        f.write(b"\0\1\2\3")
    os.chmod(noexec, 0o755)

    static_exec = build_static_exec(work)
    for a in args.agent_run or [os.path.abspath(default_agent)]:
        measure(a, env, off, noexec, args, static_exec)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
