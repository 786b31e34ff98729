"""A real standalone Spark cluster started by `movierec spark up`, and the pipeline on it."""

import os
import subprocess
import sys
from pathlib import Path

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
    from movierec.search import indices
    from tests.conftest import BUNDLED

    assert "2 workers" in cluster.up(2)
    state = cluster.state()
    assert [w["host"] for w in state["workers"]] == [HOST, HOST]
    assert "worker-1" in cluster.status() and cluster.up(2)  # up twice is fine

    # In its own process, as a user runs it: this test process already has a local SparkSession.
    env = {**os.environ, "SPARK_MASTER": cluster.url, "SPARK_DRIVER_MEMORY": "1g"}
    env.update(ES_URL=settings.es_url, MOVIEREC_INDEX_PREFIX=settings.index_prefix)
    env.update(MOVIEREC_RUNS_DIR=str(tmp_path / "runs"))
    movierec = str(Path(sys.executable).parent / "movierec")
    args = ["pipeline", "run", "--data", str(BUNDLED), "--no-evaluate", "--max-users", "120"]
    proc = subprocess.run([movierec, *args], env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "aliases ->" in proc.stdout
    names = indices.IndexNames(settings.index_prefix)
    version = indices.serving_version(es, names)
    card = es.get(index=names.models, id=version)["_source"]["spark"]
    assert card["master"] == cluster.url and card["executors"] == 2
    ratings = card["bulk_partitions"]["ratings"]
    assert sum(p["documents"] for p in ratings) == es.count(index=names.ratings)["count"]
    assert len({p["partition"] for p in ratings}) == len(ratings) > 1


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


def test_a_master_that_is_down_is_named_before_spark_starts():
    import socket

    from movierec.sparkcluster import SparkClusterError, check_master

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind((HOST, 0))
        free = probe.getsockname()[1]
    with pytest.raises(SparkClusterError, match=f"SPARK_MASTER=spark://{HOST}:{free}: no Spark master"):
        check_master(f"spark://{HOST}:{free}", timeout_s=1)
    check_master("local[*]")  # nothing to reach


@pytest.mark.spark
def test_a_spark_job_that_gives_up_names_its_stage(spark, tmp_path):
    from movierec.pipeline.run import RunReport, StageFailed, _Run

    run = _Run(spark, None, None, None, lambda _: None, RunReport("v1"), None, tmp_path)

    def failing(run):
        return run.spark.range(4).rdd.map(lambda x: 1 // 0).count()

    with pytest.raises(StageFailed, match="stage train failed: .*aliases not switched") as info:
        run.stage("train", failing)
    assert info.value.stage == "train" and "Traceback" not in str(info.value)
