"""Two asyncio tasks run concurrently, each inside its own span, each doing
sqlite3 queries between awaits; prints the two spans' ids as JSON."""
import asyncio
import json
import sqlite3
import sys

from _agent_run import _hook


async def task(name, started, other_started):
    conn = sqlite3.connect(":memory:")
    with _hook.start_span(name, _hook.SPAN_KIND_INTERNAL) as span:
        started.set()
        await other_started.wait()  # both spans are open from here on
        for i in range(3):
            conn.execute("select %d" % i).fetchone()
            await asyncio.sleep(0.005)
        assert _hook.current_span() is span
    return {"name": name, "trace_id": span.trace_id, "span_id": span.span_id}


async def main():
    a, b = asyncio.Event(), asyncio.Event()
    results = await asyncio.gather(task("task-a", a, b), task("task-b", b, a))
    sys.stdout.write(json.dumps(results) + "\n")


asyncio.run(main())
