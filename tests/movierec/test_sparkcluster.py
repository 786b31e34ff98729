"""A real standalone Spark cluster started by `movierec spark up`, and the pipeline on it."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from movierec.cli import app
from movierec.sparkcluster import HOST, LocalSparkCluster

# Ports of their own, so a demo cluster on 7077/8080 is never touched.
PORT, UI_PORT = 7177, 8180
# The killed run's first users (a quicker run; its ratings export still takes several seconds per partition).
KILLED_RUN_USERS = 120


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    # Under a runs folder, where `movierec spark status` with MOVIEREC_RUNS_DIR set to it looks.
    home = tmp_path_factory.mktemp("runs") / "spark-cluster"
    cluster = LocalSparkCluster(home, port=PORT, ui_port=UI_PORT)
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


def test_the_stage_failure_keeps_the_whole_executor_loss_and_cuts_a_long_cause_between_words():
    from movierec.pipeline.run import CAUSE_CHARS, StageFailed

    # Spark's message when an executor the test killed (SIGKILL: 137) took the only attempt along
    lost = (
        "org.apache.spark.SparkException: Job aborted due to stage failure: Task 1 in stage 660.0 failed 1 "
        "times, most recent failure: Lost task 1.0 in stage 660.0 (TID 1238) (127.0.0.1 executor 0): "
        "ExecutorLostFailure (executor 0 exited caused by one of the running tasks) Reason: Command exited "
        "with code 137"
    )
    message = str(StageFailed("index", RuntimeError(lost)))
    assert message == f"stage index failed: {lost}; aliases not switched, serving version unchanged"
    long = str(StageFailed("train", RuntimeError("word " * 200 + "code 137")))
    cause = long.removeprefix("stage train failed: ").removesuffix("; aliases not switched, serving version unchanged")
    assert cause.endswith("word ...") and len(cause) <= CAUSE_CHARS + 4 and "code 13" not in cause


def _descendants(pid: int) -> list[int]:
    """`pid` and every process below it (a standalone worker starts each executor as its child JVM,
    and the executor starts the Python workers that run the bulk export)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo.extend(children.get(tree[-1], []))
    return tree


def _connected_to(pids: list[int], port: int) -> bool:
    """Whether any of `pids` holds an established TCP connection to `port` (read from /proc: no psutil here)."""
    inodes = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            with contextlib.suppress(OSError):
                link = os.readlink(fd)
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
    lines = [line for table in ("tcp", "tcp6") for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]]
    for line in lines:
        cols = line.split()
        remote_port, state, inode = int(cols[2].split(":")[1], 16), cols[3], cols[9]
        if remote_port == port and state == "01" and inode in inodes:
            return True
    return False


