"""Where a request's CPU time goes on the real hardware: the benchmark's
gunicorn -w 2 Flask app under wrk, bare and under agent-run, its two workers
sampled by `perf record -e cpu-clock`. Prints one JSON line: µs per request
per shared object (and the kernel), medians over the rounds, bare, traced
and added; the hook module's functions, µs per request; and the collector
process, sampled the same way: its total and its functions (with the
kernel's), µs per request.

callgrind_worker.py counts instructions and simulated cache misses, which do
not move with the host's load but model neither the CPU's prefetchers nor
its TLBs nor the kernel; this measures time, all of it, with the noise of a
shared machine (run several rounds; bare and traced alternate). cpu-clock
is a software event: it works on VMs without hardware counters.

    python3 bench/spans/perf_worker.py [--rounds 4] [--duration 8] [--variant LABEL NAME=VALUE...]...

--variant adds one more traced configuration to every round, as in
bench_flask_wrk.py (e.g. `--variant other AGENT_RUN=/path/to/other/agent-run`).
"""
import argparse
import collections
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_flask_wrk import parse_variant, run_wrk, start_app, stop_app  # noqa: E402

FREQUENCY = 2000  # samples per second per CPU-busy thread


def report(data, sort):
    """{key: samples} from perf report, keyed by `sort` (dso, or dso,sym)."""
    out = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", sort, "-n", "--stdio",
                          "-g", "none"], capture_output=True, text=True).stdout
    acc = collections.Counter()
    for line in out.splitlines():
        m = re.match(r"\s*[\d.]+%\s+(\d+)\s+(.*\S)", line)
        if m:
            key = re.sub(r"\s+", " ", m.group(2))
            acc[re.sub(r"\.cpython-\S+", "", key)] += int(m.group(1))
    return acc


def one_run(traced, duration, work, extra_env=None):
    """One server, wrk for `duration` s with its workers (and its collector)
    sampled: ({dso: µs per request}, {hook function: µs per request},
    {collector function: µs per request})."""
    home = tempfile.mkdtemp(prefix="home-", dir=work)
    data = os.path.join(work, "perf.data")
    collector_data = os.path.join(work, "perf-collector.data")
    proc, url, workers, collectors = start_app(traced, home, extra_env)
    try:
        perfs = [subprocess.Popen(["perf", "record", "-q", "-F", str(FREQUENCY), "-e", "cpu-clock", "-o", out,
                                   "-p", ",".join(map(str, pids))],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for out, pids in ((data, workers), (collector_data, collectors)) if pids]
        try:
            requests, _ = run_wrk(url, duration)
        finally:
            for perf in perfs:
                perf.send_signal(signal.SIGINT)
            for perf in perfs:
                perf.wait(60)
        if not os.path.exists(data):
            sys.exit("perf record sampled nothing: run as root, or lower "
                     "/proc/sys/kernel/perf_event_paranoid to 1 or less")
    finally:
        stop_app(proc)
        shutil.rmtree(home, ignore_errors=True)

    def us(samples):
        return samples / FREQUENCY / requests * 1e6
    by_dso = {k: us(v) for k, v in report(data, "dso").items()}
    hook = {k.split(" ", 1)[1].replace("[.] ", ""): us(v) for k, v in report(data, "dso,sym").items()
            if k.startswith("_hook ")}
    os.unlink(data)
    collector = {}
    if os.path.exists(collector_data):
        collector = {k: us(v) for k, v in report(collector_data, "dso,sym").items()}
        os.unlink(collector_data)
    return by_dso, hook, collector


def medians(runs, floor):
    keys = set().union(*runs)
    return {k: round(statistics.median(r.get(k, 0.0) for r in runs), 2) for k in keys
            if max(r.get(k, 0.0) for r in runs) >= floor}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--variant", nargs="+", action="append", default=[], metavar="LABEL NAME=VALUE")
    a = ap.parse_args()
    for tool in ("perf", "wrk"):
        if shutil.which(tool) is None:
            sys.exit("%s is not installed (Debian: apt-get install linux-perf wrk)" % tool)
    variants = [parse_variant(v) for v in a.variant]
    configs = [("bare", False, None), ("traced", True, None)] + [(label, True, env) for label, env in variants]
    work = tempfile.mkdtemp(prefix="bench-perf-")
    try:
        runs = {label: [] for label, _, _ in configs}
        for _ in range(a.rounds):
            for label, traced, env in configs:
                runs[label].append(one_run(traced, a.duration, work, env))
        result = {"bench": "gunicorn -w 2 flask, 3 sqlite queries, wrk -t2 -c16 -d%ds, perf cpu-clock of the "
                           "workers, µs per request (medians of %d rounds)" % (a.duration, a.rounds)}
        bare = medians([r[0] for r in runs["bare"]], 0.05)
        result["bare"] = {"total": round(sum(bare.values()), 1), "by_object": bare}
        for label, _, _ in configs[1:]:
            dso = medians([r[0] for r in runs[label]], 0.05)
            added = {k: round(dso.get(k, 0.0) - bare.get(k, 0.0), 2) for k in set(dso) | set(bare)}
            result[label] = {
                "total": round(sum(dso.values()), 1),
                "added": round(sum(dso.values()) - sum(bare.values()), 1),
                "added_by_object": dict(sorted(added.items(), key=lambda kv: -abs(kv[1]))),
                "hook_functions": dict(sorted(medians([r[1] for r in runs[label]], 0.02).items(),
                                              key=lambda kv: -kv[1])[:25]),
                "collector": {
                    "total": round(statistics.median(sum(r[2].values()) for r in runs[label]), 2),
                    "functions": dict(sorted(medians([r[2] for r in runs[label]], 0.02).items(),
                                             key=lambda kv: -kv[1])[:25]),
                },
            }
        print(json.dumps(result, ensure_ascii=False))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
