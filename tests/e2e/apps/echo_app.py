"""A plain program: echoes its arguments and stdin, writes to both streams,
and exits with the status (or signal) it is asked for."""
import os
import signal
import sys

args = sys.argv[1:]
if args and args[0] == "--pid":
    print(os.getpid())
    sys.exit(0)
if args and args[0] == "--kill":
    sys.stdout.flush()
    os.kill(os.getpid(), getattr(signal, args[1]))
print("args:", args)
print("stdin:", sys.stdin.read() if not sys.stdin.isatty() else "")
print("to stderr", file=sys.stderr)
print("agent:", "_agent_run_boot" in sys.modules, file=sys.stderr)
sys.exit(int(os.environ.get("ECHO_EXIT", "0")))
