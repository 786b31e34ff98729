import csv

import pytest

from movierec.pipeline.clean import clean_movies, clean_ratings
from movierec.pipeline.load import load_movielens
from movierec.pipeline.synth import synthesize


def test_synthetic_data_has_movielens_shape(tmp_path):
    stats = synthesize(tmp_path, 100_000, seed=1)
    assert (tmp_path / "ratings.csv").read_bytes().startswith(b"userId,movieId,rating,timestamp\r\n")
    with (tmp_path / "ratings.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == stats["ratings"] and 90_000 < len(rows) <= 101_000
    values = [float(r["rating"]) for r in rows]
    assert set(values) <= {x / 2 for x in range(1, 11)}
    assert 3.0 < sum(values) / len(values) < 4.0
    pairs = {(r["userId"], r["movieId"]) for r in rows}
    assert len(pairs) == len(rows)  # no duplicate (user, movie)
    per_movie = {}
    for r in rows:
        per_movie[r["movieId"]] = per_movie.get(r["movieId"], 0) + 1
    counts = sorted(per_movie.values(), reverse=True)
    assert counts[0] > 5 * counts[len(counts) // 2]  # a long tail


@pytest.mark.spark
def test_synthetic_data_loads_and_cleans_without_rejections(spark, tmp_path):
    synthesize(tmp_path, 5_000, seed=2)
    raw = load_movielens(spark, tmp_path)
    movies, rejected_movies = clean_movies(raw.movies, raw.links)
    ratings, rejected_ratings = clean_ratings(raw.ratings)
    assert rejected_movies.count() == 0 and rejected_ratings.count() == 0
    assert movies.where("title LIKE 'The %'").count() > 0


@pytest.mark.spark
@pytest.mark.slow
def test_what_synthetic_users_rate_follows_their_taste(spark, tmp_path):
    """Implicit ALS must beat popularity on synthetic data, as on real data; popularity-only item
    choice would leave it nothing to learn."""
    from movierec.pipeline.als import AlsParams, fit_als
    from movierec.pipeline.evaluate import random_split, ranking_report

    spark.sparkContext.setCheckpointDir(str(tmp_path / "ckpt"))
    synthesize(tmp_path / "data", 60_000, seed=3)
    ratings, _ = clean_ratings(load_movielens(spark, tmp_path / "data").ratings)
    train, test = random_split(ratings)
    report = ranking_report(fit_als(train, AlsParams(rank=16, max_iter=10)), train, test)
    assert report["als"]["ndcg"] > 1.2 * report["popularity"]["ndcg"]
