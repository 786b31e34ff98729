"""Bundled data slice -> Spark pipeline -> real Elasticsearch -> HTTP through the app."""

import pytest
from fastapi.testclient import TestClient

from movierec.pipeline.run import PipelineConfig, RunOptions, run_pipeline
from movierec.search import indices
from tests.conftest import BUNDLED

pytestmark = [pytest.mark.es, pytest.mark.spark, pytest.mark.slow]


def test_slice_of_bundled_data_to_recommendations_over_http(spark, es, settings):
    report = run_pipeline(
        spark, PipelineConfig.of(settings), RunOptions(data=BUNDLED, max_users=150), es, progress=lambda _: None
    )
    assert report.published
    assert [name for name, _, _ in report.stages] == [
        "load",
        "clean",
        "features",
        "evaluate",
        "train",
        "vectors",
        "index",
    ]
    assert report.metrics["als"]["ndcg"] > 0 and report.model_card_path.is_file()
    assert indices.serving_version(es, indices.IndexNames(settings.index_prefix)) == report.version

    from movierec.service.main import create_app

    with TestClient(create_app()) as client:
        body = client.get("/recommendations", params={"title": "Toy Story", "k": 10}).json()
    assert body["movie"]["title"] == "Toy Story"
    recs = body["recommendations"]
    assert len(recs) == 10
    assert all(r["movie_id"] != 1 and r["title"] for r in recs)
    scores = [r["score"] for r in recs]
    assert scores == sorted(scores, reverse=True)


def test_failed_documents_block_the_alias_switch(spark, es, settings):
    """A partial bulk failure: the run reports it and the serving version stays."""
    from movierec.pipeline.run import Documents, ExportFailed, RunReport, _Run, index_stage

    names = indices.IndexNames(settings.index_prefix)
    first = run_pipeline(
        spark,
        PipelineConfig.of(settings),
        RunOptions(data=BUNDLED, max_users=20, evaluate=False),
        es,
        progress=lambda _: None,
    )
    movies = spark.createDataFrame([("1", 1, "Ok"), ("2", 2, "Bad")], "_id string, movie_id int, title string")
    # The strict mapping rejects an unknown field: one document of two fails.
    bad = movies.selectExpr("_id", "movie_id", "title", "CASE WHEN movie_id = 2 THEN 'x' END AS not_in_mapping")
    empty = spark.createDataFrame([], "_id string, user_id int")
    docs = Documents(bad, empty, empty.withColumnRenamed("user_id", "rating"), 2, 0)
    config = PipelineConfig.of(settings)
    version = indices.new_version()
    run = _Run(spark, config, RunOptions(data=BUNDLED), es, print, RunReport(version), names, config.runs_dir / version)
    with pytest.raises(ExportFailed, match=r"failed documents \{'movies': 1\}; aliases not switched"):
        index_stage(run, docs, {"params": {"rank": 8}})
    assert not run.report.published
    assert indices.serving_version(es, names) == first.version


