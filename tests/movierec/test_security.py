"""A secured local node (`movierec es up --security`), used only through what `movierec es env` prints."""

import logging
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from movierec.cli import app
from movierec.config import Settings, get_settings

URL = "https://127.0.0.1:9270"  # a port of its own: the plain test node is on 9250


def env_of(role):
    get_settings.cache_clear()  # an earlier test may have cached settings for another ES_URL
    try:
        result = CliRunner().invoke(app, ["es", "env", "--role", role], env={"ES_URL": URL})
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return dict(line.split("=", 1) for line in result.output.strip().splitlines())


@pytest.fixture(scope="module")
def secured():
    from movierec.escluster import LocalCluster

    cluster = LocalCluster(Settings(ES_URL=URL))
    print(cluster.up(1, security=True))
    yield cluster
    if not os.environ.get("MOVIEREC_KEEP_TEST_ES"):
        cluster.down()


@pytest.mark.cluster
@pytest.mark.slow
def test_only_what_es_env_prints_is_needed_and_secrets_stay_out_of_logs(secured, spark, tmp_path, monkeypatch, caplog):
    pipeline_env, api_env = env_of("pipeline"), env_of("api")
    assert pipeline_env["ES_URL"] == URL and pipeline_env["ES_USERNAME"] == "movierec-pipeline"
    assert api_env["ES_USERNAME"] == "movierec-api" and api_env["ES_PASSWORD"] != pipeline_env["ES_PASSWORD"]
    secrets = [pipeline_env["ES_PASSWORD"], api_env["ES_PASSWORD"]]
    assert oct(os.stat(pipeline_env["ES_CA_CERTS"]).st_mode & 0o777) == "0o600"

    # Anonymous: 401 (TLS verified against the project's CA).
    import ssl

    context = ssl.create_default_context(cafile=pipeline_env["ES_CA_CERTS"])
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{URL}/_cluster/health", context=context, timeout=10)
    assert info.value.code == 401

    # The pipeline with the pipeline user's settings.
    from movierec.pipeline.run import PipelineConfig, RunOptions, run_pipeline
    from movierec.search.client import sync_client
    from tests.conftest import BUNDLED

    prefix = "movierec-"  # the roles cover the prefix the cluster was started with
    for key, value in {**pipeline_env, "MOVIEREC_INDEX_PREFIX": prefix, "MOVIEREC_RUNS_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    settings = get_settings()
    es = sync_client(settings.es_connection(request_timeout=60))
    with caplog.at_level(logging.INFO):
        report = run_pipeline(
            spark,
            PipelineConfig.of(settings),
            RunOptions(data=BUNDLED, evaluate=False, max_users=60),
            es,
            lambda _: None,
        )
    assert report.published
    assert not any(s in report.model_card_path.read_text() for s in secrets)

    # The API with the narrower user: reads and a rating write work.
    for key, value in api_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MOVIEREC_API_KEY", "")
    get_settings.cache_clear()
    from movierec.service.main import create_app

    with TestClient(create_app()) as client, caplog.at_level(logging.INFO):
        recs = client.get("/recommendations", params={"title": "toy story"})
        assert recs.status_code == 200 and recs.json()["recommendations"]
        rated = client.post("/users/990001/ratings", json={"movie_id": 1, "rating": 4.5})
        assert rated.status_code == 200, rated.text
        health = client.get("/health")
        assert health.status_code == 200
        for resp in (recs, rated, health):
            assert not any(s in resp.text for s in secrets)
    # ... but it cannot create or delete versions.
    api_es = sync_client(get_settings().es_connection())
    from elasticsearch import AuthorizationException

    with pytest.raises(AuthorizationException):
        api_es.indices.create(index=f"{prefix}movies-vforbidden")
    assert not any(s in record.getMessage() for record in caplog.records for s in secrets)

    # A wrong password: the API answers 503 with a sentence, and the CLI says it in one line.
    monkeypatch.setenv("ES_PASSWORD", "wrong-password")
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        resp = client.get("/recommendations", params={"title": "toy story"})
    assert resp.status_code == 503 and "refused the credentials (401)" in resp.json()["detail"]
    assert "127.0.0.1" not in resp.json()["detail"]
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "movierec"), "index", "status"],
        env={**os.environ, "MOVIEREC_INDEX_PREFIX": prefix},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and "refused the credentials (401)" in proc.stderr
    assert "Traceback" not in proc.stderr and "wrong-password" not in proc.stdout + proc.stderr
    get_settings.cache_clear()


@pytest.mark.cluster
def test_a_ca_that_does_not_match_is_named(secured, tmp_path, monkeypatch):
    from movierec.escluster import _ca_certificate, _pem
    from movierec.search.client import explain, sync_client

    other = tmp_path / "other-ca.crt"
    other.write_bytes(_pem(_ca_certificate()[1]))
    settings = Settings(ES_URL=URL, ES_CA_CERTS=str(other), ES_USERNAME="movierec-api", ES_PASSWORD="x")
    conn = settings.es_connection()
    es = sync_client(conn, max_retries=0)
    with pytest.raises(Exception) as info:
        es.cluster.health()
    assert "TLS verification failed" in explain(info.value, conn)
