"""An app that records a span as root, then drops to nobody (as a daemon
does after its setup): no thread of it may stay root. Prints one JSON line:
the flusher threads' Uid lines before and after the drop."""
import json
import os
import sqlite3
import time

from flusher_threads import flusher_tids


def flushers():
    """{tid: its Uid line} of the agent's flusher threads."""
    out = {}
    for tid in flusher_tids():
        try:
            with open("/proc/self/task/%s/status" % tid) as f:
                out[tid] = [line for line in f.read().splitlines() if line.startswith("Uid:")][0]
        except OSError:
            continue
    return out


sqlite3.connect(":memory:").execute("select 1")  # the first span starts the flusher
deadline = time.monotonic() + 10
while not flushers() and time.monotonic() < deadline:
    time.sleep(0.02)
before = flushers()
os.setgroups([])
os.setgid(65534)
os.setuid(65534)
# The flusher notices within its next stats cycle (about a second) and retires.
deadline = time.monotonic() + 10
after = flushers()
while any(line.split()[1:] != ["65534"] * 4 for line in after.values()) and time.monotonic() < deadline:
    time.sleep(0.05)
    after = flushers()
sqlite3.connect(":memory:").execute("select 2")  # a span after the drop: a flusher with the app's credentials
time.sleep(0.3)
print(json.dumps({"before": list(before.values()), "after": list(flushers().values()), "uid": os.getuid()}))
