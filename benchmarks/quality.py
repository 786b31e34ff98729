"""Model quality on held-out data, after tuning on the training split only.

    .venv/bin/python benchmarks/quality.py [--ml-100k ../shared/data/movielens/ml-100k]
    ES_URL=... .venv/bin/python benchmarks/quality.py --served [--port 8077]   # through the API


- ml-latest-small (bundled): 80/20 random split, seed 42. Floors: explicit RMSE <= 0.87; implicit
  NDCG@10 at least 20% above the popularity baseline.
- ml-100k (not redistributable: pass its folder): per-user 75/25 random split, seed 42, top 10 with
  training items excluded, every test item relevant: Microsoft Recommenders' protocol.
- `--served`: the served model, measured the way a client sees it. The ml-100k training part (per-user
  75/25, seed 42) is written as an ml-100k folder under /tmp (never into the repo: the data set's
  license forbids redistribution), `movierec pipeline run --data` trains and indexes it with the
  defaults (no tuning flags) under a `qbench-` prefix, uvicorn serves it, and
  `GET /users/{id}/recommendations?k=10` is asked for every test user. Needs a running node (ES_URL).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from movierec import resources
from movierec.config import Settings
from movierec.pipeline import als, clean, evaluate, tune
from movierec.pipeline.load import load_movielens
from movierec.pipeline.metrics import ranking_metrics
from movierec.pipeline.spark import build_session

# ../shared next to the clone, or two levels up when the clone is a worktree under wt/.
ML_100K = next(
    (
        p / "shared/data/movielens/ml-100k"
        for p in Path(__file__).resolve().parents[2:4]
        if (p / "shared/data/movielens/ml-100k").is_dir()
    ),
    Path(__file__).resolve().parents[2] / "shared/data/movielens/ml-100k",
)
SERVED_PREFIX = "qbench-"


def run_dataset(spark, name: str, folder: Path, per_user: bool) -> list[dict]:
    raw = load_movielens(spark, folder)
    ratings, _ = clean.clean_ratings(raw.ratings)
    ratings = ratings.cache()
    if per_user:
        train, test = evaluate.per_user_split(ratings, test_fraction=0.25, seed=42)
    else:
        train, test = evaluate.random_split(ratings, test_fraction=0.2, seed=42)
    started = time.perf_counter()
    implicit, _ = tune.tune_implicit(train, tune.grid(als.AlsParams(), tune.IMPLICIT_GRID), per_user=per_user)
    explicit, _ = tune.tune_explicit(train, als.EXPLICIT_DEFAULTS)
    tuning_s = time.perf_counter() - started

    ranking = evaluate.ranking_report(als.fit_als(train, implicit), train, test)
    errors = evaluate.rating_errors(als.fit_biased_als(train, explicit), test)
    split = "per-user 75/25" if per_user else "random 80/20"
    return [
        {
            "dataset": name,
            "split": split,
            "model": f"ALS explicit+biases r{explicit.rank} reg{explicit.reg_param}",
            **errors,
        },
        {
            "dataset": name,
            "split": split,
            "model": f"ALS implicit r{implicit.rank} reg{implicit.reg_param} a{implicit.alpha}",
            **ranking["als"],
        },
        {"dataset": name, "split": split, "model": "popularity", **ranking["popularity"]},
        {"dataset": name, "split": split, "model": f"(tuning took {tuning_s:.0f} s)"},
    ]


def split_ml_100k(spark, source: Path, folder: Path) -> dict[int, set[int]]:
    """Write the training part of the per-user 75/25 split (seed 42) to `folder` as an ml-100k folder;
    return the test part as {user: relevant movie ids}."""
    ratings, _ = clean.clean_ratings(load_movielens(spark, source).ratings)
    train, test = evaluate.per_user_split(ratings.cache(), test_fraction=0.25, seed=42)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    rows = train.orderBy("userId", "movieId").collect()
    with (folder / "u.data").open("w") as out:
        for r in rows:
            out.write(f"{r['userId']}\t{r['movieId']}\t{int(r['rating'])}\t{r['timestamp']}\n")
    shutil.copy(source / "u.item", folder / "u.item")
    relevant: dict[int, set[int]] = {}
    for r in test.select("userId", "movieId").collect():
        relevant.setdefault(r["userId"], set()).add(r["movieId"])
    return relevant


def drop_indices(es_url: str) -> None:
    """The benchmark's indices, by name (the local node refuses wildcard deletes)."""
    from elasticsearch import Elasticsearch

    es = Elasticsearch(es_url, request_timeout=60)
    stale = list(es.indices.get(index=f"{SERVED_PREFIX}*", expand_wildcards="all", ignore_unavailable=True))
    if stale:
        es.indices.delete(index=",".join(stale))


