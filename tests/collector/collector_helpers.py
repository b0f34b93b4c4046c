"""Helpers for the collector's end-to-end tests: real processes, real sockets.

Every process a test starts is stopped by its PID (never by name).
"""
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time

BUILD_DIR = os.environ.get("AGENT_RUN_BUILD_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", "build"))
COLLECTOR = os.path.join(BUILD_DIR, "stage", "libexec", "agent-run", "collector")
SINK_DRIVER = os.path.join(BUILD_DIR, "tests", "wire", "sink_driver")
START_DRIVER = os.path.join(BUILD_DIR, "tests", "collector", "collector_start_driver")
RECEIVER_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "otlp_receiver")

MAGIC = b"ARRW"
HELLO, SPANS, STATS = 1, 2, 3


def header(mtype, length, version=1, reserved=0):
    return MAGIC + struct.pack("<HHII", version, mtype, length, reserved)


def hello_message(pid, service="raw-test", version="0.1.0"):
    payload = struct.pack("<I", pid)
    for s in (version, service):
        b = s.encode()
        payload += struct.pack("<I", len(b)) + b
    return header(HELLO, len(payload)) + payload


def kill_quietly(proc):
    if proc is not None and proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


class App:
    """A stand-in for the app whose PID the collector watches."""

    def __init__(self):
        self.proc = subprocess.Popen(["sleep", "600"])
        self.pid = self.proc.pid

    def exit(self):
        kill_quietly(self.proc)


class Collector:
    """The collector executable, started directly (as start_collector would), ready when it says so."""

    def __init__(self, tmp, app_pid, exporter="store", extra=(), socket_dir=None, env=None):
        self.tmp = str(tmp)
        self.socket_dir = socket_dir or os.path.join(self.tmp, "sock")
        os.makedirs(self.socket_dir, mode=0o700, exist_ok=True)
        self.socket = os.path.join(self.socket_dir, "collector.sock")
        self.data_dir = os.path.join(self.tmp, "traces")
        self.log = os.path.join(self.tmp, "collector.log")
        r, w = os.pipe()
        args = [COLLECTOR, "--socket=" + self.socket, "--app-pid=%d" % app_pid, "--ready-fd=%d" % w,
                "--log=" + self.log, "--exporter=" + exporter, "--data-dir=" + self.data_dir,
                "--drain-timeout-ms=4000"] + list(extra)
        self.proc = subprocess.Popen(args, pass_fds=(w,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True,
                                     env=dict(os.environ, **(env or {})))
        os.close(w)
        ready = os.read(r, 1)
        os.close(r)
        assert ready == b"R", "collector did not become ready; log:\n" + self.log_text()

    def log_text(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def wait_exit(self, timeout=20):
        return self.proc.wait(timeout=timeout)

    def stats(self):
        for line in reversed(self.log_text().splitlines()):
            if " info: stats {" in line:
                return json.loads(line.split(" info: stats ", 1)[1])
        raise AssertionError("no stats line in the collector log:\n" + self.log_text())

    def stop(self):
        kill_quietly(self.proc)


def run_driver(socket, *args, timeout=120):
    out = subprocess.run([SINK_DRIVER, "--socket=" + socket] + list(args), capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, out.stderr
    return [json.loads(l) for l in out.stdout.splitlines() if l.strip()]


def read_store(data_dir):
    """(resource attributes dict, span dict) for every span in every traces-N.jsonl file."""
    spans = []
    for name in sorted(os.listdir(data_dir)):
        if not (name.startswith("traces-") and name.endswith(".jsonl")):
            continue
        with open(os.path.join(data_dir, name)) as f:
            for line in f:
                req = json.loads(line)
                spans.extend(flatten(req))
    return spans


def flatten(req):
    out = []
    for rs in req.get("resourceSpans", []):
        rattrs = {a["key"]: a["value"] for a in rs["resource"]["attributes"]}
        for ss in rs.get("scopeSpans", []):
            for s in ss.get("spans", []):
                out.append((rattrs, s))
    return out


def attr_map(span):
    return {a["key"]: a["value"] for a in span.get("attributes", [])}


def expected_keys(proc, req):
    """Trace id and span ids the sink driver gives request `req` of process `proc` (hex)."""
    trace = (b"ar" + struct.pack("<H", proc) + struct.pack("<I", req)).ljust(16, b"\0").hex()
    root = (b"\x01" + struct.pack("<H", proc) + struct.pack("<I", req)).ljust(8, b"\0").hex()
    child = (b"\x02" + struct.pack("<H", proc) + struct.pack("<I", req)).ljust(8, b"\0").hex()
    return trace, root, child


def check_driver_spans(spans, procs, requests, pre_fork=0, pids=None):
    """Every request of every process: a SERVER root and a CLIENT child, once each, linked."""
    by_id = {}
    for rattrs, s in spans:
        key = (s["traceId"], s["spanId"])
        assert key not in by_id, "span delivered twice: %s" % (key,)
        by_id[key] = (rattrs, s)
    expected = 0
    for proc in range(procs):
        reqs = list(range(requests)) + ([1000000 + i for i in range(pre_fork)] if proc == 0 else [])
        for req in reqs:
            expected += 2
            trace, root_id, child_id = expected_keys(proc, req)
            assert (trace, root_id) in by_id, "missing root span proc %d req %d" % (proc, req)
            assert (trace, child_id) in by_id, "missing child span proc %d req %d" % (proc, req)
            rattrs, root = by_id[(trace, root_id)]
            _, child = by_id[(trace, child_id)]
            assert root["name"] == "GET /items/{id}"
            assert child["name"] == "SELECT items"
            assert root.get("parentSpanId", "") == ""
            assert child["parentSpanId"] == root_id
            assert int(root["kind"]) == 2 and int(child["kind"]) == 3
            ra, ca = attr_map(root), attr_map(child)
            assert ra["http.request.method"] == {"stringValue": "GET"}
            assert ra["url.path"] == {"stringValue": "/items/%d" % req}
            assert str(ra["agent_run.req"]["intValue"]) == str(req)
            assert str(ra["http.response.status_code"]["intValue"]) == ("500" if req % 10 == 0 else "200")
            assert ca["db.rows"] == {"doubleValue": 1.5}
            assert ca["db.cached"] == {"boolValue": req % 2 == 0}
            assert ca["db.statement"] == {"stringValue": "SELECT * FROM items WHERE id = ?"}
            if req % 10 == 0:
                assert int(root["status"]["code"]) == 2
                assert root["status"]["message"] == 'boom "quoted" \u00e9\n'
                assert root["events"][0]["name"] == "exception"
            assert int(root["endTimeUnixNano"]) - int(root["startTimeUnixNano"]) == 1500000
            assert rattrs["service.name"] == {"stringValue": "sink-driver"}
            if pids is not None:
                assert str(rattrs["process.pid"]["intValue"]) == str(pids[proc])
    assert len(by_id) == expected, "%d spans, expected %d" % (len(by_id), expected)
