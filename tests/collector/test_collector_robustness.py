"""Garbage, truncated and oversized messages, other users, a collector that
dies under load: rejected and counted, the collector (or the app) keeps going."""
import grp
import json
import os
import pwd
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

from collector_helpers import (App, Collector, SINK_DRIVER, SPANS, STATS, check_driver_spans, header,
                               hello_message, kill_quietly, read_store, run_driver)


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(10)
    return s


def closed_by_peer(s):
    """True once the collector has closed the connection (EOF or reset)."""
    try:
        while True:
            data = s.recv(4096)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_malformed_messages_are_rejected_counted_and_the_collector_keeps_running(tmp_path):
    app = App()
    col = Collector(tmp_path, app.pid)
    try:
        # 1. garbage
        s = connect(col.socket)
        s.sendall(os.urandom(64) + b"not a header at all")
        assert closed_by_peer(s)
        s.close()
        # 2. oversized: a header announcing 64 MiB; the collector must not wait for (or allocate) it
        s = connect(col.socket)
        s.sendall(hello_message(os.getpid()) + header(SPANS, 64 << 20) + b"x" * 100)
        assert closed_by_peer(s)
        s.close()
        # 3. wrong version
        s = connect(col.socket)
        s.sendall(header(1, 0, version=9))
        assert closed_by_peer(s)
        s.close()
        # 4. SPANS before HELLO
        s = connect(col.socket)
        s.sendall(header(SPANS, 4) + struct.pack("<I", 0))
        assert closed_by_peer(s)
        s.close()
        # 5. a well-framed SPANS message whose span is malformed (count says 1, record has 3 bytes)
        s = connect(col.socket)
        payload = struct.pack("<II", 1, 3) + b"abc"
        s.sendall(hello_message(os.getpid()) + header(SPANS, len(payload)) + payload)
        assert closed_by_peer(s)
        s.close()
        # 6. truncated: half a message, then the sender goes away
        s = connect(col.socket)
        s.sendall(hello_message(os.getpid()) + header(STATS, 44) + b"\0" * 10)
        s.close()
        # 7. a bad STATS payload length
        s = connect(col.socket)
        s.sendall(hello_message(os.getpid()) + header(STATS, 3) + b"abc")
        assert closed_by_peer(s)
        s.close()

        # The collector still serves well-formed senders.
        run_driver(col.socket, "--workers=1", "--requests=200")
        assert col.proc.poll() is None
        app.exit()
        assert col.wait_exit() == 0
        check_driver_spans(read_store(col.data_dir), procs=2, requests=200)
        st = col.stats()
        rej = st["rejected"]
        assert rej.get("bad_magic", 0) >= 1
        assert rej.get("too_large", 0) >= 1
        assert rej.get("bad_version", 0) >= 1
        assert rej.get("protocol", 0) >= 1
        assert rej.get("truncated", 0) >= 2  # the bad span record and the bad STATS
        assert st["truncated_at_close"] >= 1
        assert st["rejected_total"] >= 6
        assert st["spans_received"] == 800
    finally:
        app.exit()
        col.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create a second user")
def wire_string(b):
    return struct.pack("<I", len(b)) + b


def span_record(span_id, name, attrs):
    """One encoded span (PROTOCOL.md): a root span with string attributes."""
    head = (b"t" * 16 + struct.pack("<Q", span_id) + b"\0" * 8 + bytes([1, 2, 0, 0]) +
            struct.pack("<QQI", 1000, 2000, 0))
    body = wire_string(name) + wire_string(b"") + struct.pack("<I", len(attrs))
    for k, v in attrs:
        body += wire_string(k) + b"\x01" + wire_string(v)
    return head + body + struct.pack("<I", 0)


def spans_message(records):
    payload = struct.pack("<I", len(records)) + b"".join(struct.pack("<I", len(r)) + r for r in records)
    return header(SPANS, len(payload)) + payload


def test_strings_reach_the_store_as_utf8_and_a_bad_message_leaves_none_of_its_spans(tmp_path):
    app = App()
    col = Collector(tmp_path, app.pid)
    try:
        s = connect(col.socket)
        s.sendall(hello_message(os.getpid()) + spans_message([
            span_record(1, "caf\u00e9 \u2603".encode(), [(b"bad", b"\xff\xfe!"), (b"k\xc3", b"v")]),
            span_record(2, b"plain", [(b"json", b'"quoted"\n\t\\ \x01')]),
        ]))
        # A message whose second record is malformed: its first must not be kept either.
        good = span_record(3, b"rolled back", [])
        s.sendall(spans_message([good, good[:-5]]))
        assert closed_by_peer(s)
        s.close()
        app.exit()
        assert col.wait_exit() == 0
        spans = {bytes.fromhex(sp["spanId"])[0]: sp for _, sp in read_store(col.data_dir)}
        assert sorted(spans) == [1, 2]
        assert spans[1]["name"] == "caf\u00e9 \u2603"  # valid UTF-8 kept as it is
        assert {a["key"]: a["value"]["stringValue"] for a in spans[1]["attributes"]} == {
            "bad": "\ufffd\ufffd!", "k\ufffd": "v"}
        assert spans[2]["attributes"][0]["value"]["stringValue"] == '"quoted"\n\t\\ \x01'
        st = col.stats()
        assert st["sanitized_strings"] == 2
        assert st["spans_received"] == 2
        assert st["rejected"].get("truncated", 0) == 1
    finally:
        app.exit()
        col.stop()


