"""A killed run never poisons what serves: real `movierec pipeline run` processes, SIGKILLed at named
points (pipeline/faults.py holds them there, so the kill lands at a known place), then a normal run
and a rollback. The issue's case: a kill in the index stage left half-written indices that pruning
preferred over the last good version and rollback switched to."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from movierec.pipeline.run import PipelineConfig, RunOptions, run_pipeline
from movierec.search import indices
from tests.pipeline.test_guards import dataset

pytestmark = [pytest.mark.es, pytest.mark.spark, pytest.mark.slow]
MOVIEREC = str(Path(sys.executable).with_name("movierec"))


def killed_run(settings, folder: Path, tmp_path: Path, points: str, at_pause=None) -> str:
    """Run the CLI's pipeline in its own process; at the last of `points` SIGKILL it. `at_pause(point)`
    runs at each earlier point before the run is let go on. Returns the run's log."""
    pause = tmp_path / "pause"
    env = {
        **os.environ,
        "ES_URL": settings.es_url,
        "MOVIEREC_INDEX_PREFIX": settings.index_prefix,
        "MOVIEREC_RUNS_DIR": str(settings.runs_dir),
        "MOVIEREC_API_KEY": "",
        "SPARK_MASTER": "local[2]",
        "MOVIEREC_TEST_PAUSE_AT": points,
        "MOVIEREC_TEST_PAUSE_FILE": str(pause),
    }
    log = tmp_path / f"run-{points.replace(',', '_').replace(':', '-')}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [MOVIEREC, "pipeline", "run", "--data", str(folder), "--no-evaluate"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wanted = points.split(",")
        for point in wanted:
            marker = Path(f"{pause}.{point}")
            deadline = time.monotonic() + 400
            while not marker.exists():
                assert proc.poll() is None, f"the run ended before {point}:\n{log.read_text()[-3000:]}"
                assert time.monotonic() < deadline, f"no {point} within 400 s:\n{log.read_text()[-3000:]}"
                time.sleep(0.2)
            if point != wanted[-1]:
                if at_pause:
                    at_pause(point)
                marker.with_name(marker.name + ".go").touch()
        os.kill(proc.pid, signal.SIGKILL)  # the kill itself: no handler, no cleanup in the run
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        # the driver's JVM exits when its stdin closes; make sure nothing of ours lingers
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    return log.read_text()


def rate_through_the_api(settings, user: int, movie: int, rating: float) -> None:
    from fastapi.testclient import TestClient

    from movierec.service.main import create_app

    with TestClient(create_app()) as client:
        answer = client.post(f"/users/{user}/ratings", json={"movie_id": movie, "rating": rating})
        assert answer.status_code == 200, answer.text


def api_rating(es, names, version: str, user: int, movie: int) -> dict | None:
    index = names.concrete("ratings", version)
    es.indices.refresh(index=index)
    hits = es.search(
        index=index,
        query={"bool": {"filter": [{"term": {"user_id": user}}, {"term": {"movie_id": movie}}]}},
    )["hits"]["hits"]
    return hits[0]["_source"] if hits else None


@pytest.mark.parametrize("point", ["load", "index:users", "switched"])
def test_a_run_killed_anywhere_leaves_a_complete_version_serving_and_the_next_run_cleans_up(
    spark, es, settings, tmp_path, point
):
    names, config = indices.IndexNames(settings.index_prefix), PipelineConfig.of(settings)
    folder = dataset(tmp_path / "d")
    first = run_pipeline(spark, config, RunOptions(data=folder, evaluate=False), es, lambda _: None)
    before = set(indices.versions(es, names)) | {first.version}

    def during_the_run(_point):  # an API rating while the killed run works: it lands in `first`
        rate_through_the_api(settings, 3, 7, 1.5)

    points = f"load,{point}" if point == "switched" else point
    log = killed_run(settings, folder, tmp_path, points, at_pause=during_the_run)
    assert "Traceback" not in log
    serving = indices.serving_version(es, names)
    complete = indices.complete_versions(es, names)
    killed = sorted((set(indices.versions(es, names)) | set(indices.incomplete_versions(es, names))) - before)
    assert serving in complete
    if point == "switched":  # the killed run had switched: its version is serving, and complete
        assert killed == [serving] and serving != first.version
    else:
        assert serving == first.version
    if point == "index:users":  # half-written: shown as incomplete, never rolled back to
        assert indices.incomplete_versions(es, names) == killed and len(killed) == 1
        assert {r["version"]: r["complete"] for r in indices.status(es, names)}[killed[0]] is False

    lines = []
    nxt = run_pipeline(spark, config, RunOptions(data=folder, evaluate=False), es, lines.append)
    assert nxt.published and indices.serving_version(es, names) == nxt.version
    assert indices.incomplete_versions(es, names) == []
    load_line = next(line for line in lines if line.startswith("[load]") and "s " in line)
    if point == "index:users":
        assert f"deleted incomplete version(s) {killed[0]}" in load_line
    if point == "switched":  # the late-ratings stage the kill skipped is finished, the rating kept
        assert "finished the late-ratings stage" in load_line
        assert api_rating(es, names, nxt.version, 3, 7)["rating"] == 1.5

    rolled = indices.rollback(es, names)
    assert rolled in indices.complete_versions(es, names) and rolled != nxt.version
    assert es.count(index=names.users)["count"] > 0 and es.count(index=names.movies)["count"] > 0
