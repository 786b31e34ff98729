"""Held-out evaluation: rating error and top-k ranking quality against a popularity baseline."""

from __future__ import annotations

from typing import Any

import numpy as np
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.recommendation import ALSModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from movierec.pipeline.metrics import ranking_metrics, top_k_excluding


def random_split(ratings: DataFrame, *, test_fraction: float = 0.2, seed: int = 42) -> tuple[DataFrame, DataFrame]:
    train, test = ratings.randomSplit([1 - test_fraction, test_fraction], seed=seed)
    return train.cache(), test.cache()


def per_user_split(ratings: DataFrame, *, test_fraction: float = 0.25, seed: int = 42) -> tuple[DataFrame, DataFrame]:
    """Each user's ratings split at random: every user is in both parts (Microsoft Recommenders' protocol)."""
    by_user = Window.partitionBy("userId").orderBy(F.rand(seed))
    ranked = ratings.withColumn("_pos", F.percent_rank().over(by_user))
    train = ranked.where(F.col("_pos") < 1 - test_fraction).drop("_pos")
    test = ranked.where(F.col("_pos") >= 1 - test_fraction).drop("_pos")
    return train.cache(), test.cache()


def rating_errors(model: Any, test: DataFrame) -> dict[str, float]:
    """RMSE and MAE of anything with `transform(df) -> df[prediction]` (ALSModel, BiasedAls)."""
    predictions = model.transform(test)
    rmse = RegressionEvaluator(metricName="rmse", labelCol="rating", predictionCol="prediction").evaluate(predictions)
    mae = RegressionEvaluator(metricName="mae", labelCol="rating", predictionCol="prediction").evaluate(predictions)
    return {"rmse": rmse, "mae": mae}


def _items_by_user(df: DataFrame) -> dict[int, np.ndarray]:
    rows = df.groupBy("userId").agg(F.collect_list("movieId").alias("items")).collect()
    return {row["userId"]: np.array(row["items"], dtype=np.int64) for row in rows}


def ranking_report(
    model: ALSModel, train: DataFrame, test: DataFrame, *, k: int = 10, max_users: int = 20_000, seed: int = 42
) -> dict[str, dict[str, float]]:
    """ALS and popularity top-k over every item the user did not rate in training; relevant = test items.

    Large sets are scored on a seeded sample of `max_users` test users (all of them below that)."""
    popularity_source = train
    test_users = test.select("userId").distinct()
    n_users = test_users.count()
    if n_users > max_users:
        sample = test_users.sample(fraction=max_users / n_users, seed=seed)
        train = train.join(sample, "userId", "left_semi")
        test = test.join(sample, "userId", "left_semi")
    items = model.itemFactors.orderBy("id").collect()
    item_ids = np.array([row["id"] for row in items])
    item_vectors = np.array([row["features"] for row in items], dtype=np.float32)
    position = {int(item): i for i, item in enumerate(item_ids)}
    users = {row["id"]: row["features"] for row in model.userFactors.collect()}
    seen = _items_by_user(train)
    relevant_by_user = _items_by_user(test)
    user_ids = [u for u in relevant_by_user if u in users]

    exclude = [np.array([position[i] for i in seen.get(u, ()) if i in position], dtype=np.int64) for u in user_ids]
    relevant = [{int(i) for i in relevant_by_user[u]} for u in user_ids]
    user_matrix = np.array([users[u] for u in user_ids], dtype=np.float32)
    als_top = item_ids[top_k_excluding(user_matrix, item_vectors, exclude, k)]

    counts = {row["movieId"]: row["count"] for row in popularity_source.groupBy("movieId").count().collect()}
    popularity = np.array([[counts.get(int(i), 0) for i in item_ids]], dtype=np.float32).T
    popular_top = item_ids[top_k_excluding(np.ones((len(user_ids), 1), np.float32), popularity, exclude, k)]
    return {
        "als": ranking_metrics(als_top.tolist(), relevant, k),
        "popularity": ranking_metrics(popular_top.tolist(), relevant, k),
    }
