"""The README's quality floors, asserted (not only printed by benchmarks/quality.py).

Bundled ml-latest-small, random 80/20 split (seed 42), the served default parameters: the
rating model's RMSE at most 0.87, and the served implicit model's NDCG@10 at least 20% above
the popularity baseline (measured: 0.849 and 76% above, README "Model quality").
"""

import pytest

from movierec.pipeline import als, clean, evaluate
from movierec.pipeline.load import load_movielens
from tests.conftest import BUNDLED

RMSE_FLOOR = 0.87
NDCG_LIFT_FLOOR = 1.20


@pytest.mark.spark
@pytest.mark.slow
def test_served_defaults_meet_the_quality_floors(spark, tmp_path):
    # ALS checkpoints every 5 iterations; without a directory its lineage overflows the JVM stack.
    spark.sparkContext.setCheckpointDir(str(tmp_path / "checkpoints"))
    ratings, _ = clean.clean_ratings(load_movielens(spark, BUNDLED).ratings)
    train, test = evaluate.random_split(ratings.cache(), test_fraction=0.2, seed=42)
    train, test = train.cache(), test.cache()

    errors = evaluate.rating_errors(als.fit_biased_als(train, als.EXPLICIT_DEFAULTS), test)
    ranking = evaluate.ranking_report(als.fit_als(train, als.AlsParams()), train, test)

    assert errors["rmse"] <= RMSE_FLOOR, errors
    assert ranking["als"]["ndcg"] >= NDCG_LIFT_FLOOR * ranking["popularity"]["ndcg"], ranking
