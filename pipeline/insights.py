"""What the notebook and `movierec report` need from Spark: the cleaned data, held-out metrics, a sweep.

The data goes through the pipeline's own loader and cleaning rules, so the analysis sees exactly the
ratings the model is trained on. The sweep is slow (one ALS fit per cell), so its results are cached
in a small JSON file that the notebook reads unless asked to recompute.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from pyspark.sql import SparkSession

from movierec.analysis import RatingsData
from movierec.pipeline import als, clean, evaluate
from movierec.pipeline.load import load_movielens
from movierec.pipeline.metrics import ranking_metrics, top_k_excluding
from movierec.pipeline.params import EXPLICIT_DEFAULTS, AlsParams

SWEEP_RANKS = (4, 8, 16, 24, 48)
SWEEP_REGS = (0.01, 0.1, 1.0, 10.0)
K = 10


def load_cleaned(spark: SparkSession, folder: Path) -> RatingsData:
    """The folder through `load_movielens`, `clean_movies`, `clean_ratings` and `drop_unknown_movies`."""
    raw = load_movielens(spark, folder)
    report = clean.CleaningReport()
    movies, _ = clean.clean_movies(raw.movies, raw.links, report)
    ratings, _ = clean.clean_ratings(raw.ratings, report)
    ratings = clean.drop_unknown_movies(ratings, movies, report)
    rows = ratings.select("userId", "movieId", "rating", "timestamp").collect()
    arr = np.array([(r[0], r[1], r[2], r[3]) for r in rows], dtype=np.float64)
    movie_rows = movies.select("movieId", "title", "year", "genres").orderBy("movieId").collect()
    return RatingsData(
        user=arr[:, 0].astype(np.int64),
        movie=arr[:, 1].astype(np.int64),
        rating=arr[:, 2],
        ts=arr[:, 3].astype(np.int64),
        movie_ids=np.array([r["movieId"] for r in movie_rows], dtype=np.int64),
        titles=[r["title"] for r in movie_rows],
        years=np.array([r["year"] if r["year"] is not None else -1 for r in movie_rows], dtype=np.int64),
        genres=[list(r["genres"] or []) for r in movie_rows],
    )


def _top_k(model: als.ALSModel, train_rows: list, users: list[int]) -> tuple[np.ndarray, np.ndarray]:
    items = model.itemFactors.orderBy("id").collect()
    item_ids = np.array([row["id"] for row in items])
    item_vectors = np.array([row["features"] for row in items], dtype=np.float32)
    position = {int(i): n for n, i in enumerate(item_ids)}
    factors = {row["id"]: row["features"] for row in model.userFactors.collect()}
    seen: dict[int, list[int]] = {}
    for user, movie in train_rows:
        if movie in position:
            seen.setdefault(user, []).append(position[movie])
    exclude = [np.array(seen.get(u, []), dtype=np.int64) for u in users]
    matrix = np.array([factors[u] for u in users], dtype=np.float32)
    return item_ids, item_ids[top_k_excluding(matrix, item_vectors, exclude, K)]


def sweep(
    spark: SparkSession,
    folder: Path,
    *,
    ranks: tuple[int, ...] = SWEEP_RANKS,
    regs: tuple[float, ...] = SWEEP_REGS,
    base: AlsParams | None = None,
    progress=print,  # noqa: ANN001
) -> dict:
    """Held-out metrics of the served model next to popularity, and a rank x regParam grid.

    Same split as `movierec pipeline run` (random 80/20, seed 42); the grid is scored on the test
    split too, so it shows what the knobs do rather than choosing them (tuning uses a validation
    split carved out of training: `pipeline/tune.py`). Besides NDCG@10 each cell records catalogue
    coverage (distinct movies in anyone's top 10) and how popular the recommended movies are.
    """
    base = base or AlsParams()
    raw = load_movielens(spark, folder)
    movies, _ = clean.clean_movies(raw.movies, raw.links)
    ratings, _ = clean.clean_ratings(raw.ratings)
    ratings = clean.drop_unknown_movies(ratings, movies, clean.CleaningReport()).cache()
    spark.sparkContext.setCheckpointDir(str(Path(spark.conf.get("spark.local.dir", "/tmp")) / "movierec-sweep"))
    train, test = evaluate.random_split(ratings)
    train_rows = [(r[0], r[1]) for r in train.select("userId", "movieId").collect()]
    test_by_user: dict[int, set[int]] = {}
    for r in test.select("userId", "movieId").collect():
        test_by_user.setdefault(r[0], set()).add(r[1])
    counts: dict[int, int] = {}
    for _, movie in train_rows:
        counts[movie] = counts.get(movie, 0) + 1
    ranked_by_count = sorted(counts, key=lambda m: -counts[m])
    pop_rank = {m: i / len(ranked_by_count) for i, m in enumerate(ranked_by_count)}

    def score(params: AlsParams) -> dict:
        started = time.perf_counter()
        model = als.fit_als(train, params)
        known = {row["id"] for row in model.userFactors.select("id").collect()}
        users = [u for u in test_by_user if u in known]
        _, top = _top_k(model, train_rows, users)
        metrics = ranking_metrics(top.tolist(), [test_by_user[u] for u in users], K)
        recommended = top.ravel()
        return {
            **{k: metrics[k] for k in ("precision", "recall", "ndcg", "map")},
            "coverage": float(len(np.unique(recommended)) / len(counts)),
            "mean_popularity_percentile": float(np.mean([1 - pop_rank.get(int(m), 1.0) for m in recommended])),
            "seconds": round(time.perf_counter() - started, 1),
        }

    held_out = {"als": score(base)}
    popular = list(ranked_by_count)
    seen_by_user: dict[int, set[int]] = {}
    for user, movie in train_rows:
        seen_by_user.setdefault(user, set()).add(movie)
    pop_top = [[m for m in popular if m not in seen_by_user.get(u, set())][:K] for u in test_by_user]
    held_out["popularity"] = {
        **{k: v for k, v in ranking_metrics(pop_top, list(test_by_user.values()), K).items() if k != "users"},
        "coverage": float(len({m for row in pop_top for m in row}) / len(counts)),
        "mean_popularity_percentile": float(np.mean([1 - pop_rank[m] for row in pop_top for m in row])),
    }
    held_out["explicit"] = evaluate.rating_errors(als.fit_biased_als(train, EXPLICIT_DEFAULTS), test)
    progress(f"held out: {held_out}")
    grid = []
    for rank in ranks:
        for reg in regs:
            row = {"rank": rank, "reg_param": reg, **score(replace(base, rank=rank, reg_param=reg))}
            progress(f"sweep {row}")
            grid.append(row)
    return {
        "dataset": folder.name,
        "split": "random 80/20, seed 42 (as `movierec pipeline run`)",
        "params": base.as_dict(),
        "k": K,
        "held_out": held_out,
        "grid": grid,
    }


def load_sweep(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def save_sweep(result: dict, path: Path) -> None:
    Path(path).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
