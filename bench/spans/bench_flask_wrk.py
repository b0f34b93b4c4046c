"""Requests per second of a gunicorn -w 2 Flask app (one route, three sqlite3
queries) under wrk, with agent-run (spans to the local store) over without,
and the RSS each worker adds. Bare and traced runs alternate in one session
(best of each, and the ratio of the medians); prints one JSON line.

Beside the rates, where the CPU goes: the CPU time per request of the two
workers (user and system), of the collector and of wrk itself, medians over
the rounds. On a machine that wrk, the workers and the collector saturate,
req/s follows the sum. Three ratios: best of each, of the medians, and the
median of the per-round ratios (each traced round over the bare one just
before it: the one least moved by a load that drifts during the session),
with a 95 % bootstrap interval of that median: a goal on the ratio is shown
when the whole interval clears it.

    python3 bench/spans/bench_flask_wrk.py [--duration 10] [--rounds 3] [--connections 16]
        [--interleave] [--variant LABEL NAME=VALUE...]... [--bare-variant LABEL NAME=VALUE...]...

By default every run starts its own app and stops it after (bare, traced,
then the variants, in that order). --interleave starts each configuration's
app and keeps them all up, idle but for the one wrk drives, for
--restart-every rounds (5) at a time, visiting them in a shuffled order each
round: little start-up between runs, so a round can be 3 s and a session
holds about three times the pairs. Two processes of one app can differ by a
few percent for their whole lives (memory layout, hash seed): the interval
then resamples whole blocks of rounds, and an A/A configuration shows how
far apart two identical apps come out in the same rounds:
    --interleave --rounds 60 --duration 3 --bare-variant bare-again BENCH_AA=1
With such a pair, every traced configuration also gets its ratio over the
pool of the bare ones (each round's mean rate): the A/A pair has come out
2 % apart over a whole run, and either one alone as the baseline moves the
ratio by as much.

Each --variant adds one more traced configuration to every round (its
environment on top of the traced one's), e.g. to tell what the collector
costs from what recording costs:
    --variant no-collector AGENT_RUN_COLLECTOR_ENABLED=false
    --variant no-sqlite AGENT_RUN_PLUGINS_DISABLED=sqlite3
    --variant start AGENT_RUN=/path/to/other/build/stage/bin/agent-run
(AGENT_RUN names the launcher itself: another build, to compare two builds
in the same rounds.) Rounds run bare, traced, then the variants; each
variant gets the same ratios and CPU medians as the traced configuration.
--bare-variant is the same without agent-run, e.g. the app with one idle
pthread per worker (what a pthread flusher costs, flask_app.py):
    --bare-variant idle-pthread BENCH_IDLE_PTHREAD=1
"""
import argparse
import json
import os
import random
import re
import resource
import shutil
import signal
import statistics
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("AGENT_RUN_BUILD_DIR") or os.path.join(HERE, "..", "..", "build")
AGENT_RUN = os.path.join(BUILD, "stage", "bin", "agent-run")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not listen")


def children(pid):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/stat" % p) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    out.append(int(p))
            except OSError:
                pass
    return out


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"VmRSS:\s+(\d+) kB", f.read())
    return int(m.group(1))


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid):
    """(user, system) clock ticks of a process so far; zeros once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]), int(fields[12])
    except OSError:
        return 0, 0


def collectors():
    """PIDs of agent-run collectors (their argv[0] is .../libexec/agent-run/collector)."""
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    if f.read().split(b"\0")[0].endswith(b"/libexec/agent-run/collector"):
                        out.append(int(p))
            except OSError:
                pass
    return out


def cpu_idle_busy():
    """(idle, busy, stolen) jiffies of the whole machine so far (/proc/stat's
    cpu line: user nice system idle iowait irq softirq steal)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]  # idle, iowait
    return idle, sum(v[:7]) - idle, v[7]


