"""The sqlite3 plugin end to end (issue 3): results identical to a run
without the agent, counts and timings in the health snapshot, connections
and cursors proxied transparently, a runtime unplug restoring the originals."""
import ast


def _report(tmp_path):
    with open(str(tmp_path / "report")) as f:
        return ast.literal_eval(f.read())


def test_sqlite3_counts_and_identical_results(python, run_script, tmp_path):
    plain = run_script(python, "app_sqlite.py", agent=False)
    assert plain.rc == 0, plain
    r = run_script(python, "app_sqlite.py", env={"APP_REPORT": str(tmp_path / "report"), "UNPLUG_AT_END": "1"})
    assert r.rc == 0, r
    assert r.stdout == plain.stdout, r
    info = _report(tmp_path)
    # Real connections and cursors, of traced subclasses; the app's own
    # classes proxied, never subclassed behind its back.
    assert info["conn_type"] == "Connection" and info["conn_is_a_subclass"], info
    assert info["cursor_is_a_subclass"], info
    assert info["own_types"] == ["ObjectProxy", "ObjectProxy"], info
    # exactly one span per statement on every version (3.8-3.10's
    # Connection.execute calls the cursor's by name, 3.11+ directly)
    assert info["spans_per_statement"] == [1, 1, 1, 1, 2], info
    assert info["spans_per_statement_own"] == [1, 1], info
    assert info["same_signatures"] == [True] * 7, info  # what inspect.signature() reads
    # inherited methods rebound to the traced classes (3.11+ specializes
    # calls of a descriptor for instances of exactly its class)
    assert info["own_descriptors"] == [True] * 7, info
    h = info["health"]["sqlite3"]
    assert h["state"] == "active" and h["errors"] == 0, h
    ops = h["ops"]
    # The traced connection's statements run on its traced cursors: they
    # count as Cursor calls; a proxied connection's as Connection calls.
    expected = {
        "sqlite3.connect": 5,
        "sqlite3.Connection.execute": 2,
        "sqlite3.Cursor.execute": 20,
        "sqlite3.Cursor.executemany": 3,
        "sqlite3.Cursor.executescript": 2,
    }
    got = dict((k, v["calls"]) for k, v in ops.items() if v["calls"])
    # The explicit commit() and rollback(), and on the versions whose
    # `with conn:` calls them by name, those too.
    assert 1 <= got.pop("sqlite3.Connection.commit") <= 3, got
    assert 1 <= got.pop("sqlite3.Connection.rollback") <= 2, got
    assert got == expected, got
    assert ops["sqlite3.Cursor.execute"]["timed"] == 20 and ops["sqlite3.Cursor.execute"]["total_ns"] > 0, ops
    # runtime unplug: originals back (identity), held references pass through
    assert info["after_unplug_connect_is_original"] and info["after_unplug_dbapi2_is_original"], info
    assert info["held_connect_result"] == "Connection", info
    assert info["held_connect_is_plain"], info
    assert info["traced_after_unplug"] == [7, 8, -1], info
    assert info["calls_after_unplug"] == 0 and info["spans_after_unplug"] == 0, info
    assert r.log.count("unplugged plugin sqlite3: unplugged by the test") == 1, r.log
    assert "agent-run health: plugin sqlite3:" in r.log, r.log
