"""An app that closes every descriptor it does not know, as a daemon does,
then opens sockets of its own: the agent's flusher must neither close them
nor write into them. Prints one JSON line: what the app saw."""
import json
import os
import socket
import sqlite3
import time

from flusher_threads import flusher_tids


def sockets(fd_dir):
    out = set()
    for name in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, name))
        except OSError:
            continue
        if target.startswith("socket:"):
            out.add(target)
    return out


def flusher_tid():
    tids = flusher_tids()
    return tids[0] if tids else None


conn = sqlite3.connect(":memory:")
before = sockets("/proc/self/fd")
conn.execute("select 1")  # the first span starts the flusher
# The flusher connects to the collector within its first flush interval.
deadline = time.monotonic() + 10
tid = flusher_tid()
flusher_sockets = set()
while time.monotonic() < deadline:
    tid = tid or flusher_tid()
    if tid is not None:
        try:
            flusher_sockets = sockets("/proc/self/task/%s/fd" % tid)
        except OSError:
            flusher_sockets = set()
        if flusher_sockets:
            break
    time.sleep(0.02)
app_sockets = sockets("/proc/self/fd")

os.closerange(3, 4096)
pairs = [socket.socketpair() for _ in range(16)]  # takes every low number again
for _ in range(3):
    sqlite3.connect(":memory:").execute("select 2")
time.sleep(0.6)  # more than one flush interval: the flusher sends them
leaked = 0
for a, b in pairs:
    for s in (a, b):
        s.setblocking(False)
        try:
            leaked += len(s.recv(65536))
        except BlockingIOError:
            pass
print(json.dumps({"flusher": tid is not None, "flusher_sockets": len(flusher_sockets),
                  "new_app_sockets": len(app_sockets - before),
                  "shared": bool(flusher_sockets & app_sockets), "bytes_into_app_sockets": leaked}))
