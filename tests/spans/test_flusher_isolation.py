"""The flusher (a thread glibc does not know of) shares nothing with the app
that the app may change under it:
- its descriptors are its own: its connection to the collector is not one of
  the app's descriptors, so an app that closes every descriptor it does not
  know (os.closerange, as daemons do) and opens sockets of its own gets no
  span bytes written into them, and its spans still arrive;
- it does not outlive the app's credentials: after the app drops root, no
  thread of it stays root (glibc changes only the threads it knows of)."""
import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from conftest import AGENT_RUN, APPS, SYSTEM_PYTHON, clean_env, run  # noqa: E402
from test_e2e_prefork import wait_for_span_names  # noqa: E402

if not os.path.exists(AGENT_RUN):
    pytest.skip("agent-run is not built (%s)" % AGENT_RUN, allow_module_level=True)


def test_an_app_that_closes_every_descriptor_keeps_its_sockets_and_its_spans(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    r = run([AGENT_RUN, SYSTEM_PYTHON, os.path.join(APPS, "closes_descriptors.py")], env=clean_env(home))
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert r.stderr == b""
    seen = json.loads(r.stdout.decode().strip().splitlines()[-1])
    assert seen["flusher"], seen
    # The flusher holds its connection in a table of its own (close_range:
    # Linux 5.9; this machine's kernel has it): the app's table never had it.
    assert seen["flusher_sockets"] == 1, seen
    assert seen["new_app_sockets"] == 0 and not seen["shared"], seen
    assert seen["bytes_into_app_sockets"] == 0, seen
    # The spans after the app's closerange arrive too: 1 + 3 statements.
    names = wait_for_span_names(home, 4)
    assert sorted(names) == ["SELECT"] * 4, names


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_no_thread_stays_root_after_the_app_drops_privileges(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    r = run([AGENT_RUN, SYSTEM_PYTHON, os.path.join(APPS, "drops_privileges.py")], env=clean_env(home))
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    seen = json.loads(r.stdout.decode().strip().splitlines()[-1])
    assert seen["uid"] == 65534
    assert [line.split()[1:] for line in seen["before"]] == [["0"] * 4], seen  # the flusher ran as root
    # None left as root: the old flusher retired; one started after the
    # drop (for the span after it) has the app's credentials.
    assert all(line.split()[1:] == ["65534"] * 4 for line in seen["after"]), seen
