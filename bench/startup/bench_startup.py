#!/usr/bin/python3
"""Startup cost of agent-run: `agent-run python3 -c pass` against `python3 -c pass`.

Interleaved rounds in one run (bare, agent, bare, agent, ...) so that both see
the same machine state; reports medians of wall time, the added milliseconds
(the median of the per-round differences) and the ratio, and beside them the CPU time and the minor page faults of the
process (from wait4's rusage: the launcher and the program it execs, not the
collector, which is not our child). Wall time on a shared machine is noisy;
page faults are not, and on a VM where each one costs tens of microseconds
they are most of a short process's start-up time.
The bootstrap directory is generated once before timing (it is reused by
every launch after the first, which is what users see), and so is the
launch plan that the quick launch replays (every launch after the first
with the same inputs); a variant with quick_launch = false shows every
launch going through the full launcher. The last variant is
the agent inside Python alone: python3 started directly in the environment
the launcher would give it (collector off).

    bench/startup/bench_startup.py [--agent-run PATH] [--python PATH] [--rounds N]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def spawn_wait(argv, env, extra=None):
    if extra:
        env = dict(env, **extra)
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env)
    _, status, usage = os.wait4(pid, 0)
    t1 = time.perf_counter()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("%s failed with status %d" % (" ".join(argv), status))
    return t1 - t0, usage.ru_utime + usage.ru_stime, usage.ru_minflt


def launch_environment(agent_run, env):
    """The whole environment agent-run gives the program it launches (it launches `env -0`)."""
    out = subprocess.run([agent_run, "/usr/bin/env", "-0"], env=env, capture_output=True, check=True).stdout
    return dict(entry.decode().split("=", 1) for entry in out.split(b"\0") if entry)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_agent = os.path.join(here, "..", "..", "build", "stage", "bin", "agent-run")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agent-run", default=os.path.abspath(default_agent))
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--rounds", type=int, default=200)
    args = ap.parse_args()

    home = tempfile.mkdtemp(prefix="agent-run-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_RUN_", "OTEL_", "PYTHON"))}
    env["HOME"] = home
    env.pop("XDG_CACHE_HOME", None)
    bare = [args.python, "-c", "pass"]
    agent = [args.agent_run, args.python, "-c", "pass"]
    # name -> (argv, extra environment)
    variants = {
        "python3 -c pass": (bare, None),
        "agent-run python3 -c pass": (agent, None),
        # Every launch through the full launcher (no launch plan replayed).
        "  the same, quick_launch = false": (agent, {"AGENT_RUN_QUICK_LAUNCH": "false"}),
        "  the same, collector off": (agent, {"AGENT_RUN_COLLECTOR_ENABLED": "false"}),
        "agent-run --disable python3 -c pass": ([args.agent_run, "--disable", args.python, "-c", "pass"], None),
    }
    # The agent inside Python alone: python3 in the environment the launcher
    # would give it (collector off), started without the launcher.
    agent_env = launch_environment(args.agent_run, dict(env, AGENT_RUN_COLLECTOR_ENABLED="false"))
    variants["python3 in agent-run's environment"] = (bare, agent_env)
    for argv, extra in variants.values():  # warm up: page cache, bootstrap generation
        for _ in range(5):
            spawn_wait(argv, env, extra)
    samples = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, (argv, extra) in variants.items():
            samples[name].append(spawn_wait(argv, env, extra))

    def medians(name):
        return [statistics.median(column) for column in zip(*samples[name])]

    def paired(name, field):
        # Each round runs every variant back to back: the difference within a
        # round cancels the machine's slow drift (on a shared VM the bare run
        # itself moves by several ms between minutes).
        return statistics.median(v[field] - b[field] for v, b in zip(samples[name], samples["python3 -c pass"]))

    base_wall, base_cpu, base_faults = medians("python3 -c pass")
    print("startup, median of %d interleaved rounds (%s)" % (args.rounds, args.python))
    print("%-38s %9s %9s %7s %9s %9s %7s %7s" % (
        "command", "wall ms", "added ms", "ratio", "cpu ms", "added ms", "faults", "added"))
    for name in samples:
        wall, cpu, faults = medians(name)
        added_wall, added_cpu = paired(name, 0), paired(name, 1)
        print("%-38s %9.2f %9.2f %7.3f %9.2f %9.2f %7d %7d" % (
            name, wall * 1e3, added_wall * 1e3, (base_wall + added_wall) / base_wall,
            cpu * 1e3, added_cpu * 1e3, faults, faults - base_faults))
    print("(added: the median of the differences within a round; ratio: (bare + added) / bare)")


if __name__ == "__main__":
    sys.exit(main())