def start_app(traced, home, extra_env=None):
    """gunicorn -w 2 serving the benchmark's app, bare or under agent-run,
    listening and warmed up: (process, url, the workers' pids, its
    collectors' pids). Stop it with stop_app()."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_RUN_", "PYTHON"))}
    env["HOME"] = home
    env.update(extra_env or {})
    launcher = env.pop("AGENT_RUN", AGENT_RUN)  # a variant may name another build's agent-run
    cmd = ["/usr/bin/python3", "-m", "gunicorn", "-w", "2", "-b", "127.0.0.1:%d" % port, "--chdir", HERE,
           "--log-level", "warning", "flask_app:app"]
    if traced:
        cmd = [launcher] + cmd
    others = set(collectors())  # those of apps already running (--interleave)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        url = "http://127.0.0.1:%d/items/7" % port
        subprocess.run(["wrk", "-t1", "-c8", "-d2s", url], capture_output=True)  # warm up
        workers = [p for p in children(proc.pid)
                   if "gunicorn" in open("/proc/%d/cmdline" % p, "rb").read().decode(errors="replace")]
    except BaseException:
        stop_app(proc)
        raise
    return proc, url, workers, [p for p in collectors() if p not in others]


def stop_app(proc):
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)


def run_wrk(url, duration, connections=16):
    """wrk on `url` for `duration` s (two threads at most): (requests, req/s)."""
    out = subprocess.run(["wrk", "-t%d" % min(2, connections), "-c%d" % connections, "-d%ds" % duration, url],
                         capture_output=True, text=True).stdout
    found = re.search(r"(\d+) requests in", out)
    if found is None:
        sys.exit("wrk reported no requests:\n" + out)
    return int(found.group(1)), float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def measure(url, workers, own_collectors, duration, connections=16):
    """wrk on a running app for `duration` s: (req/s, the workers' RSS in
    KiB, where the CPU went in µs per request)."""
    watched = workers + own_collectors
    before = {p: cpu_ticks(p) for p in watched}
    wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    machine_before = cpu_idle_busy()
    requests, rps = run_wrk(url, duration, connections)
    wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    machine_after = cpu_idle_busy()
    after = {p: cpu_ticks(p) for p in watched}
    rss = sorted(rss_kib(p) for p in workers)

    def us_per_request(pids, i):
        return sum(after[p][i] - before[p][i] for p in pids) / CLK_TCK / requests * 1e6
    cpu = {"workers_user": us_per_request(workers, 0), "workers_system": us_per_request(workers, 1),
           "collector": us_per_request(own_collectors, 0) + us_per_request(own_collectors, 1),
           "wrk": ((wrk_after.ru_utime + wrk_after.ru_stime) - (wrk_before.ru_utime + wrk_before.ru_stime))
           / requests * 1e6,
           # Whether the machine was saturated: idle CPU during the run, in percent of all CPU time.
           "machine_idle_pct": 100.0 * (machine_after[0] - machine_before[0]) /
           max(1, sum(machine_after) - sum(machine_before)),
           # Time the hypervisor gave to other guests: rounds with much of it are slow for that.
           "machine_steal_pct": 100.0 * (machine_after[2] - machine_before[2]) /
           max(1, sum(machine_after) - sum(machine_before))}
    # The machine's busy time that no process above accounts for: the
    # kernel's own threads (page cache writeback of the trace store,
    # softirqs of the loopback traffic) and the gunicorn master.
    busy = (machine_after[1] - machine_before[1]) / CLK_TCK / requests * 1e6
    cpu["other"] = busy - cpu["workers_user"] - cpu["workers_system"] - cpu["collector"] - cpu["wrk"]
    return rps, rss, cpu


def one_run(traced, duration, home, extra_env=None, connections=16):
    proc, url, workers, own_collectors = start_app(traced, home, extra_env)
    try:
        return measure(url, workers, own_collectors, duration, connections)
    finally:
        stop_app(proc)


def parse_variant(words, option="--variant"):
    """[LABEL, NAME=VALUE, ...] -> (label, {NAME: VALUE})."""
    usage = ("%s %s: expected a label, then NAME=VALUE words, "
             "e.g. %s no-collector AGENT_RUN_COLLECTOR_ENABLED=false" % (option, " ".join(words), option))
    if len(words) < 2 or "=" in words[0]:
        sys.exit(usage)
    env = {}
    for item in words[1:]:
        name, eq, value = item.partition("=")
        if not eq or not name:
            sys.exit(usage)
        env[name] = value
    return words[0], env


def cpu_medians(runs):
    return {k: round(statistics.median(c[k] for _, _, c in runs), 1) for k in runs[0][2]}


def median_ci95(values, block=1, resamples=2000):
    """A 95 % interval of the median of `values` (bootstrap, fixed seed so
    that one set of rounds always gives the same interval): what a goal on
    the ratio needs to be shown reliably, not in one lucky statistic.
    block > 1: the values come in blocks of that many measured on the same
    processes (--interleave), and whole blocks are resampled, so that what
    one set of processes has in common (its memory layout, its hash seed)
    widens the interval instead of hiding in it."""
    rng = random.Random(0)
    blocks = [values[i:i + block] for i in range(0, len(values), block)]
    meds = sorted(statistics.median([v for _ in blocks for v in rng.choice(blocks)]) for _ in range(resamples))
    return [round(meds[int(0.025 * resamples)], 3), round(meds[int(0.975 * resamples) - 1], 3)]


def ratios(runs, bare, block=1):
    """A traced configuration over bare: best of each; the medians (one lucky
    round moves the best-of ratio by several points); and the median of each
    round's ratio over the bare round of the same round (a shared machine's
    load drifts over minutes, and a pair run back to back sees nearly the
    same load), with its 95 % interval."""
    paired = [t / b for (t, _, _), (b, _, _) in zip(runs, bare)]
    return {"ratio_rps": round(max(r for r, _, _ in runs) / max(r for r, _, _ in bare), 3),
            "ratio_rps_medians": round(statistics.median(r for r, _, _ in runs) /
                                       statistics.median(r for r, _, _ in bare), 3),
            "ratio_rps_paired_median": round(statistics.median(paired), 3),
            "ratio_rps_paired_median_ci95": median_ci95(paired, block)}


def pooled_ratio(runs, bare_runs, block=1):
    """A traced configuration over the mean of every bare configuration's
    rate in the same round (bare and the --bare-variant ones): with an A/A
    pair, two identical bare apps can come out a few percent apart over a
    whole run (their processes' layouts, perhaps their environments' sizes), and
    either one alone as the baseline carries its own luck into the ratio."""
    paired = [t / (sum(b[i][0] for b in bare_runs) / len(bare_runs)) for i, (t, _, _) in enumerate(runs)]
    return {"ratio_rps_paired_median_over_bare_pool": round(statistics.median(paired), 3),
            "ratio_rps_paired_median_over_bare_pool_ci95": median_ci95(paired, block)}


def interleaved_rounds(configs, runs, a, home):
    """--interleave: every configuration's app up at once, idle but for the
    one wrk drives. Each round visits them in a shuffled order (fixed seed),
    so no configuration always runs first or right after another; the
    per-round pairs are as close in time as a run's length. Every
    --restart-every rounds all apps are stopped and started again (in a
    shuffled order): two processes of the same app can differ by a few
    percent for the whole of their lives (an A/A pair of bare apps shows it),
    so one set of processes must not stand for the configuration."""
    rng = random.Random(0)
    for block_start in range(0, a.rounds, a.restart_every):
        apps = []
        block_home = os.path.join(home, "block-%d" % block_start)
        try:
            for label, traced_config, env in rng.sample(configs, len(configs)):
                # Its own data directory (trace store) and collector.
                app_home = os.path.join(block_home, label)
                os.makedirs(app_home)
                apps.append((label, start_app(traced_config, app_home, env)))
            for _ in range(min(a.restart_every, a.rounds - block_start)):
                for label, (_, url, workers, own_collectors) in rng.sample(apps, len(apps)):
                    runs[label].append(measure(url, workers, own_collectors, a.duration, a.connections))
        finally:
            for _, (proc, _, _, _) in apps:
                stop_app(proc)
            shutil.rmtree(block_home, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=16,
                    help="wrk's connections (16 saturates the machine; 1 leaves it mostly idle, so that the CPU "
                         "per request is measured without the processes contending for the cores)")
    ap.add_argument("--variant", nargs="+", action="append", default=[], metavar="LABEL NAME=VALUE",
                    help="one more traced configuration: a label, then its environment")
    ap.add_argument("--interleave", action="store_true",
                    help="keep every configuration's app running for --restart-every rounds at a time; each round "
                         "runs wrk on each in a shuffled order (the others idle): little start-up between runs, so "
                         "rounds can be short and many, and each pair is seconds apart")
    ap.add_argument("--restart-every", type=int, default=5, metavar="N",
                    help="with --interleave: start fresh apps every N rounds (the interval then resamples blocks "
                         "of N rounds)")
    ap.add_argument("--bare-variant", nargs="+", action="append", default=[], metavar="LABEL NAME=VALUE",
                    help="one more configuration without agent-run: a label, then its environment")
    a = ap.parse_args()
    a.variant = [(label, True, env) for label, env in map(parse_variant, a.variant)]
    a.variant += [(label, False, env) for label, env in (parse_variant(v, "--bare-variant") for v in a.bare_variant)]
    if len({label for label, _, _ in a.variant} | {"bare", "traced"}) != len(a.variant) + 2:
        sys.exit("--variant and --bare-variant labels must differ from each other and from bare and traced")
    if a.restart_every < 1:
        sys.exit("--restart-every %d: expected a number of rounds, 1 or more" % a.restart_every)
    block = a.restart_every if a.interleave else 1
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed")
    home = tempfile.mkdtemp(prefix="bench-flask-")
    configs = [("bare", False, {}), ("traced", True, {})] + a.variant
    runs = {label: [] for label, _, _ in configs}
    try:
        if a.interleave:
            interleaved_rounds(configs, runs, a, home)
        else:
            for _ in range(a.rounds):
                for label, traced_config, env in configs:
                    runs[label].append(one_run(traced_config, a.duration, home, env, connections=a.connections))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    bare_labels = ["bare"] + [label for label, traced_config, _ in a.variant if not traced_config]
    bare_pool = [runs[label] for label in bare_labels]
    pooled = (lambda r: pooled_ratio(r, bare_pool, block)) if len(bare_pool) > 1 else (lambda r: {})
    bare, traced = runs.pop("bare"), runs.pop("traced")
    variants = runs
    b_rss = min(sum(x) / len(x) for _, x, _ in bare if x)
    t_rss = min(sum(x) / len(x) for _, x, _ in traced if x)
    extra = {label: dict(rps=[round(r) for r, _, _ in runs], cpu_us_per_request=cpu_medians(runs),
                         **ratios(runs, bare, block), **pooled(runs))
             for label, runs in variants.items()}
    print(json.dumps({
        "bench": "gunicorn -w 2 flask, 3 sqlite queries, wrk -t%d -c%d -d%ds%s" % (
            min(2, a.connections), a.connections, a.duration,
            ", interleaved, fresh apps every %d rounds" % block if a.interleave else ""),
        "bare_rps": [round(r) for r, _, _ in bare], "traced_rps": [round(r) for r, _, _ in traced],
        "goal_ratio_rps": 0.95, **ratios(traced, bare, block), **pooled(traced),
        "cpu_us_per_request_bare": cpu_medians(bare), "cpu_us_per_request_traced": cpu_medians(traced),
        "bare_worker_rss_mib": round(b_rss / 1024, 2), "traced_worker_rss_mib": round(t_rss / 1024, 2),
        "added_rss_mib_per_worker": round((t_rss - b_rss) / 1024, 2), "goal_added_rss_mib": 5,
        **({"variants": extra} if extra else {})}))


if __name__ == "__main__":
    main()
