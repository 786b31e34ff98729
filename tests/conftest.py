"""Session fixtures: one real Elasticsearch node and one SparkSession for the whole run."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from movierec import resources
from movierec.config import Settings, get_settings

# Tests get their own node (not the demo's on 9200), so a running demo is never touched.
TEST_ES_URL = os.environ.get("MOVIEREC_TEST_ES_URL", "http://127.0.0.1:9250")
REPO = Path(__file__).resolve().parent.parent
BUNDLED = resources.bundled_dataset()
# ml-100k may not be redistributed: it is read from ../shared beside the checkout, never copied.
SHARED = REPO.parent / "shared" / "data" / "movielens"


@pytest.fixture(scope="session")
def es_url(tmp_path_factory) -> str:
    from movierec.escluster import LocalCluster
    from movierec.esnode import LocalNode

    # Through LocalCluster (one node), so the node has path.repo for the snapshot tests, as `es up` does.
    cluster = LocalCluster(Settings(), url=TEST_ES_URL)
    started_here = LocalNode(Settings(), url=TEST_ES_URL).read_pid() is None
    cluster.up(1, wait_s=240)
    yield TEST_ES_URL
    if started_here and not os.environ.get("MOVIEREC_KEEP_TEST_ES"):
        cluster.down()


@pytest.fixture(scope="session")
def es(es_url):
    from elasticsearch import Elasticsearch

    client = Elasticsearch(es_url, request_timeout=60)
    yield client
    client.close()


def delete_prefix(es, prefix: str) -> None:
    """Delete every index under `prefix` by name (the local node refuses wildcard deletes)."""
    names = list(es.indices.get(index=f"{prefix}*", expand_wildcards="all", ignore_unavailable=True))
    for start in range(0, len(names), 50):
        es.indices.delete(index=",".join(names[start : start + 50]), ignore_unavailable=True)


@pytest.fixture
def prefix(es) -> str:
    """A fresh index prefix per test; every index under it is deleted afterwards."""
    value = f"test-{uuid.uuid4().hex[:8]}-"
    yield value
    delete_prefix(es, value)


@pytest.fixture
def settings(es_url, prefix, tmp_path, monkeypatch) -> Settings:
    """Settings for this test, also visible to code that calls get_settings() (the app)."""
    monkeypatch.setenv("ES_URL", es_url)
    monkeypatch.setenv("MOVIEREC_INDEX_PREFIX", prefix)
    monkeypatch.setenv("MOVIEREC_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("MOVIEREC_API_KEY", "")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def spark():
    from movierec.pipeline.spark import build_session

    session = build_session("local[2]", app_name="movierec-tests", **{"spark.sql.shuffle.partitions": "2"})
    yield session
    session.stop()


def shared_dataset(name: str) -> Path:
    path = SHARED / name
    if not path.is_dir():
        pytest.skip(f"{path} is not available (../shared is only beside the repo in development and CI)")
    return path


@pytest.fixture(scope="session")
def indexed(es, es_url, spark, tmp_path_factory):
    """The bundled ml-latest-small, run through the real pipeline into a session prefix (once)."""
    from movierec.pipeline.run import PipelineConfig, RunOptions, run_pipeline

    session_prefix = f"test-session-{uuid.uuid4().hex[:6]}-"
    settings = Settings(
        ES_URL=es_url, MOVIEREC_INDEX_PREFIX=session_prefix, MOVIEREC_RUNS_DIR=tmp_path_factory.mktemp("runs")
    )
    config = PipelineConfig.of(settings)
    report = run_pipeline(spark, config, RunOptions(data=BUNDLED, evaluate=False), es, progress=lambda _: None)
    assert report.published
    yield settings
    delete_prefix(es, session_prefix)


@pytest.fixture
def api(indexed, monkeypatch):
    """The FastAPI app over the indexed data, through httpx (TestClient runs the lifespan)."""
    from fastapi.testclient import TestClient

    monkeypatch.setenv("ES_URL", indexed.es_url)
    monkeypatch.setenv("MOVIEREC_INDEX_PREFIX", indexed.index_prefix)
    monkeypatch.setenv("MOVIEREC_API_KEY", "")
    get_settings.cache_clear()
    from movierec.service.main import create_app

    with TestClient(create_app()) as client:
        yield client
    get_settings.cache_clear()
