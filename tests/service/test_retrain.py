"""Added movies across a retrain, through the HTTP API on the real node and real Spark runs: the next
`pipeline run` keeps them with their ids and reproduces their statistics from the stored ratings, and
an added movie that a data file now holds is merged into it, its id answering as an alias."""

import contextlib
import shutil
import uuid

import pytest
from fastapi.testclient import TestClient

from movierec.config import Settings, get_settings
from movierec.search.indices import IndexNames
from tests.conftest import BUNDLED, delete_prefix

pytestmark = [pytest.mark.es, pytest.mark.spark]
BALTO = 13  # "Balto (1995)": left out of the first run's files, added through the API, back in the second's
MAX_USERS = 60  # a slice of the bundled data keeps both runs quick; API ratings are kept whatever the slice
NEW_RATINGS = {1: 5.0, 2: 4.0, 3: 4.5, 4: 5.0, 5: 3.0, 6: 4.0}  # pipeline users (with vectors) rate the new movie
BALTO_RATINGS = {7: 4.5, 8: 4.5, 9: 2.0, 10: 5.0}


def without_movie(source, target, movie_id):
    """A copy of a MovieLens directory without one movie (its row, links, tags and ratings)."""
    target.mkdir()
    for path in source.iterdir():
        if path.suffix != ".csv":
            shutil.copy(path, target / path.name)
            continue
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        column = lines[0].split(",").index("movieId")
        kept = [lines[0]] + [line for line in lines[1:] if line.split(",")[column] != str(movie_id)]
        (target / path.name).write_text("".join(kept), encoding="utf-8")
    return target


@contextlib.contextmanager
def client_for(settings: Settings):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ES_URL", settings.es_url)
        mp.setenv("MOVIEREC_INDEX_PREFIX", settings.index_prefix)
        mp.setenv("MOVIEREC_API_KEY", "")
        get_settings.cache_clear()
        from movierec.service.main import create_app

        try:
            with TestClient(create_app()) as client:
                yield client
        finally:
            get_settings.cache_clear()


def run(spark, es, settings, data):
    from movierec.pipeline.run import PipelineConfig, RunOptions, run_pipeline

    options = RunOptions(data=data, evaluate=False, max_users=MAX_USERS)
    report = run_pipeline(spark, PipelineConfig.of(settings), options, es, progress=lambda _: None)
    assert report.published
    return report


def stored_ratings(es, names, movie_id):
    es.indices.refresh(index=names.ratings)
    hits = es.search(index=names.ratings, query={"term": {"movie_id": movie_id}}, size=10_000)["hits"]["hits"]
    return {h["_source"]["user_id"]: h["_source"] for h in hits}


@pytest.fixture(scope="module")
def retrained(es, es_url, spark, tmp_path_factory):
    """Run 1 without Balto; through the API a new movie and Balto are added and rated; run 2 with Balto."""
    prefix = f"test-retrain-{uuid.uuid4().hex[:6]}-"
    settings = Settings(ES_URL=es_url, MOVIEREC_INDEX_PREFIX=prefix, MOVIEREC_RUNS_DIR=tmp_path_factory.mktemp("runs"))
    try:
        run(spark, es, settings, without_movie(BUNDLED, tmp_path_factory.mktemp("data") / "ml", BALTO))
        with client_for(settings) as api:
            title = f"Zorblax Retrain {uuid.uuid4().hex[:6]}"
            added = api.post("/movies", json={"title": title, "year": 2031, "genres": ["Animation", "Children"]})
            assert added.status_code == 201, added.text
            new_id = added.json()["movie"]["movie_id"]
            balto = api.post("/movies", json={"title": "Balto", "year": 1995, "genres": ["Animation"]})
            assert balto.status_code == 201, balto.text  # not in this run's files: a new movie
            balto_added_id = balto.json()["movie"]["movie_id"]
            for movie_id, rated in ((new_id, NEW_RATINGS), (balto_added_id, BALTO_RATINGS)):
                for user, value in rated.items():
                    resp = api.post(f"/users/{user}/ratings", json={"movie_id": movie_id, "rating": value})
                    assert resp.status_code == 200, resp.text
            live = api.get(f"/movies/{new_id}").json()  # the live statistics, before the retrain
        report = run(spark, es, settings, BUNDLED)
        yield settings, report, title, new_id, balto_added_id, live
    finally:
        delete_prefix(es, prefix)


