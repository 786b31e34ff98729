"""Tuning study of the served implicit ALS: validation NDCG@10 over wide ranges, on training data only.

    nice -n 19 .venv/bin/python benchmarks/tune_study.py [--datasets bundled,ml-100k,synth] [--out FILE]

Each dataset is split the way its evaluation splits it (ml-100k: per user 75/25, seed 42; bundled and
synthetic: random 80/20, seed 42). Only the training part is used here: a validation split is carved
out of it (same kind of split, seed 7), every candidate is fitted on the rest and ranked on the
validation users. The test part is never read. One JSON line per candidate goes to --out.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from dataclasses import replace
from pathlib import Path

from movierec import resources
from movierec.config import Settings
from movierec.pipeline import als, clean, evaluate
from movierec.pipeline.load import load_movielens
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
# Coarse axes (max_iter 15), then max_iter around the best cells. Sized for a loaded 2-core machine
# (about 40 s per fit there): alpha below the old default 1.0 had already helped on ml-100k (issue 16).
AXES = {"alpha": (0.25, 0.5, 1.0), "rank": (32, 64), "reg_param": (0.05, 0.15, 0.4)}
ITERATIONS = (10, 15, 25)


def folders(names: list[str]) -> dict[str, tuple[Path, bool]]:
    known = {"bundled": (resources.bundled_dataset(), False), "ml-100k": (ML_100K, True)}
    if "synth" in names:
        from movierec.pipeline.synth import synthesize

        folder = Path("/tmp/movierec-synth-study")
        if not (folder / "ratings.csv").is_file():
            synthesize(folder, 200_000)
        known["synth"] = (folder, False)
    return {name: known[name] for name in names}


def study(spark, name: str, folder: Path, per_user: bool, out) -> None:
    ratings, _ = clean.clean_ratings(load_movielens(spark, folder).ratings)
    ratings = ratings.cache()
    split = evaluate.per_user_split if per_user else evaluate.random_split
    fraction = 0.25 if per_user else 0.2
    train, _test = split(ratings, test_fraction=fraction, seed=42)
    fit_part, validation = split(train, test_fraction=fraction, seed=7)
    fit_part, validation = fit_part.cache(), validation.cache()

    def score(params: als.AlsParams) -> dict:
        started = time.perf_counter()
        report = evaluate.ranking_report(als.fit_als(fit_part, params), fit_part, validation)
        row = {"dataset": name, **params.as_dict(), **report["als"], "seconds": time.perf_counter() - started}
        out.write(json.dumps(row) + "\n")
        out.flush()
        print(f"{name} r{params.rank} reg{params.reg_param} a{params.alpha} it{params.max_iter}: {row['ndcg']:.4f}")
        return row

    base = als.AlsParams()
    rows = [
        score(replace(base, **dict(zip(AXES, values, strict=True)))) for values in itertools.product(*AXES.values())
    ]
    best = sorted(rows, key=lambda r: -r["ndcg"])[:1]
    for row in best:
        for it in ITERATIONS:
            if it != row["max_iter"]:
                score(replace(base, rank=row["rank"], reg_param=row["reg_param"], alpha=row["alpha"], max_iter=it))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="ml-100k,bundled")
    parser.add_argument("--out", type=Path, default=Path("/tmp/movierec-tune-study.jsonl"))
    args = parser.parse_args()
    settings = Settings()
    spark = build_session(settings.spark_master, settings.spark_driver_memory, app_name="movierec-tune-study")
    spark.sparkContext.setCheckpointDir("/tmp/movierec-tune-study-ckpt")
    with args.out.open("a") as out:
        for name, (folder, per_user) in folders(args.datasets.split(",")).items():
            study(spark, name, folder, per_user, out)
    spark.stop()


if __name__ == "__main__":
    main()
