"""A real standalone Spark cluster started by `movierec spark up`, and the pipeline on it."""

import json

import pytest
from typer.testing import CliRunner

from movierec.cli import app
from movierec.sparkcluster import HOST, LocalSparkCluster

# Ports of their own, so a demo cluster on 7077/8080 is never touched.
PORT, UI_PORT = 7177, 8180


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = LocalSparkCluster(tmp_path_factory.mktemp("spark-cluster"), port=PORT, ui_port=UI_PORT)
    yield cluster
    cluster.down()


@pytest.mark.cluster
@pytest.mark.slow
def test_two_workers_on_loopback_and_the_pipeline_runs_its_export_in_the_executors(cluster, es, settings, tmp_path):
    from movierec.pipeline.run import PipelineConfig, RunOptions, run_pipeline
    from movierec.pipeline.spark import build_session
    from movierec.search import indices
    from tests.conftest import BUNDLED

    assert "2 workers" in cluster.up(2)
    state = cluster.state()
    assert [w["host"] for w in state["workers"]] == [HOST, HOST]
    assert "worker-1" in cluster.status() and cluster.up(2)  # up twice is fine

    spark = build_session(cluster.url, "1g", app_name="movierec-cluster-test", **{"spark.executor.memory": "512m"})
    try:
        report = run_pipeline(
            spark,
            PipelineConfig.of(settings),
            RunOptions(data=BUNDLED, evaluate=False, max_users=120),
            es,
            progress=lambda _: None,
        )
    finally:
        spark.stop()
    assert report.published
    names = indices.IndexNames(settings.index_prefix)
    assert indices.serving_version(es, names) == report.version
    card = es.get(index=names.models, id=report.version)["_source"]["spark"]
    assert card["master"] == cluster.url and card["executors"] == 2
    ratings = card["bulk_partitions"]["ratings"]
    assert sum(p["documents"] for p in ratings) == es.count(index=names.ratings)["count"]
    assert len({p["partition"] for p in ratings}) == len(ratings) > 1
    assert "executors" in json.dumps(report.spark)


@pytest.mark.cluster
def test_a_taken_port_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen()
        taken = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["spark", "up", "--port", str(taken), "--ui-port", str(taken + 1)])
    assert result.exit_code == 1 and "is taken by another process" in result.output
    assert "Traceback" not in result.output
