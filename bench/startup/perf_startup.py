#!/usr/bin/python3
"""What starting the collector costs, in CPU time and page faults (perf stat).

For each agent-run given (e.g. a build before a change and one after, in the
same run) and each program (`/bin/true`, `python3 -c pass`), with the
collector on and off (AGENT_RUN_COLLECTOR_ENABLED=false):

- `app process`: `perf stat -i` (--no-inherit), the launcher and the program
  it execs into, i.e. what the app pays: this is where the collector's start
  should cost almost nothing;
- `all processes`: perf stat's default (children inherit the counters), which
  also counts the collector's own start and exit (it runs beside the app) and
  its helpers.

Page faults are deterministic (each costs ~25 us on the build VM); CPU times
move with the machine's load: compare them within one run.

    bench/startup/perf_startup.py AGENT_RUN [AGENT_RUN ...] [--rounds N] [--python PATH]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile


def perf_stat(argv, env, rounds, inherit):
    cmd = ["perf", "stat", "-x,", "-r", str(rounds), "-e", "task-clock,page-faults"]
    if not inherit:
        cmd.append("-i")
    r = subprocess.run(cmd + argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit("perf stat failed: %s" % r.stderr)
    values = {}
    for line in r.stderr.splitlines():
        fields = line.split(",")
        if len(fields) >= 3 and fields[2] in ("task-clock", "page-faults"):
            values[fields[2]] = float(fields[0])
    return values["task-clock"], values["page-faults"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("agent_runs", nargs="+")
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--python", default="/usr/bin/python3")
    args = ap.parse_args()

    home = tempfile.mkdtemp(prefix="agent-run-perf-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_RUN_", "OTEL_", "PYTHON"))}
    env["HOME"] = home
    env.pop("XDG_CACHE_HOME", None)
    off = dict(env, AGENT_RUN_COLLECTOR_ENABLED="false")
    programs = [["/bin/true"], [args.python, "-c", "pass"]]
    print("%-48s %-22s %-14s %9s %8s" % ("agent-run", "program", "collector", "task-clock", "faults"))
    for inherit in (False, True):
        print("-- %s" % ("all processes (perf stat)" if inherit else "app process (perf stat -i)"))
        for agent in args.agent_runs:
            for prog in programs:
                subprocess.run([agent] + prog, env=env, check=True)  # bootstrap generated, caches warm
                rows = {}
                for name, e in (("on", env), ("off", off)):
                    rows[name] = perf_stat([agent] + prog, e, args.rounds, inherit)
                for name in ("on", "off"):
                    ms, faults = rows[name]
                    print("%-48s %-22s %-14s %7.2f ms %8.0f" % (agent[-48:], " ".join(prog)[-22:], name, ms, faults))
                d_ms = rows["on"][0] - rows["off"][0]
                d_f = rows["on"][1] - rows["off"][1]
                print("%-48s %-22s %-14s %+7.2f ms %+8.0f" % ("", "", "on - off", d_ms, d_f))
    sys.stdout.flush()
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