def test_a_connection_from_another_uid_is_refused(tmp_path):
    user = "art" + uuid.uuid4().hex[:8]
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user], check=True)
    app = App()
    col = None
    sock_dir = None
    try:
        # A socket the other user can reach, so that only SO_PEERCRED stands in the way
        # (start_collector's real directory is 0700, which stops them even earlier).
        sock_dir = tempfile.mkdtemp(prefix="agent-run-uidtest-")
        os.chmod(sock_dir, 0o755)
        col = Collector(tmp_path, app.pid, extra=["--socket-mode=777"], socket_dir=sock_dir)
        client = (
            "import socket, struct, sys\n"
            "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
            "s.connect(sys.argv[1])\n"
            "s.settimeout(10)\n"
            "try:\n"
            "    s.sendall(sys.stdin.buffer.read())\n"
            "    data = s.recv(10)\n"
            "    print('closed' if data == b'' else 'open')\n"
            "except (ConnectionResetError, BrokenPipeError):\n"
            "    print('closed')\n"
            "except socket.timeout:\n"
            "    print('open')\n")
        pw = pwd.getpwnam(user)
        out = subprocess.run([sys.executable, "-c", client, col.socket], input=hello_message(1234),
                             capture_output=True, user=pw.pw_uid, group=pw.pw_gid, extra_groups=[], timeout=30,
                             cwd="/")
        assert out.returncode == 0, out.stderr
        assert out.stdout.decode().strip() == "closed"
        # The same client as our own user is served.
        run_driver(col.socket, "--requests=10")
        app.exit()
        assert col.wait_exit() == 0
        st = col.stats()
        assert st["connections_refused_uid"] == 1
        assert st["spans_received"] == 20
        assert "refused a connection from uid %d" % pw.pw_uid in col.log_text()
    finally:
        app.exit()
        if col:
            col.stop()
        subprocess.run(["userdel", user], check=False)
        if sock_dir:
            shutil.rmtree(sock_dir, ignore_errors=True)


@pytest.mark.parametrize("how", ["killed", "stopped"])
def test_collector_killed_or_stuck_under_load_the_app_keeps_serving_and_counts_drops(tmp_path, how):
    """killed: SIGKILL mid-run. stopped: SIGSTOP, a collector that no longer reads
    (the slowest collector there is)."""
    app = App()
    col = Collector(tmp_path, app.pid)
    driver = None
    try:
        driver = subprocess.Popen([SINK_DRIVER, "--socket=" + col.socket, "--mode=load", "--phase-seconds=2",
                                   "--flush-ms=50"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        p1 = json.loads(driver.stdout.readline())
        if how == "killed":
            os.kill(col.proc.pid, signal.SIGKILL)
            col.proc.wait()
        else:
            os.kill(col.proc.pid, signal.SIGSTOP)
        driver.stdin.write("go\n")
        driver.stdin.flush()
        p2 = json.loads(driver.stdout.readline())
        final = json.loads(driver.stdout.readline())
        assert driver.wait(timeout=60) == 0, "the app keeps running without error"
        # Before the kill, everything was delivered.
        assert p1["sent"] > 0 and p1["dropped_no_collector"] == 0 and p1["dropped_buffer_full"] == 0
        # After it, spans are counted as dropped (the collector is gone or stuck), none blocks.
        if how == "killed":
            assert p2["dropped_no_collector"] > 0
        else:
            assert p2["dropped_buffer_full"] + p2["dropped_no_collector"] > 0
        accounted = final["sent"] + final["dropped_no_collector"] + final["dropped_buffer_full"]
        if how == "killed":
            assert final["submitted"] == accounted
        else:
            # The exit flush gives up after its timeout (1 s) on a stuck collector: what was
            # still in the sink's buffers then is neither sent nor counted yet.
            assert accounted <= final["submitted"]
        # Same work per request, same latency (ratios, so noise on a shared machine is tolerated).
        assert p2["requests"] >= 0.5 * p1["requests"]
        assert p2["p50_ns"] <= 2 * p1["p50_ns"], (p1, p2)
        # No request waited on the collector (its send timeout is 1 s).
        assert p2["max_ns"] < 1e9, (p1, p2)
    finally:
        kill_quietly(driver)
        app.exit()
        if col.proc.poll() is None:
            os.kill(col.proc.pid, signal.SIGCONT)
        col.stop()