def test_a_retrain_keeps_an_added_movie_with_its_id_statistics_and_an_als_vector(retrained, es):
    settings, report, title, new_id, _, live = retrained
    names = IndexNames(settings.index_prefix)
    with client_for(settings) as api:
        movie = api.get(f"/movies/{new_id}").json()
        hits = api.get("/movies/search", params={"q": title}).json()["results"]
        titled = api.get("/recommendations", params={"title": title, "k": 5})
    assert movie["movie_id"] == new_id and movie["source"] == "api" and movie["title"] == title
    assert movie["model_version"] == report.version
    # The statistics from the stored ratings of the new version, which equal the live ones before the run.
    stored = stored_ratings(es, names, new_id)
    assert {u: r["rating"] for u, r in stored.items()} == NEW_RATINGS
    values = list(NEW_RATINGS.values())
    assert movie["num_ratings"] == len(values) == live["num_ratings"]
    assert movie["avg_rating"] == pytest.approx(sum(values) / len(values), rel=1e-12)
    assert movie["avg_rating"] == pytest.approx(live["avg_rating"], rel=1e-12)
    # Trained on its ratings like any file movie (every movie with a training rating gets ALS factors).
    assert live["vector_source"] == "fold-in" and movie["vector_source"] == "als"
    assert hits[0]["movie_id"] == new_id
    assert titled.status_code == 200 and titled.json()["movie"]["movie_id"] == new_id
    assert len(titled.json()["recommendations"]) == 5


def test_a_merged_added_id_answers_as_the_files_movie_for_reads_and_writes(retrained, es):
    settings, report, _, _, added_id, _ = retrained
    names = IndexNames(settings.index_prefix)
    assert report.cleaning.counts["added movies merged into a file's movie"] == 1
    # The run moved the API ratings of the added id to the file's id (newer than any file rating of a pair).
    stored = stored_ratings(es, names, BALTO)
    assert {u: stored[u]["rating"] for u in BALTO_RATINGS} == BALTO_RATINGS
    assert not stored_ratings(es, names, added_id)
    with client_for(settings) as api:
        movie = api.get(f"/movies/{added_id}").json()
        assert movie["movie_id"] == BALTO and movie["source"] == "movielens"
        assert movie["num_ratings"] == len(stored)
        assert movie["avg_rating"] == pytest.approx(sum(r["rating"] for r in stored.values()) / len(stored))
        similar = api.get(f"/movies/{added_id}/similar", params={"k": 5})
        assert similar.status_code == 200 and similar.json()["movie"]["movie_id"] == BALTO
        assert len(similar.json()["recommendations"]) == 5
        titled = api.get("/recommendations", params={"title": "Balto", "k": 5}).json()
        assert titled["movie"]["movie_id"] == BALTO
        # Writes: a single rating, a deletion and a batch event naming the added id reach the file's movie.
        one = api.post("/users/11/ratings", json={"movie_id": added_id, "rating": 3.5})
        assert one.status_code == 200, one.text
        assert one.json()["movie_id"] == BALTO
        assert api.get(f"/movies/{BALTO}").json()["num_ratings"] == len(stored) + 1
        event = {"event_id": "merged-1", "user_id": 12, "movie_id": added_id, "rating": 4.0}
        batch = api.post("/ratings:bulk", json=[event]).json()
        assert (batch["applied"], batch["rejected"]) == (1, 0), batch
        assert api.get(f"/movies/{BALTO}").json()["num_ratings"] == len(stored) + 2
        assert api.delete(f"/users/11/ratings/{added_id}").status_code == 200
        after = api.get(f"/movies/{added_id}").json()
    assert after["num_ratings"] == len(stored) + 1
    now = stored_ratings(es, names, BALTO)
    assert now[12]["rating"] == 4.0 and 11 not in now
    assert after["avg_rating"] == pytest.approx(sum(r["rating"] for r in now.values()) / len(now), rel=1e-12)
