"""Model quality on held-out data, after tuning on the training split only.

    .venv/bin/python benchmarks/quality.py [--ml-100k ../shared/data/movielens/ml-100k]

- ml-latest-small (bundled): 80/20 random split, seed 42. Floors: explicit RMSE <= 0.87; implicit
  NDCG@10 at least 20% above the popularity baseline.
- ml-100k (not redistributable: pass its folder): per-user 75/25 random split, seed 42, top 10 with
  training items excluded, every test item relevant: Microsoft Recommenders' protocol.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from movierec import resources
from movierec.config import Settings
from movierec.pipeline import als, clean, evaluate, tune
from movierec.pipeline.load import load_movielens
from movierec.pipeline.spark import build_session


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--ml-100k", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/movielens/ml-100k"
    )
    args = parser.parse_args()
    settings = Settings()
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
