"""OTLP/HTTP export to a test receiver on 127.0.0.1 that decodes the protobuf
with code we did not write (the protobufjs definitions shipped in
@opentelemetry/otlp-transformer 0.57.x). Needs `npm ci` in otlp_receiver/."""
import json
import os
import subprocess
import time

import pytest

from collector_helpers import (App, Collector, RECEIVER_DIR, check_driver_spans, flatten, kill_quietly, run_driver)


class Receiver:
    def __init__(self, tmp, fail=0, retry_after=None):
        assert os.path.isdir(os.path.join(RECEIVER_DIR, "node_modules", "@opentelemetry", "otlp-transformer")), \
            "run `npm ci` in tests/collector/otlp_receiver first"
        self.out = os.path.join(str(tmp), "received.jsonl")
        port_file = os.path.join(str(tmp), "port")
        args = ["node", os.path.join(RECEIVER_DIR, "receiver.js"), "--out=" + self.out, "--port-file=" + port_file,
                "--fail=%d" % fail]
        if retry_after is not None:
            args.append("--retry-after=%s" % retry_after)
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        end = time.monotonic() + 30
        while not os.path.exists(port_file):
            assert self.proc.poll() is None, self.proc.stderr.read().decode()
            assert time.monotonic() < end, "receiver did not start"
            time.sleep(0.05)
        self.port = int(open(port_file).read())
        self.url = "http://127.0.0.1:%d" % self.port

    def lines(self):
        if not os.path.exists(self.out):
            return []
        with open(self.out) as f:
            # A last line without its newline is still being written: the next poll reads it.
            return [json.loads(l) for l in f if l.strip() and l.endswith("\n")]

    def spans(self):
        out = []
        for line in self.lines():
            if line["status"] == 200:
                out.extend(flatten(line))
        return out

    def stop(self):
        kill_quietly(self.proc)


@pytest.fixture
def env_without_proxy():
    return {k: "" for k in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")}


@pytest.mark.parametrize("compression", ["gzip", "none"])
def test_otlp_protobuf_decoded_by_the_official_definitions(tmp_path, compression, env_without_proxy):
    rec = Receiver(tmp_path)
    app = App()
    col = None
    try:
        env = dict(env_without_proxy, AGENT_RUN_COLLECTOR_OTLP_HEADERS="x-test-header=hello%20world,x-other=1")
        col = Collector(tmp_path, app.pid, exporter="otlp",
                        extra=["--otlp-endpoint=" + rec.url + "/", "--otlp-compression=" + compression], env=env)
        out = run_driver(col.socket, "--workers=2", "--requests=300")
        pids = {o["proc"]: o["pid"] for o in out}
        app.exit()
        assert col.wait_exit() == 0
        lines = rec.lines()
        assert lines and all(l["status"] == 200 for l in lines), lines[:3]
        assert {l["encoding"] for l in lines} == {"gzip" if compression == "gzip" else "identity"}
        assert {l["headers"]["x-test-header"] for l in lines} == {"hello world"}
        spans = rec.spans()
        # Ids (hex of the bytes fields), parent links, names, kinds, attributes, resource pid.
        check_driver_spans(spans, procs=3, requests=300, pids=pids)
        st = col.stats()
        assert st["exporters"]["otlp"]["exported"] == len(spans) == 3 * 300 * 2
        assert st["exporters"]["otlp"]["dropped"] == 0
    finally:
        app.exit()
        if col:
            col.stop()
        rec.stop()


def test_backend_answering_503_then_200_gets_every_span_once(tmp_path, env_without_proxy):
    rec = Receiver(tmp_path, fail=4, retry_after=1)
    app = App()
    col = None
    try:
        col = Collector(tmp_path, app.pid, exporter="otlp",
                        extra=["--otlp-endpoint=" + rec.url, "--otlp-retry-initial-ms=100", "--batch-max-spans=200"],
                        env=env_without_proxy)
        run_driver(col.socket, "--workers=1", "--requests=400")
        expected = 2 * 400 * 2
        end = time.monotonic() + 60
        while len(rec.spans()) < expected and time.monotonic() < end:
            time.sleep(0.1)
        app.exit()
        assert col.wait_exit() == 0
        lines = rec.lines()
        assert sum(1 for l in lines if l["status"] == 503) == 4
        # Retry-After: 1 is honoured: each retry comes at least a second after the 503
        # (a lower bound: a busy machine only makes the wait longer).
        times = [l["t"] for l in lines[:5]]
        assert all(b - a >= 950 for a, b in zip(times, times[1:])), times
        spans = rec.spans()
        check_driver_spans(spans, procs=2, requests=400)  # every span, none twice
        st = col.stats()
        assert st["exporters"]["otlp"]["retries"] >= 4
        assert st["exporters"]["otlp"]["exported"] == expected
        assert st["exporters"]["otlp"]["dropped"] == 0
        assert "retrying with backoff" in col.log_text()
    finally:
        app.exit()
        if col:
            col.stop()
        rec.stop()


def test_backend_down_at_exit_spans_dropped_and_counted_within_the_drain_time(tmp_path, env_without_proxy):
    rec = Receiver(tmp_path, fail=1000000)
    app = App()
    col = None
    try:
        col = Collector(tmp_path, app.pid, exporter="otlp",
                        extra=["--otlp-endpoint=" + rec.url, "--otlp-retry-initial-ms=50", "--drain-timeout-ms=1500"],
                        env=env_without_proxy)
        run_driver(col.socket, "--requests=100")
        app.exit()
        assert col.wait_exit(timeout=30) == 0
        st = col.stats()
        assert st["exporters"]["otlp"]["exported"] == 0
        assert st["exporters"]["otlp"]["dropped"] == 200
        assert st["drain_ms"] <= 1500 + 1000  # the deadline, plus one request's unwinding
    finally:
        app.exit()
        if col:
            col.stop()
        rec.stop()


def test_queue_is_bounded_while_the_backend_is_down(tmp_path, env_without_proxy):
    rec = Receiver(tmp_path, fail=1000000)
    app = App()
    col = None
    try:
        col = Collector(tmp_path, app.pid, exporter="otlp",
                        extra=["--otlp-endpoint=" + rec.url, "--otlp-queue-spans=300", "--batch-max-spans=100",
                               "--otlp-retry-initial-ms=50", "--drain-timeout-ms=1000"],
                        env=env_without_proxy)
        run_driver(col.socket, "--requests=500")
        app.exit()
        assert col.wait_exit(timeout=30) == 0
        st = col.stats()
        assert st["spans_received"] == 1000
        assert st["exporters"]["otlp"]["exported"] == 0
        assert st["exporters"]["otlp"]["dropped"] == 1000  # queue full, then the drain deadline: all counted
        assert "queue full (300 spans)" in col.log_text()
    finally:
        app.exit()
        if col:
            col.stop()
        rec.stop()