def served_quality(spark, settings: Settings, source: Path, port: int, k: int = 10) -> dict:
    """NDCG@k and friends of the default `pipeline run`, asked through the API for every test user."""
    folder = Path("/tmp/movierec-quality-ml100k-train")
    relevant = split_ml_100k(spark, source, folder)
    env = {**os.environ, "MOVIEREC_INDEX_PREFIX": SERVED_PREFIX, "MOVIEREC_RUNS_DIR": "/tmp/movierec-quality-runs"}
    movierec = [str(Path(sys.executable).parent / "movierec")]
    drop_indices(settings.es_url)
    started = time.perf_counter()
    subprocess.run([*movierec, "pipeline", "run", "--data", str(folder)], env=env, check=True)
    pipeline_s = time.perf_counter() - started
    api = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "movierec.service.main:app", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        users = sorted(relevant)
        recommended, sources = [], {}
        with httpx.Client(base_url=base, timeout=30) as client:
            for user in users:
                answer = client.get(f"/users/{user}/recommendations", params={"k": k})
                answer.raise_for_status()
                body = answer.json()
                sources[body["source"]] = sources.get(body["source"], 0) + 1
                recommended.append([rec["movie_id"] for rec in body["recommendations"]])
    finally:
        api.terminate()
        api.wait()
        drop_indices(settings.es_url)
    metrics = ranking_metrics(recommended, [relevant[u] for u in users], k)
    return {**metrics, "sources": sources, "pipeline_s": pipeline_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ml-100k", type=Path, default=ML_100K)
    parser.add_argument("--served", action="store_true", help="only the end-to-end measurement through the API")
    parser.add_argument("--port", type=int, default=8077, help="uvicorn port for --served")
    args = parser.parse_args()
    settings = Settings()
    if args.served:
        spark = build_session(settings.spark_master, settings.spark_driver_memory, app_name="movierec-quality")
        served = served_quality(spark, settings, args.ml_100k, args.port)
        spark.stop()
        print(
            "ml-100k per-user 75/25 seed 42, default `pipeline run`, GET /users/{id}/recommendations?k=10 for "
            f"{served['users']} test users (sources {served['sources']}; pipeline {served['pipeline_s']:.0f} s):"
        )
        print(" ".join(f"{m}@10 {served[m]:.4f}" for m in ("precision", "recall", "ndcg", "map")))
        return
    spark = build_session(settings.spark_master, settings.spark_driver_memory, app_name="movierec-quality")
    spark.sparkContext.setCheckpointDir("/tmp/movierec-quality-ckpt")
    rows = run_dataset(spark, "ml-latest-small", resources.bundled_dataset(), per_user=False)
    if args.ml_100k.is_dir():
        rows += run_dataset(spark, "ml-100k", args.ml_100k, per_user=True)
    else:
        print(f"(skipping ml-100k: {args.ml_100k} not found)")
    spark.stop()
    cols = ["rmse", "mae", "precision", "recall", "ndcg", "map"]
    print(f"{'dataset':<16} {'split':<15} {'model':<34} " + " ".join(f"{c:>9}" for c in cols))
    for row in rows:
        values = " ".join(f"{row[c]:>9.4f}" if c in row else f"{'':>9}" for c in cols)
        print(f"{row['dataset']:<16} {row['split']:<15} {row['model']:<34} {values}")


if __name__ == "__main__":
    main()
