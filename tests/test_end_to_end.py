"""Bundled data slice -> Spark pipeline -> real Elasticsearch -> HTTP through the app."""

import pytest
from fastapi.testclient import TestClient

from pipeline.run import RunOptions, run_pipeline
from search import indices
from tests.conftest import BUNDLED

pytestmark = [pytest.mark.es, pytest.mark.spark, pytest.mark.slow]


def test_slice_of_bundled_data_to_recommendations_over_http(spark, es, settings):
    report = run_pipeline(spark, settings, RunOptions(data=BUNDLED, max_users=150), es, progress=lambda _: None)
    assert report.published
    assert [name for name, _, _ in report.stages] == ["load", "clean", "features", "evaluate", "train", "vectors", "index"]
    assert report.metrics["als"]["ndcg"] > 0 and report.model_card_path.is_file()
    assert indices.serving_version(es, indices.IndexNames(settings.index_prefix)) == report.version

    from service.main import create_app

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
    from pipeline.run import ExportFailed, RunReport, _index

    names = indices.IndexNames(settings.index_prefix)
    first = run_pipeline(spark, settings, RunOptions(data=BUNDLED, max_users=20, evaluate=False), es, progress=lambda _: None)
    movies = spark.createDataFrame([("1", 1, "Ok"), ("2", 2, "Bad")], "_id string, movie_id int, title string")
    # The strict mapping rejects an unknown field: one document of two fails.
    bad = movies.selectExpr("_id", "movie_id", "title", "CASE WHEN movie_id = 2 THEN 'x' END AS not_in_mapping")
    empty = spark.createDataFrame([], "_id string, user_id int")
    report = RunReport(version=indices.new_version())
    with pytest.raises(ExportFailed, match=r"failed documents \{'movies': 1\}; aliases not switched"):
        _index(es, settings, names, report, bad, empty, empty.withColumnRenamed("user_id", "rating"), 8, {}, [])
    assert indices.serving_version(es, names) == first.version
