"""Errors reach a CLI user as one line on stderr with exit code 1, never as a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from movierec.cli import app
from movierec.search import indices


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, not an exception that escaped
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


@pytest.mark.es
def test_rollback_with_nothing_to_roll_back_is_one_line(settings):
    stderr = one_line_error(CliRunner().invoke(app, ["index", "rollback"]))
    assert settings.index_prefix in stderr and "nothing to roll back" in stderr


@pytest.mark.es
def test_a_domain_error_no_command_expects_is_one_line(settings, monkeypatch):
    def failing_rollback(es, names):
        raise indices.IndexLoadError("movierec-movies-v2 holds 3 documents, expected 5: aliases not switched")

    monkeypatch.setattr(indices, "rollback", failing_rollback)
    stderr = one_line_error(CliRunner().invoke(app, ["index", "rollback"]))
    assert stderr == "error: movierec-movies-v2 holds 3 documents, expected 5: aliases not switched\n"


def test_unreachable_elasticsearch_is_one_line(monkeypatch):
    from movierec.config import get_settings

    monkeypatch.setenv("ES_URL", "http://127.0.0.1:1")  # nothing listens on port 1
    get_settings.cache_clear()
    try:
        stderr = one_line_error(CliRunner().invoke(app, ["index", "status"]))
        assert "Elasticsearch is not reachable at http://127.0.0.1:1" in stderr
    finally:
        get_settings.cache_clear()


def test_the_installed_command_prints_no_traceback_and_no_locals():
    assert app.pretty_exceptions_show_locals is False
    movierec = Path(sys.executable).parent / "movierec"
    env = {"PATH": str(movierec.parent), "ES_URL": "http://127.0.0.1:1", "HOME": str(Path.home())}
    proc = subprocess.run([str(movierec), "index", "rollback"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.startswith("error: Elasticsearch is not reachable") and proc.stderr.count("\n") == 1


def test_an_unexpected_error_is_one_line_with_a_hint_without_secrets_and_debug_shows_it(monkeypatch):
    from movierec import catalog
    from movierec.config import get_settings

    def broken(_mappings=None):
        raise RuntimeError("could not read with key s3cr3t-value\n  at line 2 of a long Java trace\n  ...")

    monkeypatch.setenv("MOVIEREC_API_KEY", "s3cr3t-value")
    monkeypatch.setattr(catalog, "load_catalog", broken)
    get_settings.cache_clear()
    try:
        stderr = one_line_error(CliRunner().invoke(app, ["catalog"]))
        assert stderr == (
            "error: RuntimeError: could not read with key **** (unexpected; re-run with --debug for the traceback)\n"
        )
        debug = CliRunner().invoke(app, ["--debug", "catalog"])
        assert isinstance(debug.exception, RuntimeError)
    finally:
        get_settings.cache_clear()


def test_pipeline_run_with_elasticsearch_unreachable_is_one_line():
    movierec = Path(sys.executable).parent / "movierec"
    env = {"PATH": str(movierec.parent), "ES_URL": "http://127.0.0.1:1", "HOME": str(Path.home())}
    proc = subprocess.run(
        [str(movierec), "pipeline", "run", "--no-evaluate"], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("error: Elasticsearch is not reachable") and proc.stderr.count("\n") == 1
