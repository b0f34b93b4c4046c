"""The collector with the local trace store: spans from a master and forked
workers (through the real sink) end up once each as OTLP JSON lines."""
import json
import os
import re
import signal

import pytest

from collector_helpers import (App, Collector, check_driver_spans, read_store, run_driver)


def test_spans_from_master_and_forked_workers_arrive_once_as_otlp_json(tmp_path):
    app = App()
    col = Collector(tmp_path, app.pid)
    try:
        out = run_driver(col.socket, "--workers=3", "--requests=500", "--pre-fork=20")
        pids = {o["proc"]: o["pid"] for o in out}
        assert all(o["dropped_no_collector"] == 0 and o["dropped_buffer_full"] == 0 for o in out)
        app.exit()
        assert col.wait_exit() == 0
        spans = read_store(col.data_dir)
        check_driver_spans(spans, procs=4, requests=500, pre_fork=20, pids=pids)
        st = col.stats()
        assert st["reason"] == "app exited"
        assert st["spans_received"] == len(spans) == (4 * 500 + 20) * 2
        assert st["exporters"]["store"]["exported"] == len(spans)
        assert st["rejected_total"] == 0
        assert st["app_processes_reporting"] == 4
        assert not os.path.exists(col.socket), "the socket is removed at exit"
    finally:
        app.exit()
        col.stop()


