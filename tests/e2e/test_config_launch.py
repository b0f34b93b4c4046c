"""generate-config, check-config and what a launch does with a good or bad config."""
import re
import time

from conftest import AGENT_RUN, SYSTEM_PYTHON, clean_env, run, store_documents

APP = [SYSTEM_PYTHON, "-c", "import sys; print('app ran', '_agent_run_boot' in sys.modules)"]


def test_generate_then_check_passes(home, tmp_path):
    cfg = tmp_path / "agent-run.toml"
    r = run([AGENT_RUN, "generate-config", "-o", str(cfg)], env=clean_env(home))
    assert r.returncode == 0, r.stderr
    text = cfg.read_text()
    assert "service_name" in text and "log_level" in text
    r = run([AGENT_RUN, "check-config", str(cfg)], env=clean_env(home))
    assert r.returncode == 0, r.stderr
    assert b"OK" in r.stdout


def test_generate_config_default_path_and_no_overwrite(home, tmp_path):
    r = run([AGENT_RUN, "generate-config"], env=clean_env(home), cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    cfg = tmp_path / "agent-run.toml"
    cfg.write_text("# mine\nservice_name = \"precious\"\n")
    r = run([AGENT_RUN, "generate-config"], env=clean_env(home), cwd=str(tmp_path))
    assert r.returncode != 0
    assert b"--force" in r.stderr
    assert cfg.read_text() == "# mine\nservice_name = \"precious\"\n"
    r = run([AGENT_RUN, "generate-config", "--force"], env=clean_env(home), cwd=str(tmp_path))
    assert r.returncode == 0
    assert "precious" not in cfg.read_text()


def test_corrupted_file_names_line_and_column(home, tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('service_name = "x"\nlog_level = "debug\n')
    r = run([AGENT_RUN, "check-config", str(cfg)], env=clean_env(home))
    assert r.returncode == 1
    assert re.search(rb"bad\.toml:2:\d+", r.stderr), r.stderr


def test_unknown_key_suggests(home, tmp_path):
    cfg = tmp_path / "typo.toml"
    cfg.write_text('log_levl = "info"\n')
    r = run([AGENT_RUN, "check-config", str(cfg)], env=clean_env(home))
    assert r.returncode == 1
    assert b"did you mean 'log_level'" in r.stderr


def test_launch_with_bad_config_still_runs_the_app(home, tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("log_level = [\n")
    r = run([AGENT_RUN, "-c", str(cfg)] + APP, env=clean_env(home))
    assert r.returncode == 0
    assert r.stdout == b"app ran False\n"
    assert b"bad.toml:" in r.stderr and b"without the agent" in r.stderr


def test_launch_with_bad_config_and_strict_does_not_start(home, tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("log_level = [\n")
    r = run([AGENT_RUN, "--strict", "-c", str(cfg)] + APP, env=clean_env(home))
    assert r.returncode == 2
    assert r.stdout == b""
    cfg.write_text('strict = true\nlog_level = "loud"\n')
    r = run([AGENT_RUN, "-c", str(cfg)] + APP, env=clean_env(home))
    assert r.returncode == 2
    assert r.stdout == b""
    assert b"loud" in r.stderr


def test_missing_config_file_named(home, tmp_path):
    r = run([AGENT_RUN, "-c", str(tmp_path / "nope.toml")] + APP, env=clean_env(home))
    assert r.returncode == 0
    assert r.stdout == b"app ran False\n"
    assert b"nope.toml" in r.stderr


def test_config_file_reaches_the_app_and_precedence(home, tmp_path):
    cfg = tmp_path / "agent-run.toml"
    cfg.write_text('service_name = "from-file"\nlog_level = "info"\n')
    log = tmp_path / "log"
    show = [SYSTEM_PYTHON, "-c", "import _agent_run_boot; print(_agent_run_boot.settings()['service_name'])"]
    r = run([AGENT_RUN, "-c", str(cfg), "--log-file", str(log)] + show, env=clean_env(home))
    assert r.stdout == b"from-file\n", r.stderr
    r = run([AGENT_RUN, "-c", str(cfg)] + show, env=clean_env(home, OTEL_SERVICE_NAME="from-otel"))
    assert r.stdout == b"from-otel\n", r.stderr
    r = run([AGENT_RUN, "-c", str(cfg)] + show,
            env=clean_env(home, OTEL_SERVICE_NAME="from-otel", AGENT_RUN_SERVICE_NAME="from-env"))
    assert r.stdout == b"from-env\n", r.stderr
    r = run([AGENT_RUN, "-c", str(cfg), "--service-name", "from-cli"] + show,
            env=clean_env(home, AGENT_RUN_SERVICE_NAME="from-env"))
    assert r.stdout == b"from-cli\n", r.stderr


def test_config_in_working_directory_is_found(home, tmp_path):
    (tmp_path / "agent-run.toml").write_text('service_name = "cwd-file"\n')
    show = [SYSTEM_PYTHON, "-c", "import _agent_run_boot; print(_agent_run_boot.settings()['service_name'])"]
    r = run([AGENT_RUN] + show, env=clean_env(home), cwd=str(tmp_path))
    assert r.stdout == b"cwd-file\n", r.stderr


def test_otel_sdk_disabled_turns_the_agent_off(home):
    r = run([AGENT_RUN] + APP, env=clean_env(home, OTEL_SDK_DISABLED="true"))
    assert r.returncode == 0
    assert r.stdout == b"app ran False\n"


def store_lines(home):
    """Spans per line of the local store's trace files."""
    return [sum(len(ss.get("spans", [])) for rs in doc["resourceSpans"] for ss in rs.get("scopeSpans", []))
            for doc in store_documents(home) if "resourceSpans" in doc]


def test_otel_batch_size_reaches_the_collector(home):
    # OTEL_BSP_MAX_EXPORT_BATCH_SIZE (what users set for an OpenTelemetry
    # SDK) sizes the collector's batches: one store line per batch.
    code = "import sqlite3\nc = sqlite3.connect(':memory:')\nfor _ in range(5): c.execute('select 1')\n"
    r = run([AGENT_RUN, SYSTEM_PYTHON, "-c", code], env=clean_env(home, OTEL_BSP_MAX_EXPORT_BATCH_SIZE="2"))
    assert r.returncode == 0, r.stderr
    assert r.stderr == b""
    deadline = time.monotonic() + 15
    while sum(store_lines(home)) < 5 and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = store_lines(home)
    assert sum(lines) == 5, lines
    assert max(lines) <= 2 and len(lines) >= 3, lines


def test_a_warning_is_shown_once(home, tmp_path):
    # The launcher prints it; the agent in the program, which loads the same
    # configuration, logs it at info instead of printing it again. A Python
    # child whose environment gives another warning prints that one; with a
    # log file the agent writes it there as a warning.
    bad = "environment OTEL_BSP_SCHEDULE_DELAY: OTEL_BSP_SCHEDULE_DELAY=\"abc\" is ignored"
    r = run([AGENT_RUN] + APP, env=clean_env(home, OTEL_BSP_SCHEDULE_DELAY="abc"))
    assert r.returncode == 0 and r.stdout == b"app ran True\n", r.stderr
    text = r.stderr.decode()
    assert text.count(bad) == 1 and text.startswith("agent-run: warning: " + bad), text

    child = ("import os, subprocess, sys\n"
             "subprocess.run([sys.executable, '-c', 'pass'], env=dict(os.environ, OTEL_BSP_SCHEDULE_DELAY='x'))\n"
             "subprocess.run([sys.executable, '-c', 'pass'])\n")
    r = run([AGENT_RUN, SYSTEM_PYTHON, "-c", child],
            env=clean_env(home, OTEL_BSP_SCHEDULE_DELAY="abc", AGENT_RUN_LOG_LEVEL="info"))
    assert r.returncode == 0, r.stderr
    lines = r.stderr.decode().splitlines()
    mine = [line for line in lines if bad in line]
    assert len(mine) == 3, lines  # the launcher's; the program's and its same-environment child's at info
    assert mine[0].startswith("agent-run: warning: ")
    for line in mine[1:]:
        assert " INFO: " in line and line.endswith("(shown by agent-run at launch)"), mine
    other = [line for line in lines if "OTEL_BSP_SCHEDULE_DELAY=\"x\"" in line]
    assert len(other) == 1 and " WARNING: " in other[0], lines

    log = tmp_path / "agent.log"
    r = run([AGENT_RUN] + APP, env=clean_env(home, OTEL_BSP_SCHEDULE_DELAY="abc", AGENT_RUN_LOG_FILE=str(log)))
    assert r.returncode == 0, r.stderr
    assert r.stderr.decode().count(bad) == 1
    assert [line for line in log.read_text().splitlines() if bad in line and " WARNING: " in line], log.read_text()