def test_api_ratings_and_deletions_survive_retraining_and_rollback(spark, es, settings):
    """API ratings and deletions live only in Elasticsearch: a retrain honours them, including the
    ones made while it runs, and so does a rollback."""
    from movierec.service.main import create_app

    names = indices.IndexNames(settings.index_prefix)
    options = RunOptions(data=BUNDLED, max_users=20, evaluate=False)
    first = run_pipeline(spark, PipelineConfig.of(settings), options, es, progress=lambda _: None)
    api_only_user, late_user = 990_001, 990_002

    with TestClient(create_app()) as client:
        for user_id, movie_id, value in ((1, 1, 0.5), (api_only_user, 1, 5.0), (api_only_user, 3114, 4.5)):
            resp = client.post(f"/users/{user_id}/ratings", json={"movie_id": movie_id, "rating": value})
            assert resp.status_code == 200, resp.text
        assert client.delete("/users/1/ratings/3").status_code == 200  # a rating from ratings.csv
        assert client.put("/users/3/consent", json={"personalisation": False}).status_code == 200
        erased = client.delete("/users/2").json()  # a user from ratings.csv, erased on request
        assert erased["ratings_deleted"] == 29 and erased["user_documents_deleted"] == 1

        def rate_while_indexing(message):
            if message.startswith("[index] ..."):  # the old version still serves
                resp = client.post(f"/users/{late_user}/ratings", json={"movie_id": 260, "rating": 5.0})
                assert resp.status_code == 200, resp.text
                assert client.delete("/users/1/ratings/6").status_code == 200

        second = run_pipeline(spark, PipelineConfig.of(settings), options, es, progress=rate_while_indexing)
        assert indices.serving_version(es, names) == second.version != first.version
        assert second.cleaning.counts["live ratings carried over"] == 3
        assert second.cleaning.counts["file ratings replaced by a later live rating"] == 1
        assert second.cleaning.counts["ratings deleted through the API (dropped)"] == 1
        assert second.cleaning.counts["ratings of erased users (dropped)"] == 29
        assert not es.exists(index=names.users, id="2")
        no_consent = es.get(index=names.users, id="3")["_source"]  # trained on, but given no profile
        assert "user_vector" not in no_consent and no_consent["vector_source"] == "no-consent"
        assert es.count(index=names.ratings, query={"term": {"user_id": 2}})["count"] == 0
        assert [name for name, _, _ in second.stages][-1] == "late ratings"
        # Deleted before the run (dropped from training) and during it (applied after the switch).
        assert not es.exists(index=names.ratings, id="1_3") and not es.exists(index=names.ratings, id="1_6")
        assert es.exists(index=names.ratings, id="1_47")
        user_1 = es.get(index=names.users, id="1")["_source"]
        assert user_1["model_version"] == second.version
        assert user_1["num_ratings"] == es.count(index=names.ratings, query={"term": {"user_id": 1}})["count"]

        ratings = {
            hit["_id"]: hit["_source"]
            for hit in es.search(index=names.ratings, query={"terms": {"source": ["api"]}}, size=10)["hits"]["hits"]
        }
        assert {k: (v["rating"], v["source"]) for k, v in ratings.items()} == {
            "1_1": (0.5, "api"),
            f"{api_only_user}_1": (5.0, "api"),
            f"{api_only_user}_3114": (4.5, "api"),
            f"{late_user}_260": (5.0, "api"),
        }
        # Trained into the new model: the API-only user has a vector and personal recommendations.
        trained = es.get(index=names.users, id=str(api_only_user))["_source"]
        assert trained["model_version"] == second.version and trained["user_vector"]
        assert client.get(f"/users/{api_only_user}/recommendations").json()["source"] == "personal"
        # The late rating was folded into the new model after the switch.
        late = es.get(index=names.users, id=str(late_user))["_source"]
        assert late["model_version"] == second.version and late["vector_source"] == "fold-in" and late["user_vector"]

        # Rolling back keeps them too: the older version gets every API rating and refolds their users.
        resp = client.post("/users/1/ratings", json={"movie_id": 2, "rating": 4.0})
        assert resp.status_code == 200, resp.text

    from typer.testing import CliRunner

    from movierec.cli import app as cli

    result = CliRunner().invoke(cli, ["index", "rollback"])
    assert result.exit_code == 0, result.output
    assert f"serving version {first.version}" in result.output
    assert "API ratings kept: 5 found" in result.output
    assert indices.serving_version(es, names) == first.version
    es.indices.refresh(index=names.ratings)
    kept = {
        hit["_id"] for hit in es.search(index=names.ratings, query={"term": {"source": "api"}}, size=10)["hits"]["hits"]
    }
    assert kept == {"1_1", "1_2", f"{api_only_user}_1", f"{api_only_user}_3114", f"{late_user}_260"}
    assert not es.exists(index=names.ratings, id="1_3") and not es.exists(index=names.ratings, id="1_6")
    user = es.get(index=names.users, id="1")["_source"]
    stored = es.count(index=names.ratings, query={"term": {"user_id": 1}})["count"]
    assert user["model_version"] == first.version and user["num_ratings"] == stored and user["user_vector"]