def test_otlp_json_follows_the_otlp_json_mapping(tmp_path):
    app = App()
    col = Collector(tmp_path, app.pid)
    try:
        run_driver(col.socket, "--requests=30")
        app.exit()
        assert col.wait_exit() == 0
        files = [f for f in os.listdir(col.data_dir) if f.startswith("traces-") and f.endswith(".jsonl")]
        assert files
        with open(os.path.join(col.data_dir, files[0])) as f:
            line = f.readline()
        req = json.loads(line)
        assert list(req) == ["resourceSpans"]
        span = req["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
        assert re.fullmatch(r"[0-9a-f]{32}", span["traceId"])
        assert re.fullmatch(r"[0-9a-f]{16}", span["spanId"])
        assert isinstance(span["startTimeUnixNano"], str) and span["startTimeUnixNano"].isdigit()
        assert isinstance(span["kind"], int)
        scope = req["resourceSpans"][0]["scopeSpans"][0]["scope"]
        assert scope["name"] == "agent-run"
        pid_attr = [a for a in req["resourceSpans"][0]["resource"]["attributes"] if a["key"] == "process.pid"][0]
        assert isinstance(pid_attr["value"]["intValue"], str)
    finally:
        app.exit()
        col.stop()


def test_store_rotates_by_size_and_keeps_the_newest_files(tmp_path):
    app = App()
    max_bytes = 100000
    col = Collector(tmp_path, app.pid, extra=["--store-max-file-bytes=%d" % max_bytes, "--store-max-files=3",
                                              "--batch-max-spans=100"])
    try:
        run_driver(col.socket, "--requests=3000")
        app.exit()
        assert col.wait_exit() == 0
        names = sorted((n for n in os.listdir(col.data_dir) if n.startswith("traces-")), key=lambda n: int(n[7:-6]))
        assert len(names) == 3, names
        indexes = [int(n[7:-6]) for n in names]
        assert indexes[-1] >= 5, "rotated several times: %s" % names
        assert indexes == list(range(indexes[0], indexes[0] + 3)), "the newest files are kept"
        for n in names:
            p = os.path.join(col.data_dir, n)
            assert os.path.getsize(p) <= max_bytes
            with open(p) as f:
                for line in f:
                    json.loads(line)  # whole lines only
        st = col.stats()
        assert st["exporters"]["store"]["exported"] == 6000
    finally:
        app.exit()
        col.stop()


def test_two_collectors_sharing_a_data_dir_never_write_the_same_file(tmp_path):
    apps = [App(), App()]
    cols = []
    try:
        for i, a in enumerate(apps):
            d = tmp_path / ("c%d" % i)
            d.mkdir()
            c = Collector(d, a.pid, extra=["--data-dir=%s" % (tmp_path / "shared")])
            c.data_dir = str(tmp_path / "shared")
            cols.append(c)
        for c in cols:
            run_driver(c.socket, "--requests=50")
        for a in apps:
            a.exit()
        for c in cols:
            assert c.wait_exit() == 0
        files = [n for n in os.listdir(str(tmp_path / "shared")) if n.startswith("traces-")]
        assert len(files) == 2, files
        pids_per_file = []
        for n in files:
            with open(os.path.join(str(tmp_path / "shared"), n)) as f:
                pids = set()
                for line in f:
                    for rs in json.loads(line)["resourceSpans"]:
                        for a in rs["resource"]["attributes"]:
                            if a["key"] == "process.pid":
                                pids.add(a["value"]["intValue"])
                pids_per_file.append(pids)
        assert len(pids_per_file[0]) == 1 and len(pids_per_file[1]) == 1
        assert pids_per_file[0] != pids_per_file[1]
        spans = read_store(str(tmp_path / "shared"))
        assert len(spans) == 2 * 50 * 2
    finally:
        for a in apps:
            a.exit()
        for c in cols:
            c.stop()


def test_sigterm_drains_and_exits(tmp_path):
    app = App()
    col = Collector(tmp_path, app.pid)
    try:
        run_driver(col.socket, "--requests=100")
        os.kill(col.proc.pid, signal.SIGTERM)
        assert col.wait_exit() == 0
        assert len(read_store(col.data_dir)) == 200
        assert col.stats()["reason"].startswith("signal")
        assert app.proc.poll() is None, "the app is not touched"
    finally:
        app.exit()
        col.stop()


def test_collector_refuses_to_start_for_an_app_already_gone(tmp_path):
    app = App()
    app.exit()
    with pytest.raises(AssertionError):
        Collector(tmp_path, app.pid)


def test_console_exporter_beside_the_store(tmp_path):
    app = App()
    console = tmp_path / "console.txt"
    col = Collector(tmp_path, app.pid, exporter="local,console", extra=["--console-path=%s" % console])
    try:
        run_driver(col.socket, "--requests=20")
        app.exit()
        assert col.wait_exit() == 0
        lines = console.read_text().splitlines()
        assert len(lines) == 40
        server = [l for l in lines if l.startswith("span GET /items/{id} [sink-driver pid ")]
        assert len(server) == 20
        assert sum(1 for l in server if "status=ERROR" in l) == 2
        assert all(" server " in l and " ms trace=" in l for l in server)
        assert any("db.rows=1.5" in l and "parent=" in l for l in lines)
        assert len(read_store(col.data_dir)) == 40  # "local" is the store
        st = col.stats()
        assert st["exporters"]["console"]["exported"] == 40 and st["exporters"]["store"]["exported"] == 40
    finally:
        app.exit()
        col.stop()


def test_collector_does_not_wait_for_a_process_that_outlives_the_app(tmp_path):
    """A leftover process still connected when the app exits does not keep the
    collector alive past its drain time; what it sent is exported."""
    import subprocess
    from collector_helpers import SINK_DRIVER, kill_quietly
    app = App()
    col = Collector(tmp_path, app.pid, extra=["--drain-timeout-ms=1000"])
    leftover = None
    try:
        leftover = subprocess.Popen([SINK_DRIVER, "--socket=" + col.socket, "--mode=load", "--phase-seconds=0.3"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        phase1 = json.loads(leftover.stdout.readline())  # connected, sent, now waiting on stdin
        assert phase1["sent"] > 0
        app.exit()
        assert col.wait_exit(timeout=30) == 0
        assert leftover.poll() is None, "the leftover process is still running"
        st = col.stats()
        assert st["reason"] == "app exited"
        assert st["drain_ms"] <= 1000 + 1000
        assert "connections still open at the end of the drain" in col.log_text()
        # Everything it recorded (2 spans a request) was flushed during the drain and exported.
        assert st["spans_received"] == 2 * phase1["requests"]
        assert len(read_store(col.data_dir)) == st["spans_received"]
    finally:
        kill_quietly(leftover)
        app.exit()
        col.stop()


def test_app_counters_go_beside_the_traces(tmp_path):
    # One agentRunStats line per app process, in agent-run-stats.jsonl: the
    # trace files stay pure OTLP JSON.
    app = App()
    col = Collector(tmp_path, app.pid)
    try:
        run_driver(col.socket, "--requests=20")
        app.exit()
        assert col.wait_exit() == 0
        with open(os.path.join(col.data_dir, "agent-run-stats.jsonl")) as f:
            stats = [json.loads(l)["agentRunStats"] for l in f]
        assert len(stats) >= 1
        assert all(s["dropped_spans"] == 0 and s["sent"] == s["submitted"] > 0 for s in stats), stats
        for name in os.listdir(col.data_dir):
            if name.startswith("traces-"):
                with open(os.path.join(col.data_dir, name)) as f:
                    assert all("resourceSpans" in json.loads(l) for l in f)
    finally:
        app.exit()
        col.stop()
