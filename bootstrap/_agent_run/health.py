"""The health snapshot, as the agent log gets it at exit.

One line per plugin: state, calls, errors, last error, and per operation
called its calls and mean/max duration when timed. WARNING level if any plugin had
errors or was unplugged (so it shows at the default log level), else INFO.
"""


def format_lines(snapshot):
    lines = []
    for name in sorted(snapshot):
        s = snapshot[name]
        line = "plugin %s: %s, calls=%d, errors=%d" % (name, s.get("state"), s.get("calls", 0), s.get("errors", 0))
        if s.get("last_error"):
            line += ", last error: %s" % s["last_error"]
        if s.get("note") and s.get("state") != "active":
            line += " (%s)" % s["note"]
        ops = s.get("ops") or {}
        parts = []
        for op in sorted(ops):
            o = ops[op]
            if not o.get("calls"):
                continue
            part = "%s %d" % (op, o.get("calls", 0))
            if o.get("timed"):
                part += " mean=%.1fus max=%.1fus" % (o["total_ns"] / o["timed"] / 1000.0, o["max_ns"] / 1000.0)
            parts.append(part)
        if parts:
            line += "; " + "; ".join(parts)
        lines.append(line)
    return lines


def log_snapshot(snapshot, log):
    try:
        bad = any(s.get("errors") or s.get("state") in ("unplugged", "failed") for s in snapshot.values())
        write = log.warning if bad else log.info
        for line in format_lines(snapshot):
            write("agent-run health: %s", line)
    except Exception:
        pass