@pytest.mark.cluster
@pytest.mark.slow
def test_a_worker_killed_during_the_bulk_export_never_leaves_a_half_version_serving(
    cluster, spark, es, settings, tmp_path
):
    """`pipeline run` on the 2-worker cluster, held after the users export (faults.py); let go, and the
    moment a worker's executor holds a bulk connection to Elasticsearch (ratings export in flight
    there) that worker and its executor are SIGKILLed, as when its machine dies."""
    from movierec.pipeline.run import PipelineConfig, RunOptions, run_pipeline
    from movierec.search import indices
    from tests.conftest import BUNDLED
    from tests.pipeline.test_guards import dataset

    assert "2 workers" in cluster.up(2)
    names = indices.IndexNames(settings.index_prefix)
    # A version already serving, so "the serving alias is unchanged" means something on a failure.
    first = run_pipeline(
        spark, PipelineConfig.of(settings), RunOptions(data=dataset(tmp_path / "d"), evaluate=False), es, lambda _: None
    )
    assert indices.serving_version(es, names) == first.version

    pause = tmp_path / "pause"
    env = {**os.environ, "SPARK_MASTER": cluster.url, "SPARK_DRIVER_MEMORY": "1g", "MOVIEREC_API_KEY": ""}
    env.update(ES_URL=settings.es_url, MOVIEREC_INDEX_PREFIX=settings.index_prefix)
    env.update(MOVIEREC_RUNS_DIR=str(settings.runs_dir))
    env.update(MOVIEREC_TEST_PAUSE_AT="index:users", MOVIEREC_TEST_PAUSE_FILE=str(pause))
    movierec = str(Path(sys.executable).parent / "movierec")
    log = tmp_path / "run.log"
    es_port = int(settings.es_url.rsplit(":", 1)[1].split("/")[0])
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                movierec,
                "pipeline",
                "run",
                "--data",
                str(BUNDLED),
                "--no-evaluate",
                "--max-users",
                str(KILLED_RUN_USERS),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        marker = Path(f"{pause}.index:users")
        deadline = time.monotonic() + 600
        while not marker.exists():
            assert proc.poll() is None, f"the run ended before the index stage:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no index stage within 600 s:\n{log.read_text()[-3000:]}"
            time.sleep(0.2)
        marker.with_name(marker.name + ".go").touch()
        killed = None
        deadline = time.monotonic() + 60
        while killed is None:
            assert proc.poll() is None, f"the run ended before a worker exported:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "no executor opened a bulk connection within 60 s"
            for name, pid in cluster._pids().items():
                tree = _descendants(pid)
                if name.startswith("worker") and _connected_to(tree, es_port):
                    for each in tree:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(each, signal.SIGKILL)
                    killed = name
                    break
            time.sleep(0.05)
        code = proc.wait(timeout=600)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    output = log.read_text()
    print(output)  # what the user saw: shown with -s, and on a failure
    assert "Traceback" not in output
    assert "Lost executor" in output  # the driver saw the loss while the run was working

    serving = indices.serving_version(es, names)
    assert serving in indices.complete_versions(es, names)
    if code == 0:  # Spark re-ran the lost tasks on the surviving worker: a complete new version serves
        assert serving != first.version and f"serving version {serving}" in output
        card = es.get(index=names.models, id=serving)["_source"]
        # --max-users keeps users 1..KILLED_RUN_USERS (ids are contiguous in the bundled data) with all their ratings
        with (BUNDLED / "ratings.csv").open() as rows:
            expected = sum(1 for row in list(rows)[1:] if int(row.split(",")[0]) <= KILLED_RUN_USERS)
        for kind in ("movies", "users", "ratings"):
            assert es.count(index=getattr(names, kind))["count"] == card["counts"][kind], kind
        assert card["counts"]["users"] == KILLED_RUN_USERS and card["counts"]["ratings"] == expected
        parts = card["spark"]["bulk_partitions"]["ratings"]
        assert sum(p["documents"] for p in parts) == expected  # each partition counted once, retries too
        assert card["spark"]["executors"] == 1  # the export finished on the surviving worker
        assert indices.incomplete_versions(es, names) == []
    else:  # one line naming the stage; the aliases still serve the first version
        assert code == 1
        error = [line for line in output.splitlines() if line.startswith("error:")]
        assert len(error) == 1 and "stage index failed:" in error[0], output[-3000:]
        assert "aliases not switched, serving version unchanged" in error[0]
        assert serving == first.version
        assert len(indices.incomplete_versions(es, names)) == 1  # marked incomplete, never rolled back to

    # The cluster lives on with the survivor; `spark status`, as a user runs it, shows the loss.
    status = subprocess.run(
        [movierec, "spark", "status", "--port", str(PORT), "--ui-port", str(UI_PORT)],
        env={**env, "MOVIEREC_RUNS_DIR": str(cluster.home.parent)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    print(status.stdout)
    assert status.returncode == 0 and "status ALIVE" in status.stdout, status.stdout + status.stderr
    assert status.stdout.count(": ALIVE") == 1, status.stdout
    pids = status.stdout.split("pids: ")[1]
    assert "master" in pids and killed not in pids, status.stdout
    # `spark up` brings the killed worker back (the module's later tests, and its teardown, find 2 workers).
    assert "2 workers" in cluster.up(2)
    assert [w["state"] for w in cluster.state()["workers"]].count("ALIVE") == 2
