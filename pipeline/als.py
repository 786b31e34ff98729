"""ALS training (pyspark.ml) and the vectors the search engine serves."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from pyspark.ml.functions import array_to_vector, vector_to_array
from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.ml.stat import Summarizer
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from movierec.pipeline.params import (  # noqa: F401  (re-exported: als.AlsParams)
    EXPLICIT_DEFAULTS,
    AlsParams,
    served_because,
)
from movierec.search.domain import LIKED_MIN_RATING  # "liked" for the audience vector, pipeline and API

# Damping of the baseline biases (Koren's shrinkage): a movie with few ratings keeps a small bias.
ITEM_BIAS_DAMPING = 5.0
USER_BIAS_DAMPING = 10.0


def fit_als(ratings: DataFrame, params: AlsParams) -> ALSModel:
    als = ALS(
        userCol="userId",
        itemCol="movieId",
        ratingCol="rating",
        rank=params.rank,
        regParam=params.reg_param,
        maxIter=params.max_iter,
        implicitPrefs=params.implicit,
        alpha=params.alpha,
        seed=params.seed,
        coldStartStrategy="drop",
        # Long ALS lineages overflow the stack without checkpoints (needs a checkpoint dir).
        checkpointInterval=5,
    )
    return als.fit(ratings)


@dataclass
class BiasedAls:
    """Rating prediction = global mean + user bias + item bias + ALS on the residuals.

    Spark's ALS has no bias terms; taking the baselines out first lets the factors model taste
    instead of "this user rates high", which lowers RMSE (README: 0.870 -> 0.849 on ml-latest-small).
    """

    mean: float
    item_bias: DataFrame
    user_bias: DataFrame
    model: ALSModel

    def transform(self, df: DataFrame) -> DataFrame:
        with_bias = df.join(self.item_bias, "movieId", "left").join(self.user_bias, "userId", "left")
        with_bias = with_bias.fillna(0.0, ["item_bias", "user_bias"])
        predicted = self.model.transform(with_bias)
        return predicted.withColumn(
            "prediction", F.col("prediction") + F.lit(self.mean) + F.col("item_bias") + F.col("user_bias")
        ).drop("item_bias", "user_bias")


def fit_biased_als(ratings: DataFrame, params: AlsParams) -> BiasedAls:
    mean = ratings.agg(F.avg("rating")).first()[0]
    item_bias = ratings.groupBy("movieId").agg(
        (F.sum(F.col("rating") - mean) / (F.count("*") + ITEM_BIAS_DAMPING)).alias("item_bias")
    )
    with_item = ratings.join(item_bias, "movieId")
    user_bias = with_item.groupBy("userId").agg(
        (F.sum(F.col("rating") - mean - F.col("item_bias")) / (F.count("*") + USER_BIAS_DAMPING)).alias("user_bias")
    )
    residuals = with_item.join(user_bias, "userId").select(
        "userId", "movieId", (F.col("rating") - mean - F.col("item_bias") - F.col("user_bias")).alias("rating")
    )
    model = fit_als(residuals, replace(params, implicit=False))
    return BiasedAls(mean, item_bias.cache(), user_bias.cache(), model)


def item_factors(model: ALSModel) -> DataFrame:
    return model.itemFactors.select(F.col("id").alias("movieId"), F.col("features").alias("item_vector"))


def user_factors(model: ALSModel) -> DataFrame:
    return model.userFactors.select(F.col("id").alias("userId"), F.col("features").alias("user_vector"))


def users_mean(users: DataFrame) -> np.ndarray:
    """The mean of all users' vectors: the audience vectors' baseline (in the model card, for the API's
    live audience updates)."""
    return users.select(Summarizer.mean(array_to_vector("user_vector")).alias("m")).first()["m"].toArray()


def audience_vectors(
    ratings: DataFrame, users: DataFrame, *, min_rating: float = LIKED_MIN_RATING, overall: np.ndarray | None = None
) -> DataFrame:
    """movieId, audience_vector, audience_size: "people who liked this also liked".

    The vector is the mean factor vector of the users who liked the movie minus the mean of all
    users, so its inner product with an item vector is the *lift*: how much more this audience is
    predicted to like the item than users in general. Without the subtraction a big audience
    (Toy Story's) scores like everyone and gets the all-time most popular movies back.
    """
    overall = users_mean(users) if overall is None else overall  # the caller may have it (a job less)
    liked = ratings.where(F.col("rating") >= min_rating).join(users, "userId")
    means = liked.groupBy("movieId").agg(
        vector_to_array(Summarizer.mean(array_to_vector("user_vector"))).alias("liked_mean"),
        F.count("*").alias("audience_size"),
    )
    baseline = F.array(*[F.lit(float(x)) for x in overall])
    return means.select(
        "movieId",
        F.zip_with("liked_mean", baseline, lambda a, b: a - b).cast("array<float>").alias("audience_vector"),
        "audience_size",
    )


def pca_2d(matrix: np.ndarray) -> np.ndarray:
    """(n, 2): the rows projected on the two principal axes of their covariance, as Spark ML's PCA does
    (axes of the centred rows; the rows themselves projected uncentred). Each axis's largest component
    is made positive (an axis's sign is arbitrary), so a run is reproducible."""
    if matrix.shape[0] < 2 or matrix.shape[1] < 2:
        return np.zeros((matrix.shape[0], 2))
    _, axes = np.linalg.eigh(np.cov(matrix, rowvar=False))
    axes = axes[:, ::-1][:, :2]  # eigh sorts ascending
    axes = axes * np.sign(axes[np.abs(axes).argmax(axis=0), [0, 1]])
    return matrix @ axes


def embedding_2d(spark: SparkSession, ids: list[int], matrix: np.ndarray) -> DataFrame:
    """movieId, embedding_x, embedding_y: a PCA projection of the item factors for the Kibana map, on the
    driver from the factors the train stage collected (Spark's PCA was 4 jobs, 2-5 s on the bundled data)."""
    xy = pca_2d(matrix) if len(ids) else np.zeros((0, 2))
    rows = [(int(i), float(x), float(y)) for i, (x, y) in zip(ids, xy, strict=True)]
    return spark.createDataFrame(rows, "movieId int, embedding_x double, embedding_y double")
