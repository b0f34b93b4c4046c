"""Post-import hooks and laziness (issue 3)."""
import ast
import os

HERE = os.path.dirname(os.path.abspath(__file__))
RAISING = os.path.join(HERE, "plugins", "raising_hook_plugin.py")


def _report(tmp_path):
    with open(str(tmp_path / "report")) as f:
        return ast.literal_eval(f.read())


def test_raising_post_import_hook_never_fails_the_import(python, run_script, tmp_path):
    plain = run_script(python, "app_json.py", agent=False)
    r = run_script(python, "app_json.py", settings={"plugins.paths": [RAISING]},
                   env={"APP_REPORT": str(tmp_path / "report")})
    assert r.rc == 0 and r.stdout == plain.stdout, r
    info = _report(tmp_path)
    # the hook for the already-imported `os` ran at once, json's right after its import
    assert info["hook_ran"] == ["os", "json"], info
    h = info["health"]["raising-hook"]
    assert h["errors"] == 1 and h["state"] == "active", h
    assert "post-import hook for json" in h["last_error"], h
    # what the hook patched before raising stays in place and works
    assert h["ops"]["json.dumps"]["calls"] == 20, h
    assert "post-import hook failed on purpose" in r.log and "Traceback" in r.log, r.log
    assert info["health"]["already-imported"]["state"] == "active", info
    # the real loader stays the module's loader
    assert info["loader"] == info["spec_loader"] == "SourceFileLoader", info


def test_unused_libraries_are_never_imported(python, run_script, tmp_path):
    # What the interpreter itself loads at startup (site, .pth files) is not the agent's doing.
    plain = run_script(python, "app_lazy.py", agent=False, env={"APP_REPORT": str(tmp_path / "report")})
    baseline = set(_report(tmp_path)["heavy_now"])
    r = run_script(python, "app_lazy.py", env={"APP_REPORT": str(tmp_path / "report")})
    assert r.rc == 0 and r.stdout == plain.stdout == b"hello\n", r
    info = _report(tmp_path)
    assert info["agent_loaded"], (info, r)
    # Not even the agent's own plugin machinery: only its boot module.
    assert info["machinery_loaded"] == [], (info, r)
    assert info["loaded"] == [], (info, r)
    assert set(info["loaded_by_agent"]) <= baseline, (info, baseline, r)
    assert "agent-run health: plugin sqlite3: waiting" in r.log, r.log


def test_disabled_plugin_is_not_applied(python, run_script, tmp_path):
    r = run_script(python, "app_sqlite.py", settings={"plugins.disabled": ["sqlite3"]},
                   env={"APP_REPORT": str(tmp_path / "report")})
    assert r.rc == 0, r
    info = _report(tmp_path)
    assert info["connect_is_original"] and info["health"]["sqlite3"]["state"] == "disabled", info
    assert "_agent_run.plugins.sqlite3_hooks" not in info["modules"], info


VERSIONED = os.path.join(HERE, "plugins", "versioned_plugin.py")


def test_distribution_version_checked_at_import(python, run_script, tmp_path):
    lib = tmp_path / "lib"
    (lib / "fakelib").mkdir(parents=True)
    (lib / "fakelib" / "__init__.py").write_text("def answer():\n    return 42\n")
    (lib / "fakelib-2.5.0.dist-info").mkdir()
    (lib / "fakelib-2.5.0.dist-info" / "METADATA").write_text("Name: fakelib\nVersion: 2.5.0\n")
    r = run_script(python, "app_fakelib.py", settings={"plugins.paths": [VERSIONED]},
                   env={"FAKELIB_DIR": str(lib), "APP_REPORT": str(tmp_path / "report")})
    assert r.rc == 0 and r.stdout == b"42\n", r
    info = _report(tmp_path)
    assert info["applied"] == ["inside"], info
    h = info["health"]
    assert h["fakelib-inside"]["state"] == "active" and h["fakelib-inside"]["version"] == "2.5.0", h
    assert h["fakelib-inside"]["ops"]["fakelib.answer"]["calls"] == 1, h
    assert h["fakelib-outside"]["state"] == "unsupported", h
    assert "outside >=1.0,<2.5" in h["fakelib-outside"]["note"], h
    assert not info["metadata_imported"], info


def test_post_import_hook_api(python, run_script):
    # The native finder and loader of the boot module, without the plugin machinery.
    r = run_script(python, "import_hooks_api.py", agent=False)
    assert r.rc == 0, r
    info = r.json()
    assert info["finder_first"] == "PostImportFinder", info
    assert info["other_name"] == info["keyword_call"] == "None", info
    # the module keeps its real loader, the hook saw it after execution
    assert info["after_import"] == [["colorsys", "SourceFileLoader", "SourceFileLoader"]], info
    assert info["works"] == 1.0, info
    assert info["after_reload"] == 2 and info["already_imported"] == "json", info
    assert info["after_remove"] == 3 and info["removed_passes"] == "None", info
    assert info["failing_import_ok"], info
    assert info["errors"] == [["wave", "ValueError", "hook failed on purpose"]], info
    assert info["uninstalled"] and info["reinstalled"], info
