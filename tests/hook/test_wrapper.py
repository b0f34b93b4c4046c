"""The wrapper on every kind of callable (issue 3): functions, bound and
unbound methods, classmethods, staticmethods, builtins, method descriptors,
callable objects and descriptors; generators closed early, coroutines
cancelled mid-await, async generators; exception identity; the object proxy."""


def test_wrapper_kinds(python, run_script):
    r = run_script(python, "wrapper_kinds.py", agent=False)
    report = r.json()
    assert not report["failed"], "\n".join("%s:\n%s" % kv for kv in report["failed"].items())
    assert len(report["passed"]) >= 20, report
    assert r.stderr == b"", r
