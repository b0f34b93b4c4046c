#!/usr/bin/python3
"""Regenerates cmd/launch_path.order: the code and data a launch touches.

The agent-run executable is linked with lld's --symbol-ordering-file, which
puts these symbols' sections together at the start of their output sections
(.text, .rodata, .data, .bss, ...), in this order. A launch then faults in a
few 64 KiB windows of code and a few pages of data instead of one page per
scattered function or variable: on the project's VM a page fault costs tens
of microseconds, and the launcher's start is paid by every launch.

The quick launch's code (src/launcher/freestanding: every launch that
replays a plan runs only that and the kernel's exec) goes first, all of it:
valgrind cannot run it to the end (its /proc/self/exe is valgrind's, so no
plan fits, and it refuses the clone flags the standby's spawn uses).

Then it runs a built agent-run under valgrind's lackey (every instruction fetch
and data access) for the launch paths (the collector on, off, --disable,
--version), maps the addresses to the executable's symbols, and writes them
in the order they were first touched: code first, then data. A stale list
is harmless: a symbol that no longer exists is skipped by the linker, a new
one is just left where it was. Run it after changing the launch path, then
rebuild:

    tools/launch-order.py BUILD_DIR/stage/bin/agent-run > cmd/launch_path.order
"""
import bisect
import os
import re
import subprocess
import sys
import tempfile


REAL_RUN_ONLY = ["_dl_new_object", "_dl_setup_hash", "___pthread_mutex_lock", "___pthread_mutex_unlock",
                 "_dl_add_to_namespace_list", "_dl_lookup_symbol_x", "do_lookup_x", "check_match", "_dl_name_match_p"]
QUICK_LAUNCH = re.compile(r"freestanding|^agent_run_(entry|quick_launch|raw_clone)$|kVersionText|9collectorL\d+k")
ACCESS = re.compile(r"^\s*([ILSM])\s+([0-9a-f]+),")


def touched_addresses(agent_run, argv_tail, env, work):
    """Addresses in first-touch order: (code, data) lists (up to the failed execve)."""
    out = os.path.join(work, "lackey.out")
    subprocess.run(["valgrind", "--tool=lackey", "--trace-mem=yes", "--log-file=" + out, agent_run] + argv_tail,
                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    code, data = {}, {}
    with open(out, errors="replace") as f:
        for line in f:
            m = ACCESS.match(line)
            if m:
                (code if m.group(1) == "I" else data).setdefault(int(m.group(2), 16), None)
    return list(code), list(data)


def socket_dirs():
    """The collector's private socket directories of this user in the places a launch makes them."""
    found = set()
    for base in ("/dev/shm", "/tmp"):
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for name in names:
            path = os.path.join(base, name)
            if name.startswith("agent-run-") and len(name) == len("agent-run-XXXXXX") and \
                    os.lstat(path).st_uid == os.getuid() and os.path.isdir(path):
                found.add(path)
    return found


def symbols(agent_run):
    """Sorted (start, end, name) of the executable's sized symbols."""
    out = subprocess.run(["nm", "--defined-only", "-S", agent_run], capture_output=True, text=True,
                         check=True).stdout
    table = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4:
            start = int(parts[0], 16)
            table.append((start, start + int(parts[1], 16), parts[3]))
        elif len(parts) == 3 and parts[1] in "tTiI":  # unsized (assembly, IFUNC resolvers): up to the next symbol
            table.append((int(parts[0], 16), None, parts[2]))
    table.sort(key=lambda row: row[0])
    for i, (start, end, name) in enumerate(table):
        if end is None:
            table[i] = (start, table[i + 1][0] if i + 1 < len(table) else start + 1, name)
    return table


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    agent_run = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="agent-run-launch-order-")
    home = os.path.join(work, "home")
    os.mkdir(home)
    # A program execve refuses: the launcher does everything, then exits.
    noexec = os.path.join(work, "noexec")
    with open(noexec, "wb") as f:
        f.write(b"\0\1\2\3")
    os.chmod(noexec, 0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_RUN_", "OTEL_", "PYTHON", "XDG_"))}
    env["HOME"] = home

    subprocess.run([agent_run, noexec], env=env, stderr=subprocess.DEVNULL)  # creates the bootstrap directory
    # Under valgrind the collector's standby cannot start (valgrind refuses
    # its clone flags) and its private socket directory stays behind: the
    # ones these runs leave are removed at the end.
    before = socket_dirs()
    code, data = [], []
    for tail, extra in (([noexec], {}), ([noexec], {"AGENT_RUN_COLLECTOR_ENABLED": "false"}),
                        (["--disable", noexec], {}), (["--version"], {})):
        c, d = touched_addresses(agent_run, tail, dict(env, **extra), work)
        code += c
        data += d
    subprocess.run(["rm", "-rf", work])
    with open("/proc/net/unix") as f:
        bound = {line.split()[-1] for line in f if len(line.split()) >= 8}
    for d in socket_dirs() - before:
        sock = os.path.join(d, "collector.sock")
        if os.listdir(d) == ["collector.sock"] and sock not in bound:  # nobody's: another launch's is bound
            os.unlink(sock)
            os.rmdir(d)

    table = symbols(agent_run)
    starts = [s for s, _, _ in table]
    # glibc picks a string function's variant by CPU (IFUNC), and valgrind's
    # CPU is not the real one (no AVX-512): where one variant ran, the one
    # an AVX-512 CPU (the build VM's) picks goes beside it. Every other
    # variant stays out of the way: each is a few KiB.
    variant = re.compile(r"^(__\w+?)_(sse2|ssse3|sse4_1|sse4_2|avx|avx2|evex|avx512\w*|erms)\w*$")
    siblings = {}
    for _, _, n in table:
        m = variant.match(n)
        if m:
            siblings.setdefault(m.group(1), set()).add(n)
    ordered, seen = [], set()

    def add(name):
        if name in seen:
            return
        seen.add(name)
        ordered.append(name)
        m = variant.match(name)
        if m:
            group = sorted(siblings.get(m.group(1), ()))
            for n in group:
                if re.search(r"_(evex|avx512_unaligned_erms)$", n) and n not in seen:
                    seen.add(n)
                    ordered.append(n)

    # What valgrind cannot show: glibc's static start reads the vDSO's symbols
    # (valgrind gives its client no vDSO). Found with
    # `perf record -e page-faults -d` on a real launch.
    for name in REAL_RUN_ONLY:
        add(name)
    for _, _, name in table:
        if QUICK_LAUNCH.search(name):
            add(name)
    for address in code + data:
        i = bisect.bisect_right(starts, address) - 1
        for j in range(i, max(i - 64, -1), -1):  # the innermost of overlapping symbols
            if table[j][1] > address:
                add(table[j][2])
                break
    sys.stdout.write("".join(s + "\n" for s in ordered))


if __name__ == "__main__":
    main()
