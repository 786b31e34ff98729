"""`movierec backup` / `restore`: Elasticsearch snapshots of the serving version and every unversioned
index (found by prefix), into the fs repository under the local node's path.repo. Back up, delete
every index, restore: the API gives the same answers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from movierec.cli import app
from movierec.pipeline.run import PipelineConfig, RunOptions, run_pipeline
from movierec.search import backup, indices
from tests.conftest import delete_prefix
from tests.pipeline.test_guards import dataset

pytestmark = [pytest.mark.es, pytest.mark.spark]


def answers(client) -> dict:
    return {
        "user": client.get("/users/3/recommendations?k=5").json()["recommendations"],
        "title": client.get("/recommendations", params={"title": "Movie 7", "k": 5}).json().get("recommendations"),
        "export": {k: v for k, v in client.get("/users/3/export").json().items() if k != "exported_at"},
        "consent": client.get("/users/5/consent").json(),
        "health": client.get("/health").json().get("model_version"),
    }


def test_backup_delete_restore_serves_the_same_answers(spark, es, settings, tmp_path, monkeypatch):
    monkeypatch.setenv("MOVIEREC_SNAPSHOT_REPOSITORY", f"{settings.index_prefix}repo")
    from movierec.config import get_settings

    get_settings.cache_clear()
    config, names = PipelineConfig.of(settings), indices.IndexNames(settings.index_prefix)
    folder = dataset(tmp_path / "d")
    old = run_pipeline(spark, config, RunOptions(data=folder, evaluate=False), es, lambda _: None)
    new = run_pipeline(spark, config, RunOptions(data=folder, evaluate=False), es, lambda _: None)
    # Another helper's unversioned index (e.g. added movies): found by its prefix, not from a list.
    es.index(index=f"{settings.index_prefix}added-movies-v1", id="1", document={"movie_id": 1}, refresh=True)
    from movierec.service.main import create_app

    with TestClient(create_app()) as client:
        assert client.post("/users/3/ratings", json={"movie_id": 2, "rating": 1.0}).status_code == 200
        assert client.delete("/users/3/ratings/4").status_code in (200, 404)
        assert client.put("/users/5/consent", json={"personalisation": False}).status_code == 200
        before = answers(client)

    serving, chosen = backup.backup_indices(es, names)
    assert serving == new.version and not any(old.version in i for i in chosen)
    assert f"{settings.index_prefix}added-movies-v1" in chosen
    assert {i.rsplit("-v", 1)[0].removeprefix(settings.index_prefix) for i in chosen} >= {
        "movies",
        "users",
        "ratings",
        "models",
        "deletions",
        "consents",
        "added-movies",
    }
    result = CliRunner().invoke(app, ["backup"])
    assert result.exit_code == 0, result.output
    assert f"serving version {new.version}" in result.output

    delete_prefix(es, settings.index_prefix)
    assert indices.serving_version(es, names) is None
    result = CliRunner().invoke(app, ["restore"])
    assert result.exit_code == 0, result.output
    assert indices.serving_version(es, names) == new.version
    with TestClient(create_app()) as client:
        assert answers(client) == before
    # A second restore over live indices refuses without --replace, and works with it.
    again = CliRunner().invoke(app, ["restore"])
    assert again.exit_code == 1 and "--replace" in again.stderr
    assert CliRunner().invoke(app, ["restore", "--replace"]).exit_code == 0
    for snap in backup.snapshots(es, names, get_settings().snapshot_repository):
        es.snapshot.delete(repository=get_settings().snapshot_repository, snapshot=snap.name)
    get_settings.cache_clear()
