"""Instructions and instruction-cache misses per request of a real gunicorn
worker (the benchmark's Flask app), bare and under agent-run, counted by
valgrind's callgrind with its cache simulator: numbers that do not move with
the host's load, unlike req/s on a shared machine.

Each of the four runs (bare and traced, N and 2N requests from a sequential
HTTP client) starts `gunicorn -w 1` under callgrind; the worker's counts of
the N-request run are subtracted from the 2N-request run's, so the start and
the import of the app cancel out and what is left is N requests. Prints one
JSON line: per request, Ir (instructions) and I1mr (first-level instruction
cache misses) in all, and per shared object, bare and traced.

    python3 bench/spans/callgrind_worker.py [--requests 1000] [--keep DIR]

--keep DIR leaves the four callgrind files in DIR (named bare-N.PID,
traced-2N.PID, ...) for callgrind_annotate, per function.

It takes about two minutes on two cores. PYTHONHASHSEED is fixed so that the
dict layouts, and with them the lookups' costs, are the same in every run.
"""
import argparse
import collections
import glob
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_flask_wrk import AGENT_RUN, HERE, free_port  # noqa: E402


def drive(port, n):
    """Waits for the worker, then n requests one after another."""
    end = time.monotonic() + 300
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            c.request("GET", "/items/7")
            c.getresponse().read()
            c.close()
            break
        except OSError:
            if time.monotonic() > end:
                raise RuntimeError("gunicorn under valgrind did not answer")
            time.sleep(0.2)
    for _ in range(n):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        c.request("GET", "/items/7")
        c.getresponse().read()
        c.close()


def run(traced, n, out_dir):
    """Starts gunicorn -w 1 under callgrind, sends n requests, stops it;
    returns the worker's callgrind file."""
    port = free_port()
    home = tempfile.mkdtemp(prefix="cg-home-", dir=out_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_RUN_", "PYTHON"))}
    env.update(HOME=home, PYTHONHASHSEED="0")
    prefix = os.path.join(out_dir, "%s-%d" % ("traced" if traced else "bare", n))
    cmd = ["valgrind", "--tool=callgrind", "--cache-sim=yes", "--callgrind-out-file=%s.%%p" % prefix,
           "/usr/bin/python3", "-m", "gunicorn", "-w", "1", "-b", "127.0.0.1:%d" % port, "--chdir", HERE,
           "--log-level", "warning", "flask_app:app"]
    if traced:
        # agent-run execs valgrind with the agent's environment (valgrind
        # cannot run agent-run itself: its raw clone).
        cmd = [AGENT_RUN] + cmd
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        drive(port, n)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)
        shutil.rmtree(home, ignore_errors=True)  # its bootstrap cache and trace store
    files = glob.glob(prefix + ".*")
    # The master's file and the worker's: the worker ran the requests.
    return max(files, key=lambda f: totals(f)[0])


def totals(path):
    with open(path) as f:
        for line in f:
            if line.startswith("totals:"):
                return [int(x) for x in line.split()[1:]]
    raise RuntimeError("no totals in " + path)


def per_object(path):
    """{shared object: [Ir, I1mr]} from callgrind_annotate's per-function table."""
    out = subprocess.run(["callgrind_annotate", "--threshold=100", path], capture_output=True, text=True).stdout
    acc = collections.defaultdict(lambda: [0, 0])
    for line in out.splitlines():
        toks = re.sub(r"\(\s*[\d.]+%\)", "", line).split()
        if len(toks) < 10 or not all(re.fullmatch(r"[\d,]+|\.", t) for t in toks[:9]) or "PROGRAM TOTALS" in line:
            continue
        m = re.search(r"\[([^\]]+)\]$", line)
        name = os.path.basename(m.group(1)) if m else "?"
        name = re.sub(r"\.cpython-.*", "", name)
        vals = [0 if t == "." else int(t.replace(",", "")) for t in toks[:9]]
        acc[name][0] += vals[0]
        acc[name][1] += vals[3]
    return acc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--keep", metavar="DIR", help="leave the callgrind files in DIR")
    a = ap.parse_args()
    for tool in ("valgrind", "callgrind_annotate"):
        if shutil.which(tool) is None:
            sys.exit("%s is not installed" % tool)
    n = a.requests
    if a.keep:
        os.makedirs(a.keep, exist_ok=True)
    out_dir = os.path.abspath(a.keep) if a.keep else tempfile.mkdtemp(prefix="bench-callgrind-")
    try:
        result = {"bench": "gunicorn -w 1 flask, 3 sqlite queries, callgrind, per request", "requests": n}
        for traced in (False, True):
            small, large = run(traced, n, out_dir), run(traced, 2 * n, out_dir)
            t_small, t_large = totals(small), totals(large)
            o_small, o_large = per_object(small), per_object(large)
            key = "traced" if traced else "bare"
            result[key] = {"Ir": round((t_large[0] - t_small[0]) / n), "I1mr": round((t_large[3] - t_small[3]) / n),
                           "by_object": {k: [round((o_large[k][0] - o_small[k][0]) / n),
                                             round((o_large[k][1] - o_small[k][1]) / n)]
                                         for k in o_large if abs(o_large[k][0] - o_small[k][0]) >= n}}
        for k in ("Ir", "I1mr"):
            result["added_" + k] = result["traced"][k] - result["bare"][k]
            result["ratio_" + k] = round(result["traced"][k] / result["bare"][k], 4)
        print(json.dumps(result))
    finally:
        if not a.keep:
            shutil.rmtree(out_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
